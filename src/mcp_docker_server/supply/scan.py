"""Vulnerability scanning, delegated to Trivy or Grype: their argv (JSON out, the image read from
the engine, an operator's offline database honoured) and their reports summarised. Pure."""

from __future__ import annotations

import json
from collections.abc import Iterator

from mcp_docker_server.results.security import VulnRow, VulnSummary
from mcp_docker_server.results.shaping import clean_text, truncate

__all__ = ["SCANNERS", "SCANNER_INSTALL", "scanner_command", "summarize_report"]

SCANNERS = ("trivy", "grype")
SCANNER_INSTALL = (
    "install Trivy (aquasecurity/trivy: a single binary, or the `trivy` package from Aqua's apt "
    "repository) or Grype (anchore/grype: a single binary) on the server's PATH, then scan again; "
    "on a machine without internet the operator points vulnerability_db (MCP_DOCKER_VULNERABILITY_DB) "
    "at a downloaded database"
)
_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN")
_TOP = 10


def scanner_command(scanner: str, binary: str, ref: str, db: str | None) -> tuple[list[str], dict[str, str]]:
    """(argv, extra environment) that scan the local image ``ref`` and print JSON."""
    if scanner == "trivy":
        argv = [binary, "image", "--format", "json", "--quiet", "--scanners", "vuln", "--image-src", "docker"]
        if db:
            # The cache folder holds db/trivy.db: use it as it is, never download.
            argv += ["--cache-dir", db, "--skip-db-update", "--skip-java-db-update", "--offline-scan"]
        return [*argv, "--", ref], {}
    env = {"GRYPE_CHECK_FOR_APP_UPDATE": "false"}
    if db:
        env.update(
            {"GRYPE_DB_CACHE_DIR": db, "GRYPE_DB_AUTO_UPDATE": "false", "GRYPE_DB_VALIDATE_AGE": "false"}
        )
    return [binary, "-o", "json", "-q", "--", f"docker:{ref}"], env


def summarize_report(scanner: str, stdout: str) -> VulnSummary:
    """Counts by severity and the most severe vulnerabilities that have a fixed version.

    Raises:
        ValueError: the output is not the scanner's JSON report.
    """
    report = json.loads(stdout)
    if not isinstance(report, dict):
        raise ValueError("not a JSON object")
    rows = list(_trivy(report) if scanner == "trivy" else _grype(report))
    by_severity: dict[str, int] = {}
    for row in rows:
        by_severity[row.severity] = by_severity.get(row.severity, 0) + 1
    fixable = [row for row in rows if row.fixed]
    fixable.sort(key=lambda r: (_rank(r.severity), r.id))
    unique: dict[tuple[str, str], VulnRow] = {}
    for row in fixable:
        unique.setdefault((row.id, row.package), row)
    return VulnSummary(
        scanner=scanner,
        by_severity=dict(sorted(by_severity.items(), key=lambda kv: _rank(kv[0]))),
        total=len(rows),
        fixable=len(fixable),
        top_fixable=list(unique.values())[:_TOP],
    )


def _rank(severity: str) -> int:
    return _ORDER.index(severity) if severity in _ORDER else len(_ORDER)


def _row(vuln_id: object, severity: object, package: object, installed: object, fixed: object) -> VulnRow:
    return VulnRow(
        id=_text(vuln_id, 40),
        severity=_text(severity, 12).upper() or "UNKNOWN",
        package=_text(package, 80),
        installed=_text(installed, 60),
        fixed=_text(fixed, 80),
    )


def _trivy(report: dict[str, object]) -> Iterator[VulnRow]:
    results = report.get("Results")
    for result in results if isinstance(results, list) else []:
        vulns = result.get("Vulnerabilities") if isinstance(result, dict) else None
        for vuln in vulns if isinstance(vulns, list) else []:
            if isinstance(vuln, dict):
                yield _row(
                    vuln.get("VulnerabilityID"),
                    vuln.get("Severity"),
                    vuln.get("PkgName"),
                    vuln.get("InstalledVersion"),
                    vuln.get("FixedVersion"),
                )


def _grype(report: dict[str, object]) -> Iterator[VulnRow]:
    matches = report.get("matches")
    for match in matches if isinstance(matches, list) else []:
        if not isinstance(match, dict):
            continue
        vuln = match.get("vulnerability") or {}
        artifact = match.get("artifact") or {}
        if not isinstance(vuln, dict) or not isinstance(artifact, dict):
            continue
        fix = vuln.get("fix") or {}
        versions = fix.get("versions") if isinstance(fix, dict) and fix.get("state") == "fixed" else None
        yield _row(
            vuln.get("id"),
            vuln.get("severity"),
            artifact.get("name"),
            artifact.get("version"),
            ", ".join(str(v) for v in versions) if isinstance(versions, list) else "",
        )


def _text(value: object, limit: int) -> str:
    return truncate(clean_text(str(value or "")).replace("\n", " "), limit)[0]

"""Pure supply-chain logic: lint rules, the audit, references and pinning, policy keys, cosign
argv and verdicts, package databases, the CycloneDX document, scanner reports."""

from __future__ import annotations

import datetime
import gzip
import json
from pathlib import Path

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from mcp_docker_server.errors import ConfigError, PolicyDenied
from mcp_docker_server.policy import Policy, check_pinned, digest_pinned, load_policy
from mcp_docker_server.results.security import HistoryEntry, ImageFacts, level_counts
from mcp_docker_server.supply.audit import audit_image, biggest_layers, summarize
from mcp_docker_server.supply.lint import dockerfile_checks, parse_hadolint
from mcp_docker_server.supply.packages import Package, find_packages, os_release, wanted
from mcp_docker_server.supply.refs import pinned_reference, repository_of
from mcp_docker_server.supply.rpmdb import read_rpm_sqlite
from mcp_docker_server.supply.sbom import build_bom, summarize_bom
from mcp_docker_server.supply.scan import scanner_command, summarize_report
from mcp_docker_server.supply.signing import cosign_argv, cosign_verdict

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "supply"
SECRET = "ghp_" + "u" * 36
DIGEST = "sha256:" + "ab" * 32
NOW = datetime.datetime(2026, 11, 25, tzinfo=datetime.UTC)

# --------------------------------------------------------------------------- lint


def test_hadolint_json_becomes_findings_with_fixes() -> None:
    out = json.dumps(
        [
            {"code": "DL3008", "level": "warning", "line": 4, "message": "Pin versions\x1b[31m", "column": 1},
            {"code": "SC2086", "level": "info", "line": 5, "message": "Double quote", "column": 1},
            {"code": "DL9999", "level": "bogus", "line": None, "message": "new rule"},
        ]
    )
    first, second, third = parse_hadolint(out)
    assert (first.rule, first.level, first.line, first.message) == (
        "DL3008",
        "warning",
        4,
        "Pin versions",
    )
    assert first.fix.startswith("pin versions")
    assert second.fix == "see https://www.shellcheck.net/wiki/SC2086"
    assert (third.level, third.line, third.fix) == (
        "warning",
        None,
        "see https://github.com/hadolint/hadolint/wiki/DL9999",
    )
    with pytest.raises(ValueError, match="JSON list"):
        parse_hadolint('{"not": "a list"}')


def test_own_checks_find_secret_values_remote_add_and_key_files_without_echoing_secrets() -> None:
    text = (
        "FROM alpine:3.20 AS build\n"
        "USER app\n"
        "FROM alpine:3.20\n"
        f"ENV HARMLESS_NAME={SECRET}\n"
        "RUN apk add --no-cache curl && \\\n"
        f"    curl -H 'Authorization: token {SECRET}' https://x.example\n"
        "ADD https://example.com/a.tgz /opt/\n"
        "ADD --checksum=sha256:00 https://example.com/b.tgz /opt/\n"
        'COPY ["id_ed25519", "/root/.ssh/"]\n'
        "COPY .env.production app.py /app/\n"
    )
    findings = dockerfile_checks(text)
    rules = [(f.rule, f.line) for f in findings]
    assert ("MCPD001", 4) in rules
    assert ("MCPD001", 5) in rules  # a continued RUN reports its first line
    assert ("MCPD002", 7) in rules
    assert ("MCPD002", 8) not in rules  # a checksum pins the download
    assert ("MCPD003", 9) in rules
    assert ("MCPD003", 10) in rules
    assert ("MCPD004", None) in rules  # USER app was in the first stage only
    assert ("MCPD005", None) in rules
    assert SECRET not in json.dumps([f.model_dump() for f in findings])
    assert level_counts(findings) == {"error": 4, "warning": 2, "info": 1}


def test_own_checks_defer_to_hadolint_on_a_secret_named_env_line() -> None:
    hadolint = parse_hadolint(json.dumps([{"code": "DL3064", "level": "warning", "line": 2, "message": "m"}]))
    text = f"FROM busybox:1\nENV API_TOKEN={SECRET}\nUSER 1000\nHEALTHCHECK CMD true\n"
    assert dockerfile_checks(text, hadolint) == []
    assert [f.rule for f in dockerfile_checks(text)] == ["MCPD001"]


# --------------------------------------------------------------------------- audit


def _facts(**changes: object) -> ImageFacts:
    base: dict[str, object] = {
        "id": "sha256:" + "1" * 64,
        "tags": ("app:1",),
        "digests": (),
        "created": "2026-11-20T10:00:00.123456789Z",
        "size_bytes": 5_000_000,
        "user": "app",
        "env": ("PATH=/usr/bin",),
        "labels": {"org.opencontainers.image.base.name": "docker.io/library/debian:12"},
        "exposed_ports": ("8080/tcp",),
        "healthcheck": ("CMD", "true"),
        "layers": 2,
        "history": (
            HistoryEntry("/bin/sh -c apt-get install big", 4_000_000, 0, None),
            HistoryEntry("/bin/sh -c #(nop) ADD file:abc in / ", 1_000_000, 0, None),
        ),
    }
    base.update(changes)
    return ImageFacts(**base)  # type: ignore[arg-type]


def test_a_careful_image_has_no_findings_and_names_its_base() -> None:
    facts = _facts()
    assert audit_image(facts, NOW) == []
    summary = summarize(facts, NOW)
    assert (summary.base, summary.age_days, summary.user) == ("docker.io/library/debian:12", 4, "app")
    assert [row.size_bytes for row in biggest_layers(facts)] == [4_000_000, 1_000_000]
    assert biggest_layers(facts)[0].created_by == "RUN apt-get install big"


def test_audit_ranks_old_root_images_with_secrets_and_disabled_healthchecks() -> None:
    facts = _facts(
        user="0:0",
        created="2025-01-01T00:00:00Z",
        env=("DB_PASSWORD=x", "EMPTY_TOKEN=", f"NOTE={SECRET}"),
        labels={"deploy": f"token={SECRET}"},
        healthcheck=("NONE",),
        exposed_ports=("2375/tcp",),
        size_bytes=2_000_000_000,
    )
    findings = audit_image(facts, NOW)
    assert [(f.rule, f.where) for f in findings] == [
        ("MCPA002", "env DB_PASSWORD"),
        ("MCPA002", "env NOTE"),
        ("MCPA003", "label deploy"),
        ("MCPA001", "config User"),
        ("MCPA005", "exposed port 2375/tcp"),
        ("MCPA007", "created"),
        ("MCPA006", "config Healthcheck"),
        ("MCPA009", "size"),
    ]
    assert findings[-2].message == "no healthcheck (disabled)"
    assert SECRET not in json.dumps([f.model_dump() for f in findings])
    assert summarize(facts, NOW).base == "root filesystem: ADD file:abc in /"  # no base label


# --------------------------------------------------------------------------- references and policy


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        (f"busybox@{DIGEST}", True),
        (f"127.0.0.1:5000/app:v1@{DIGEST}", True),
        ("1" * 64, True),
        ("sha256:" + "1" * 64, True),
        ("busybox:1.36", False),
        ("busybox", False),
        ("1" * 12, False),
        (f"busybox@{DIGEST[:-1]}", False),
        ("(build of web)", False),
    ],
)
def test_digest_pinned(image: str, pinned: bool) -> None:
    assert digest_pinned(image) is pinned


def test_require_digest_refuses_tags_and_builds_only_when_set() -> None:
    check_pinned(Policy(), "busybox:1")
    strict = Policy(require_digest=True)
    check_pinned(strict, f"busybox@{DIGEST}")
    with pytest.raises(PolicyDenied, match="named by tag") as denied:
        check_pinned(strict, "busybox:1")
    assert denied.value.setting == "require_digest = false"
    with pytest.raises(PolicyDenied, match="compose service web builds its image"):
        check_pinned(strict, "(build of web)")


def test_references_lose_their_tag_when_pinned() -> None:
    assert repository_of("127.0.0.1:5000/team/app:v1") == "127.0.0.1:5000/team/app"
    assert repository_of("127.0.0.1:5000/app") == "127.0.0.1:5000/app"
    assert repository_of(f"busybox:1@{DIGEST}") == "busybox"
    assert pinned_reference("busybox:1.36", DIGEST) == f"busybox@{DIGEST}"


def test_policy_keys_and_environment_overrides(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(
        '[supply]\nrequire_digest = true\ncosign_identity = "ci@example.com"\n'
        'cosign_issuer = "https://token.actions.example"\nvulnerability_db = "/srv/trivy"\n'
    )
    policy = load_policy(str(file), {"MCP_DOCKER_REQUIRE_SIGNATURE": "yes"})
    assert (policy.require_digest, policy.require_signature, policy.vulnerability_db) == (
        True,
        True,
        "/srv/trivy",
    )
    assert load_policy(None, {"MCP_DOCKER_REQUIRE_DIGEST": "1"}).require_digest is True
    with pytest.raises(ConfigError, match="not a boolean"):
        load_policy(None, {"MCP_DOCKER_REQUIRE_DIGEST": "sure"})
    with pytest.raises(ConfigError, match="no cosign_key and no cosign_identity"):
        load_policy(None, {"MCP_DOCKER_REQUIRE_SIGNATURE": "1"})
    with pytest.raises(ConfigError, match="needs both"):
        load_policy(None, {"MCP_DOCKER_COSIGN_IDENTITY": "ci@example.com"})


def test_cosign_argv_and_verdicts() -> None:
    keyed = cosign_argv("/usr/bin/cosign", Policy(cosign_key="/etc/cosign.pub"), f"r/app@{DIGEST}")
    assert keyed == [
        "/usr/bin/cosign",
        "verify",
        "--output",
        "json",
        "--key",
        "/etc/cosign.pub",
        "--",
        f"r/app@{DIGEST}",
    ]
    keyless = cosign_argv("cosign", Policy(cosign_identity="me@x", cosign_issuer="https://i"), "r@d")
    assert keyless[4:8] == ["--certificate-identity", "me@x", "--certificate-oidc-issuer", "https://i"]
    assert cosign_verdict(0, '[{"critical": {}}, {"critical": {}}]', "") == (True, "2 valid signatures")
    assert cosign_verdict(1, "", "Error: no matching signatures:\n\x1b[0m") == (
        False,
        "no matching signatures:",
    )
    assert cosign_verdict(2, "", "") == (False, "cosign exited 2")


# --------------------------------------------------------------------------- packages and SBOM


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("var/lib/dpkg/status", True),
        ("var/lib/dpkg/status.d/libc6", True),
        ("var/lib/dpkg/status.d/libc6.md5sums", False),
        ("lib/apk/db/installed", True),
        ("var/lib/rpm/rpmdb.sqlite", True),
        ("var/lib/rpm/Packages", True),
        ("usr/lib/python3.12/site-packages/requests-2.32.3.dist-info/METADATA", True),
        ("opt/app/foo.egg-info/PKG-INFO", True),
        ("usr/lib/python3/dist-packages/x.dist-info/RECORD", False),
        ("app/node_modules/express/package.json", True),
        ("app/node_modules/@types/node/package.json", True),
        ("app/node_modules/express/lib/package.json", False),
        ("app/package.json", False),
        ("etc/os-release", True),
        ("etc/passwd", False),
    ],
)
def test_wanted_files(path: str, kept: bool) -> None:
    assert wanted(path) is kept


def test_package_databases_are_read() -> None:
    rpmdb = gzip.decompress((FIXTURES / "sbom" / "rpmdb.sqlite.gz").read_bytes())
    files = {
        "var/lib/dpkg/status": (FIXTURES / "sbom/rootfs/var/lib/dpkg/status").read_bytes(),
        "var/lib/dpkg/status.d/tini": b"Package: tini\nVersion: 0.19.0-1\nArchitecture: amd64\n"
        b"Description: tiny init\n multi-line continuation\n",
        "lib/apk/db/installed": (FIXTURES / "sbom/rootfs/lib/apk/db/installed").read_bytes(),
        "var/lib/rpm/rpmdb.sqlite": rpmdb,
        "usr/lib/sysimage/rpm/rpmdb.sqlite": b"garbage",
        "var/lib/rpm/Packages": b"\x00\x06\x15\x61",
        "x/y-1.0.dist-info/METADATA": b"Metadata-Version: 2.4\nName: Y_Pkg\nVersion: 1.0\n"
        b"License-Expression: MIT OR Apache-2.0\n\nName: not-a-header\n",
        "a/node_modules/bad/package.json": b"{not json",
        "a/node_modules/noversion/package.json": b'{"name": "noversion"}',
        "etc/os-release": b'ID=fedora\nVERSION_ID="40"\nPRETTY_NAME="Fedora Linux 40"\n',
    }
    packages, not_read = find_packages(files)
    names = {(p.ecosystem, p.name, p.version) for p in packages}
    assert ("deb", "tini", "0.19.0-1") in names
    assert ("deb", "old-removed", "0.1-1") not in names
    assert {("rpm", "mcpd-demo", "1.2.3-4"), ("rpm", "mcpd-tool", "0.9-4")} <= names
    assert ("apk", "musl", "1.2.5-r0") in names
    assert ("pypi", "Y_Pkg", "1.0") in names
    assert len(packages) == 4 + 1 + 2 + 2 + 1
    assert [n.split(" (")[0] for n in not_read] == [
        "/usr/lib/sysimage/rpm/rpmdb.sqlite",
        "/var/lib/rpm/Packages",
    ]
    assert os_release(files)["ID"] == "fedora"
    with pytest.raises(ValueError, match="not an rpm SQLite database"):
        read_rpm_sqlite(b"SQLite format 3\x00" + b"\x00" * 100)


def test_bom_is_valid_cyclonedx_deduplicated_and_cleaned() -> None:
    packages = [
        Package("deb", "bash", "5.2-1", arch="amd64"),
        Package("deb", "bash", "5.2-1", arch="amd64"),
        Package("npm", "@scope/lib", "1.0.0", license="MIT", path="/app/node_modules/@scope/lib"),
        Package("pypi", "Foo_Bar", "2.0", license="BSD-3-Clause OR MIT", path="/x"),
        Package("rpm", "zlib", "1.3-1", arch="x86_64", epoch="1", license="zlib and \x1b[31mBoost"),
    ]
    document = build_bom("app:1", "sha256:" + "2" * 64, packages, {"ID": "Fedora", "VERSION_ID": "40"})
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None
    data = json.loads(document)
    purls = [c.get("purl") for c in data["components"]]
    assert purls.count("pkg:deb/fedora/bash@5.2-1?arch=amd64") == 1
    assert "pkg:npm/%40scope/lib@1.0.0" in purls
    assert "pkg:pypi/foo-bar@2.0" in purls
    assert "pkg:rpm/fedora/zlib@1.3-1?arch=x86_64&epoch=1" in purls
    assert "\x1b" not in document
    summary = summarize_bom(document, ["/var/lib/rpm/Packages (not read)"], None)
    assert summary.components == 4
    assert summary.by_type == {"deb": 1, "npm": 1, "pypi": 1, "rpm": 1}
    assert summary.os == "fedora"
    assert data["dependencies"][0]["ref"]


# --------------------------------------------------------------------------- scanners


def test_scanner_commands_honour_an_offline_database() -> None:
    argv, env = scanner_command("trivy", "/bin/trivy", "app:1", "/srv/trivy")
    assert argv[-2:] == ["--", "app:1"]
    assert "--skip-db-update" in argv
    assert argv[argv.index("--cache-dir") + 1] == "/srv/trivy"
    assert env == {}
    argv, env = scanner_command("grype", "/bin/grype", "app:1", "/srv/grype")
    assert argv[-1] == "docker:app:1"
    assert env["GRYPE_DB_CACHE_DIR"] == "/srv/grype"
    assert env["GRYPE_DB_AUTO_UPDATE"] == "false"
    assert "GRYPE_DB_CACHE_DIR" not in scanner_command("grype", "g", "a", None)[1]


def test_scanner_reports_are_summarised_by_severity_with_top_fixable() -> None:
    trivy = {
        "Results": [
            {
                "Target": "debian",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-1",
                        "PkgName": "a",
                        "InstalledVersion": "1",
                        "FixedVersion": "2",
                        "Severity": "LOW",
                    },
                    {
                        "VulnerabilityID": "CVE-2",
                        "PkgName": "b",
                        "InstalledVersion": "1",
                        "FixedVersion": "",
                        "Severity": "CRITICAL",
                    },
                    {
                        "VulnerabilityID": "CVE-3",
                        "PkgName": "c",
                        "InstalledVersion": "1",
                        "FixedVersion": "1.1",
                        "Severity": "HIGH",
                    },
                ],
            },
            {"Target": "python", "Vulnerabilities": None},
        ]
    }
    summary = summarize_report("trivy", json.dumps(trivy))
    assert summary.by_severity == {"CRITICAL": 1, "HIGH": 1, "LOW": 1}
    assert (summary.total, summary.fixable) == (3, 2)
    assert [r.id for r in summary.top_fixable] == ["CVE-3", "CVE-1"]
    grype = {
        "matches": [
            {
                "vulnerability": {
                    "id": "GHSA-1",
                    "severity": "Medium",
                    "fix": {"versions": ["3.0"], "state": "fixed"},
                },
                "artifact": {"name": "requests", "version": "2.0"},
            },
            {
                "vulnerability": {
                    "id": "CVE-9",
                    "severity": "Negligible",
                    "fix": {"versions": [], "state": "not-fixed"},
                },
                "artifact": {"name": "libx", "version": "1"},
            },
        ]
    }
    summary = summarize_report("grype", json.dumps(grype))
    assert summary.by_severity == {"MEDIUM": 1, "NEGLIGIBLE": 1}
    assert summary.top_fixable[0].fixed == "3.0"
    with pytest.raises(ValueError, match="Expecting value"):
        summarize_report("trivy", "no json")

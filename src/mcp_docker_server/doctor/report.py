"""What `doctor` found, and its two renderings: compact text for people, JSON for machines.

Pure: no I/O. Every value shown here was chosen by the checks to be safe to print (names,
paths, versions, "set"/"not set"); no secret value ever reaches a :class:`Line`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

__all__ = ["EngineProbe", "Line", "Report", "render_json", "render_text"]

# ok: fine; warn: worth knowing, the server still works; fail: something will not work (exit 1);
# info: a fact (the policy), no judgement.
Status = Literal["ok", "warn", "fail", "info"]
_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "info": "    "}


@dataclass(frozen=True)
class Line:
    """One finding; a ``fail`` or ``warn`` carries the fix."""

    section: str
    status: Status
    text: str
    fix: str | None = None


@dataclass(frozen=True)
class EngineProbe:
    """One engine as the doctor reached it, or failed to."""

    name: str
    host: str
    transport: str  # unix, tcp, tls, tls-noverify, ssh
    source: str  # DOCKER_HOST, context <name>, default, engines file
    default: bool
    read_only: bool
    elapsed_ms: int
    reachable: bool
    engine_version: str | None = None
    api_version: str | None = None
    os_arch: str | None = None
    error: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class Report:
    """Everything the doctor found, in the order it is shown."""

    version: str
    budget_s: float
    engines: tuple[EngineProbe, ...]
    lines: tuple[Line, ...]
    policy: dict[str, object] = field(default_factory=dict)

    @property
    def problems(self) -> int:
        """Findings that make the exit code non-zero."""
        return sum(not e.reachable for e in self.engines) + sum(ln.status == "fail" for ln in self.lines)

    @property
    def ok(self) -> bool:
        """No problem at all."""
        return self.problems == 0


def render_text(report: Report) -> str:
    """Compact text: one line per finding, the fix right under each problem."""
    out = [f"mcp-docker-server {report.version} doctor"]
    from_file = any(e.source.startswith("engines file") for e in report.engines)
    origin = ", from MCP_DOCKER_ENGINES_FILE" if from_file else ""
    out.append(
        f"engines ({len(report.engines)}{origin}; probed in parallel, {report.budget_s:g} s budget each)"
    )
    for probe in report.engines:
        out.extend(_engine_lines(probe))
    section = ""
    for line in report.lines:
        if line.section != section:
            section = line.section
            out.append(section)
        out.append(f"  {_MARK[line.status]}  {line.text}")
        if line.fix and line.status in ("fail", "warn"):
            out.append(f"        fix: {line.fix}")
    warned = sum(ln.status == "warn" for ln in report.lines)
    summary = "all fine" if report.ok else f"{report.problems} problem(s)"
    if warned:
        summary += f", {warned} warning(s)"
    out.append(f"{summary}; exit {0 if report.ok else 1}")
    return "\n".join(out) + "\n"


def _engine_lines(probe: EngineProbe) -> list[str]:
    source = probe.source.removeprefix("engines file").lstrip(", ")
    source = "default socket" if source == "default" else source
    head = f"{probe.name}  {probe.transport}  {probe.host}" + (f"  ({source})" if source else "")
    tags = [t for t, on in (("default", probe.default), ("read-only", probe.read_only)) if on]
    tail = f"  {probe.elapsed_ms} ms" + (f"  [{', '.join(tags)}]" if tags else "")
    if probe.reachable:
        facts = f"engine {probe.engine_version}, API {probe.api_version}, {probe.os_arch}"
        return [f"  ok    {head}  {facts}{tail}"]
    # The address is on the line already: keep the cause.
    error = (probe.error or "").replace(f"Docker engine unreachable at {probe.host}: ", "unreachable: ")
    return [f"  FAIL  {head}  {error}{tail}", f"        fix: {probe.fix}"]


def render_json(report: Report) -> str:
    """The same findings as one JSON object."""
    data = {
        "ok": report.ok,
        "problems": report.problems,
        "version": report.version,
        "budget_s": report.budget_s,
        "engines": [asdict(e) for e in report.engines],
        "checks": [asdict(ln) for ln in report.lines if ln.status != "info"],
        "policy": report.policy,
    }
    return json.dumps(data, indent=2, sort_keys=False) + "\n"

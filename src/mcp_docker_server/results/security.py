"""What image-security hands back: compact, ranked findings and bounded summaries.

Also the plain facts the engine layer reads about an image, so the audit itself stays a pure
function of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, JsonValue

from mcp_docker_server.results._base import Compact

__all__ = [
    "LEVELS",
    "Finding",
    "HistoryEntry",
    "ImageFacts",
    "ImageSummary",
    "LayerRow",
    "Level",
    "SbomSummary",
    "SupplyResult",
    "VulnRow",
    "VulnSummary",
    "level_counts",
    "rank",
]

Level = Literal["error", "warning", "info", "style"]
LEVELS: tuple[Level, ...] = ("error", "warning", "info", "style")


class Finding(Compact):
    """One problem: where it is, what it is, and how to fix it."""

    rule: str = Field(description="hadolint DLxxxx/SCxxxx, or this server's own MCPDxxx.")
    level: Level
    line: int | None = Field(default=None, description="Dockerfile line (lint).")
    where: str | None = Field(default=None, description="The image part it was found in (audit).")
    message: str
    fix: str


class LayerRow(Compact):
    """One of the biggest layers."""

    size_bytes: int
    size: str
    created_by: str


class ImageSummary(Compact):
    """What an image is: id, names, base, age, size."""

    id: str
    tags: list[str] = Field(default_factory=list)
    digests: list[str] = Field(default_factory=list)
    base: str | None = Field(default=None, description="Base image, when a label or history names it.")
    created: str
    age_days: int | None = None
    size_bytes: int
    user: str = Field(description="The user it runs as ('' means root).")
    layers: int


class SbomSummary(Compact):
    """The package inventory in brief; the full CycloneDX document is in ``bom`` or a file."""

    components: int
    by_type: dict[str, int] = Field(description="Package counts by ecosystem (deb, apk, rpm, pypi, npm).")
    os: str | None = None
    sample: list[str] = Field(default_factory=list, description="A few name@version entries.")
    not_read: list[str] = Field(default_factory=list, description="Databases found but not readable.")
    written: str | None = Field(default=None, description="The file the CycloneDX JSON went to.")


class VulnRow(Compact):
    """One fixable vulnerability."""

    id: str
    severity: str
    package: str
    installed: str
    fixed: str


class VulnSummary(Compact):
    """A scanner's report in brief."""

    scanner: str
    by_severity: dict[str, int]
    total: int
    fixable: int
    top_fixable: list[VulnRow] = Field(default_factory=list)


class SupplyResult(Compact):
    """Result of image-security; which fields are set depends on the action."""

    action: str
    target: str
    counts: dict[str, int] | None = Field(default=None, description="Findings per level.")
    findings: list[Finding] | None = None
    image: ImageSummary | None = None
    biggest_layers: list[LayerRow] | None = None
    exposed_ports: list[str] | None = None
    digest: str | None = None
    pinned: str | None = Field(default=None, description="The digest-pinned reference to use instead.")
    source: str | None = Field(default=None, description="resolve-digest: local or registry.")
    verified: bool | None = None
    sbom: SbomSummary | None = None
    bom: dict[str, JsonValue] | None = Field(default=None, description="CycloneDX JSON, when small enough.")
    vulnerabilities: VulnSummary | None = None
    truncated: bool = False
    note: str | None = None


def level_counts(findings: list[Finding]) -> dict[str, int]:
    """Findings per level, only the levels that occur, most severe first."""
    counts: dict[str, int] = {}
    for level in LEVELS:
        if n := sum(1 for f in findings if f.level == level):
            counts[level] = n
    return counts


def rank(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by line or place (stable for equal keys)."""
    return sorted(findings, key=lambda f: (LEVELS.index(f.level), f.line or 0))


@dataclass(frozen=True)
class HistoryEntry:
    """One row of an image's history, newest first as the engine gives it."""

    created_by: str
    size_bytes: int
    created: int  # unix seconds
    layer_id: str | None  # None for layers whose image id is not local ("<missing>")


@dataclass(frozen=True)
class ImageFacts:
    """What the engine says about an image, as plain values (untrusted: cleaned before output)."""

    id: str
    tags: tuple[str, ...]
    digests: tuple[str, ...]
    created: str  # RFC 3339
    size_bytes: int
    user: str
    env: tuple[str, ...]
    labels: dict[str, str]
    exposed_ports: tuple[str, ...]
    healthcheck: tuple[str, ...] | None
    layers: int
    history: tuple[HistoryEntry, ...] = field(default=())

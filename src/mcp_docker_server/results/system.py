"""Results of the docker-system tool: engines, info, version, disk usage, events, prune."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = [
    "DiskUsage",
    "DiskUsageRow",
    "EngineRow",
    "EventRow",
    "PruneCandidate",
    "PrunePlan",
    "SystemResult",
]


class EngineRow(Compact):
    """One configured engine and whether it answers."""

    name: str
    host: str
    default: bool = False
    read_only: bool = False
    reachable: bool
    version: str | None = None
    api_version: str | None = None
    error: str | None = None


class DiskUsageRow(Compact):
    """Space used by one kind of object."""

    type: str = Field(description="images, containers, volumes or build-cache.")
    total: int
    active: int = Field(description="In use by a container (or, for build cache, by a build).")
    size: str
    size_bytes: int
    reclaimable: str
    reclaimable_bytes: int


class DiskUsage(Compact):
    """`docker system df`, with the largest items named."""

    rows: list[DiskUsageRow]
    largest: list[str] = Field(default_factory=list, description="Biggest images and volumes, 'name size'.")


class EventRow(Compact):
    """One engine event."""

    time: str
    type: str
    action: str
    actor: str = Field(description="Name (or short id) of the object.")
    attributes: dict[str, str] = Field(default_factory=dict)


class PruneCandidate(Compact):
    """Something prune would remove."""

    type: str
    name: str
    size_bytes: int = 0
    kind: str | None = Field(default=None, description="volume: anonymous or named.")


class PrunePlan(Compact):
    """What a prune removes (or, dry run, would remove) and the space it frees."""

    candidates: list[PruneCandidate]
    total_bytes: int
    total: str
    build_cache_bytes: int = 0
    removed: bool = False
    failed: list[str] = Field(default_factory=list)


class SystemResult(Compact):
    """Result of a docker-system action; one field set per action."""

    action: str
    engines: list[EngineRow] | None = None
    info: dict[str, str | int | bool | list[str]] | None = None
    version: dict[str, str] | None = None
    disk: DiskUsage | None = None
    events: list[EventRow] | None = None
    events_truncated: bool = False
    prune: PrunePlan | None = None
    note: str | None = None

"""What compose-stack returns."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = ["ComposeResult", "ComposeService", "WatchEvent", "WatchStatus"]


class ComposeService(Compact):
    """One container of a compose project."""

    service: str
    name: str
    state: str
    health: str | None = None
    exit_code: int | None = None
    ports: list[str] = Field(default_factory=list)


class WatchEvent(Compact):
    """One thing `docker compose watch` reported: ``kind`` is sync, rebuild, built, restart,
    exec, error, warning or info; ``at`` is the UTC time (HH:MM:SS)."""

    at: str
    kind: str
    text: str


class WatchStatus(Compact):
    """The watch the server runs for a project: ``state`` is running, exited (by itself: see
    ``reason``) or stopped; ``events`` are the newest, oldest first."""

    project: str
    state: str
    services: list[str] = Field(default_factory=list)
    since: str | None = None
    reason: str | None = None
    events: list[WatchEvent] = Field(default_factory=list)
    dropped: int = Field(default=0, description="Older events no longer kept.")


class ComposeResult(Compact):
    """Result of compose-stack; which fields are set depends on the action."""

    action: str
    project: str | None = None
    services: list[ComposeService] | None = Field(default=None, description="State per container.")
    config: dict[str, str] | None = Field(default=None, description="config/validate: service to image.")
    volumes: list[str] | None = None
    networks: list[str] | None = None
    output: str | None = Field(
        default=None, description="logs: the text (untrusted); else Compose's last lines."
    )
    truncated: bool = False
    note: str | None = None
    watch: WatchStatus | None = Field(default=None, description="The server's watch of the project.")

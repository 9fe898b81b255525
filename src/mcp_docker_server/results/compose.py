"""What compose-stack returns."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = ["ComposeResult", "ComposeService"]


class ComposeService(Compact):
    """One container of a compose project."""

    service: str
    name: str
    state: str
    health: str | None = None
    exit_code: int | None = None
    ports: list[str] = Field(default_factory=list)


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

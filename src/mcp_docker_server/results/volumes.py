"""What volume-management returns."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = ["VolumeDetail", "VolumeResult", "VolumeRow"]


class VolumeRow(Compact):
    """One volume in a listing."""

    name: str
    driver: str
    in_use: bool | None = Field(default=None, description="Mounted by any container (running or not).")


class VolumeDetail(VolumeRow):
    """A volume with its options and users."""

    mountpoint: str = ""
    created: str | None = None
    scope: str = "local"
    options: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    containers: list[str] = Field(default_factory=list, description="Containers that mount it.")


class VolumeResult(Compact):
    """Result of volume-management; which fields are set depends on the action."""

    action: str
    volume: VolumeDetail | None = None
    volumes: list[VolumeRow] | None = None
    removed: list[str] | None = None
    note: str | None = None

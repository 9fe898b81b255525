"""volume-management."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import ElicitationResult, Resolve
from pydantic import Field

from mcp_docker_server.results.volumes import VolumeResult
from mcp_docker_server.specs.containers import validate_name
from mcp_docker_server.specs.volumes import VolumeSpec
from mcp_docker_server.tools._confirm import Confirm, confirm_volume, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["register"]


async def volume_management(
    guard: Guard,
    name: Annotated[
        str, Field(min_length=1, max_length=128, description="Volume name; list/prune: glob, '*' = all.")
    ],
    action: Literal["create", "remove", "list", "inspect", "prune"],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_volume)],
    driver: str = "local",
    options: Annotated[
        dict[str, str] | None, Field(description="Driver options, e.g. {type, o, device} for local.")
    ] = None,
    labels: dict[str, str] | None = None,
    force: Annotated[bool, Field(description="remove: force the driver to forget it.")] = False,
    all: Annotated[
        bool, Field(description="prune: named volumes too (default: anonymous only, like docker).")
    ] = False,
) -> VolumeResult:
    """Create, remove, list, inspect or prune volumes (data persists across containers)."""
    ensure_confirmed(confirmation)
    if action == "list":
        return await guard.state.volumes.listing(name)
    if action == "inspect":
        return await guard.state.volumes.inspect(name)
    if action == "prune":
        return await guard.state.volumes.prune(name, include_named=all)
    if action == "remove":
        return await guard.state.volumes.remove(name, force=force)
    spec = VolumeSpec(
        name=validate_name(name, "volume"), driver=driver, driver_opts=options or {}, labels=labels or {}
    )
    return await guard.state.volumes.create(guard.admit_volume(spec))


def register(guard: Guard) -> None:
    """Add volume-management to the guard's tool list."""

    guard.add(volume_management, CATALOG[ToolName.VOLUME_MANAGEMENT])

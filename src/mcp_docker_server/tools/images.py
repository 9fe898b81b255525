"""image-operations (and the registration of build-image, tools/builds.py): pulls and pushes
report live progress and stop the engine's work when the client cancels."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from pydantic import BaseModel, ConfigDict, Field

from mcp_docker_server.errors import DockerServerError, InvalidArgument
from mcp_docker_server.results.images import ImageResult
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.specs.images import validate_image_reference
from mcp_docker_server.tools._confirm import Confirm, confirm_image, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._output import with_progress
from mcp_docker_server.tools.builds import admit_name, build_image
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["register"]


class RegistryAuth(BaseModel):
    """Registry credentials for this call only; never echoed or logged."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    identitytoken: str | None = Field(default=None, repr=False)


async def image_operations(
    guard: Guard,
    image: Annotated[
        str,
        Field(min_length=1, max_length=512, description="Image reference or id; list: glob, '*' = all."),
    ],
    action: Literal["pull", "push", "tag", "remove", "list", "inspect", "history", "prune"],
    ctx: Context[Any],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_image)],
    registry: Annotated[
        str | None, Field(description="Registry host[:port] to pull from or push to.")
    ] = None,
    auth: Annotated[RegistryAuth | None, Field(description="Credentials for this call (not stored).")] = None,
    force: Annotated[bool, Field(description="remove: even if tagged twice or used by a container.")] = False,
    new_tag: Annotated[str | None, Field(description="tag: the new name, e.g. registry:5000/app:v2.")] = None,
    limit: Annotated[int, Field(ge=1, le=500)] = 50,
    timeout: Annotated[float, Field(gt=0, le=7200, description="pull/push seconds.")] = 600,
) -> ImageResult:
    """Pull, push, tag, remove, list, inspect, history or prune images."""
    ensure_confirmed(confirmation)
    if action == "list":
        return await guard.state.images.listing(image, limit)
    if action == "prune":
        return await guard.state.images.prune()
    ref = _with_registry(validate_image_reference(image), registry)
    if action == "inspect":
        return await guard.state.images.inspect(ref)
    if action == "history":
        return await guard.state.images.history(ref, limit)
    if action == "remove":
        return await guard.state.images.remove(ref, force=force)
    if action == "tag":
        if not new_tag:
            raise InvalidArgument("tag needs new_tag.", hint='e.g. new_tag="127.0.0.1:5000/app:v2".')
        destination = validate_image_reference(new_tag)
        await admit_name(guard, destination, [ref])
        return await guard.state.images.tag(ref, destination)
    explicit = auth.model_dump(exclude_none=True) if auth else None
    credentials = await guard.state.images.auth_for(ref, explicit, guard.state.settings.registry)
    progress = Progress(f"{action} {ref}")
    if action == "pull":
        guard.check_image(ref)
        return await with_progress(
            ctx, progress, guard.state.images.transfer("pull", ref, credentials, progress, timeout)
        )
    return await _push(guard, ctx, image, ref, credentials, progress, timeout)


def register(guard: Guard) -> None:
    """Add build-image and image-operations to the guard's tool list."""

    guard.add(build_image, CATALOG[ToolName.BUILD_IMAGE])  # tools/builds.py
    guard.add(image_operations, CATALOG[ToolName.IMAGE_OPERATIONS])


async def _push(
    guard: Guard,
    ctx: Context[Any],
    image: str,
    ref: str,
    credentials: Mapping[str, str] | None,
    progress: Progress,
    timeout: float,
) -> ImageResult:
    """Push ``image`` as ``ref`` (tagging it first when the names differ); a failed push takes
    back the name it added, so nothing is left half-made."""
    note = None
    if ref != image:
        await guard.state.images.tag(image, ref)
        note = f"tagged {image} as {ref}"
    try:
        pushed = await with_progress(
            ctx, progress, guard.state.images.transfer("push", ref, credentials, progress, timeout)
        )
    except BaseException:
        if note is not None:  # the name this call added goes with the failed push
            with anyio.CancelScope(shield=True), contextlib.suppress(DockerServerError):
                await guard.state.images.remove(ref, force=False)
        raise
    return pushed.model_copy(update={"note": "; ".join(n for n in (note, pushed.note) if n)})


def _with_registry(ref: str, registry: str | None) -> str:
    if not registry:
        return ref
    host = registry.removeprefix("https://").removeprefix("http://").rstrip("/")
    # Docker reads a first path part as a registry only with a dot, a port, or "localhost"
    # (distribution/reference): "intranet/app" would go to Docker Hub's intranet namespace.
    if not ("." in host or ":" in host or host == "localhost") or "/" in host:
        raise InvalidArgument(
            f"registry {registry!r} is not a registry host: Docker would read it as a Docker Hub namespace.",
            hint='name the host with its domain or port, e.g. "registry.example.com" or "intranet:5000".',
        )
    if ref.startswith(host + "/"):
        return ref
    return validate_image_reference(f"{host}/{ref}")

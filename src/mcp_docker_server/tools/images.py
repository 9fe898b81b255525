"""build-image and image-operations: builds, pulls and pushes report live progress and stop
the engine's work when the client cancels."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from pydantic import BaseModel, ConfigDict, Field

from mcp_docker_server.errors import DockerServerError, InvalidArgument, NotFound, PolicyDenied
from mcp_docker_server.policy import Policy, check_host_path, check_image, in_scope, scope_labels
from mcp_docker_server.results.images import BuildPreview, BuildResult, ImageResult
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.specs.dockerfile import base_images
from mcp_docker_server.specs.images import BuildSpec, validate_image_reference
from mcp_docker_server.state import local_read_resolver
from mcp_docker_server.tools._confirm import Confirm, confirm_image, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._output import with_progress
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["register"]


class RegistryAuth(BaseModel):
    """Registry credentials for this call only; never echoed or logged."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    identitytoken: str | None = Field(default=None, repr=False)


async def build_image(
    guard: Guard,
    path: Annotated[str, Field(min_length=1, description="Build context folder.")],
    tag: Annotated[str, Field(min_length=1, description="Image name:tag to give the result.")],
    ctx: Context[Any],
    dockerfile: Annotated[str | None, Field(description="Dockerfile path, relative to path.")] = None,
    build_args: dict[str, str] | None = None,
    target: Annotated[str | None, Field(description="Multi-stage target.")] = None,
    no_cache: bool = False,
    labels: dict[str, str] | None = None,
    pull: Annotated[bool, Field(description="Refresh base images.")] = False,
    platform: Annotated[str | None, Field(description="e.g. linux/amd64.")] = None,
    timeout: Annotated[float, Field(gt=0, le=7200)] = 900,
    dry_run: Annotated[bool, Field(description="Only preview the context.")] = False,
    allow_secret_files: Annotated[bool, Field(description="Send .env, keys... anyway.")] = False,
) -> BuildResult | BuildPreview:
    """Build an image from a Dockerfile (classic builder); step progress, clear step errors."""
    root, file = _build_paths(guard.state.policy, path, dockerfile)
    request = BuildSpec(
        path=root,
        dockerfile=file,
        tag=validate_image_reference(tag),
        build_args=build_args or {},
        target=target,
        no_cache=no_cache,
        pull=pull,
        labels=scope_labels(guard.state.policy, labels or {}),
        platform=platform,
        max_context_bytes=guard.state.settings.max_build_context_bytes,
    )
    return await _build(guard, ctx, request, timeout, dry_run=dry_run, allow_secret_files=allow_secret_files)


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
        await _admit_name(guard, destination, [ref])
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

    guard.add(build_image, CATALOG[ToolName.BUILD_IMAGE])
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


async def _build(
    guard: Guard,
    ctx: Context[Any],
    request: BuildSpec,
    timeout: float,
    *,
    dry_run: bool,
    allow_secret_files: bool,
) -> BuildResult | BuildPreview:
    if dry_run:
        return await guard.state.images.preview(request)
    if request.dockerfile is not None:
        text = await anyio.to_thread.run_sync(_read_dockerfile, request.dockerfile)
        await _admit_name(guard, request.tag, base_images(text))
    progress = Progress(f"building {request.tag}")
    build = guard.state.images.build(request, progress, timeout, allow_secret_files=allow_secret_files)
    return await with_progress(ctx, progress, build)


def _read_dockerfile(path: str) -> str:
    """The Dockerfile's text, or "" when it cannot be read (the build's own checks then say why,
    before any work)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(1024 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return ""


async def _admit_name(guard: Guard, name: str, sources: list[str]) -> None:
    """A name this call gives an image (a tag, a build's tag), from ``sources`` (the image
    tagged, or the images a build starts from). Under ``image_allowlist`` an allowed name may
    only go to an image made from allowed ones, or a tag would launder any image into the
    allowlist; under ``label_scope`` a name that already exists is not moved (workloads
    outside the scope may run it).

    Raises:
        PolicyDenied: naming the source or the name, and the policy key.
    """
    policy = guard.state.policy
    if policy.image_allowlist and _allowed(policy, name):
        for source in sources:
            if "$" in source or not _allowed(policy, source):
                raise PolicyDenied(
                    "image-allowlist",
                    f"{name} would be an allowed name for an image made from {source}, which is "
                    f"not in the allowed images ({', '.join(policy.image_allowlist)})",
                    hint="start from an allowed image, named as the allowlist names it.",
                    setting="image_allowlist",
                )
    if policy.label_scope:
        try:
            labels = await guard.state.system.labels_of("image", name)
        except NotFound:
            return
        if in_scope(policy, labels):
            return  # an image of this scope (a rebuild of its own tag)
        raise PolicyDenied(
            "label-scope",
            f"{name} already names an image, and this server does not move names that workloads "
            "outside its scope may run",
            hint="choose a new tag.",
            setting="label_scope",
        )


def _allowed(policy: Policy, image: str) -> bool:
    try:
        check_image(policy, image)
    except PolicyDenied:
        return False
    return True


def _build_paths(policy: Policy, path: str, dockerfile: str | None) -> tuple[str, str]:
    """The context folder and the Dockerfile, through the host path rule, resolved. They are
    read on this machine (whichever engine builds), so they are resolved here."""
    context = Path(path).expanduser()
    root = check_host_path(
        policy, str(Path.cwd() / context), local_read_resolver, purpose="build context", mounted=False
    )
    name = Path(dockerfile or "Dockerfile").expanduser()
    file = check_host_path(
        policy, str(Path(root) / name), local_read_resolver, purpose="Dockerfile", mounted=False
    )
    return root, file


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

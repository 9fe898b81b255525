"""build-image: BuildKit (the docker CLI's buildx plugin) when it is installed, the Engine API's
classic builder otherwise. Both report live progress and stop the build on cancellation; what
a build may reach beyond its context (secrets, the SSH agent, the host's network, caches) is
judged by policy/builds.py, the same rules as Compose builds."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from pydantic import Field

from mcp_docker_server.buildx import BuildxInfo
from mcp_docker_server.buildx.runner import BuildxRun
from mcp_docker_server.errors import EngineAPIError, InvalidArgument, NotFound, PolicyDenied
from mcp_docker_server.policy import Policy, check_host_path, in_scope, scope_labels
from mcp_docker_server.policy.admission import writable_folders
from mcp_docker_server.policy.builds import (
    check_build_name,
    check_build_network,
    check_build_ssh,
    check_frontend,
    check_secret_env,
    compose_builds,
    judge_cache,
)
from mcp_docker_server.policy.paths import check_not_container_writable, check_writers_listed
from mcp_docker_server.results import shaping
from mcp_docker_server.results.images import BuildPreview, BuildResult
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.specs.dockerfile import base_images, frontend_image
from mcp_docker_server.specs.images import BuildSecret, BuildSpec, validate_image_reference
from mcp_docker_server.state import local_read_resolver
from mcp_docker_server.tools._confirm import Confirm, confirm_build, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._output import with_progress

__all__ = ["admit_compose_builds", "admit_name", "build_image"]

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_SECRET_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


async def build_image(
    guard: Guard,
    path: Annotated[str, Field(min_length=1, description="Build context folder.")],
    tag: Annotated[str, Field(min_length=1, description="Image name:tag to give the result.")],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_build)],
    ctx: Context[Any],
    dockerfile: Annotated[str | None, Field(description="Dockerfile path, relative to path.")] = None,
    build_args: dict[str, str] | None = None,
    target: Annotated[str | None, Field(description="Multi-stage target.")] = None,
    no_cache: bool = False,
    labels: dict[str, str] | None = None,
    pull: Annotated[bool, Field(description="Refresh base images.")] = False,
    platform: Annotated[str | None, Field(description="e.g. linux/amd64.")] = None,
    secrets: Annotated[
        dict[str, str] | None,
        Field(description="BuildKit secret id -> file (relative to path) or env:NAME. Never echoed."),
    ] = None,
    ssh: Annotated[bool, Field(description="Forward the server's SSH agent.")] = False,
    cache_from: Annotated[
        list[str] | None, Field(description="buildx entries: type=local,src=DIR or a registry ref.")
    ] = None,
    cache_to: Annotated[list[str] | None, Field(description="e.g. type=local,dest=DIR; type=inline.")] = None,
    network: Literal["default", "none", "host"] | None = None,
    load: Annotated[bool, Field(description="false: keep the result in the build cache only.")] = True,
    timeout: Annotated[float, Field(gt=0, le=7200)] = 900,
    dry_run: Annotated[bool, Field(description="Only preview the context.")] = False,
    allow_secret_files: Annotated[bool, Field(description="Send .env, keys... anyway.")] = False,
) -> BuildResult | BuildPreview:
    """Build an image with BuildKit (RUN --mount, heredocs, secrets); classic builder without buildx."""
    ensure_confirmed(confirmation)
    policy = guard.state.policy
    for kind, pairs in (("build_args", build_args), ("labels", labels)):
        for key in pairs or {}:
            if not key or "=" in key or any(c.isspace() for c in key):
                raise InvalidArgument(
                    f"{kind} key {key!r} holds '=' or a space: buildx would read part of it as the value.",
                    hint="use a plain name, e.g. VERSION or org.opencontainers.image.version.",
                )
    root, file = _build_paths(policy, path, dockerfile)
    if ssh:
        check_build_ssh(policy, "build-image")
    asked = {"from": cache_from or [], "to": cache_to or []}
    judged = {
        way: judge_cache(policy, entries, local_read_resolver, f"cache_{way}", export=way == "to", base=root)
        for way, entries in asked.items()
    }
    caches = {way: tuple(e.render() for e in entries) for way, entries in judged.items()}
    request = BuildSpec(
        path=root,
        dockerfile=file,
        tag=validate_image_reference(tag),
        build_args=build_args or {},
        target=target,
        no_cache=no_cache,
        pull=pull,
        labels=scope_labels(policy, labels or {}),
        platform=platform,
        max_context_bytes=guard.state.settings.max_build_context_bytes,
        secrets=_secrets(policy, secrets or {}, root),
        ssh=ssh,
        cache_from=caches["from"],
        cache_to=caches["to"],
        network=check_build_network(policy, network, "build-image"),
        load=load,
    )
    reads = [(root, "build context", False), (file, "Dockerfile", True)]
    reads += [(s.source, f"secret {s.id} file", True) for s in request.secrets if s.kind == "file"]
    reads += [
        (folder, f"cache_{way} {key} folder", False)
        for way, entries in judged.items()
        for entry in entries
        for key in ("src", "dest")
        if (folder := entry.get(key)) and entry.type == "local"
    ]
    await check_reads_here(guard, reads)
    return await _build(guard, ctx, request, timeout, dry_run=dry_run, allow_secret_files=allow_secret_files)


async def _build(
    guard: Guard,
    ctx: Context[Any],
    request: BuildSpec,
    timeout: float,
    *,
    dry_run: bool,
    allow_secret_files: bool,
) -> BuildResult | BuildPreview:
    buildx = await guard.state.buildx.info()
    if dry_run:
        return await guard.state.images.preview(request, buildkit=buildx.usable)
    if not buildx.usable and request.needs_buildkit:
        raise InvalidArgument(
            f"{', '.join(request.needs_buildkit)} need BuildKit, and {_absent(buildx)}.",
            hint="install buildx 0.17 or later (Debian: docker-buildx; Docker: docker-buildx-plugin), "
            "or build without those options.",
        )
    text = await anyio.to_thread.run_sync(_read_dockerfile, request.dockerfile or "")
    await admit_name(guard, request.tag, base_images(text))
    frontend = frontend_image(text, dict(request.build_args))
    if frontend and buildx.usable:
        check_frontend(guard.state.policy, frontend)
    progress = Progress(f"building {request.tag}")
    if not buildx.usable:
        built = await with_progress(
            ctx,
            progress,
            guard.state.images.build(request, progress, timeout, allow_secret_files=allow_secret_files),
        )
        return built.model_copy(update={"builder": "classic", "note": f"classic builder: {_absent(buildx)}"})
    await guard.state.images.check_context(request, allow_secret_files=allow_secret_files)
    started = time.monotonic()
    run = await with_progress(ctx, progress, guard.state.buildx.build(request, progress, timeout))
    if run.returncode != 0 or (request.load and run.image_id is None):
        raise _failed(run, frontend)
    return await _result(guard, request, run, time.monotonic() - started)


async def _result(guard: Guard, request: BuildSpec, run: BuildxRun, seconds: float) -> BuildResult:
    steps = run.solve.steps
    tail = run.solve.output.text()
    if not request.load:
        return BuildResult(
            id="",
            tags=[],
            size_bytes=0,
            steps=len(steps),
            cached_steps=run.solve.cached_steps,
            seconds=round(seconds, 2),
            log_tail=shaping.newest(tail, 2000),
            builder="buildkit",
            warnings=run.solve.warnings,
            note="load=false: the result is in the build cache only; no image was made.",
        )
    image = (await guard.state.images.inspect(run.image_id or request.tag)).image
    return BuildResult(
        id=shaping.short_id(run.image_id or ""),
        tags=image.tags if image else [request.tag],
        size_bytes=image.size_bytes if image else 0,
        steps=len(steps),
        cached_steps=run.solve.cached_steps,
        seconds=round(seconds, 2),
        log_tail=shaping.newest(tail, 2000),
        builder="buildkit",
        warnings=run.solve.warnings,
    )


def _failed(run: BuildxRun, frontend: str | None) -> EngineAPIError:
    """The error a failed buildx build reports: the failing step, its error, the end of its
    output; a frontend the engine could not pull, or an entitlement the build lacks, said so."""
    vertex, words = run.solve.failure()
    lowered = words.lower()
    if frontend and (frontend in words or "resolve source metadata" in lowered):
        return EngineAPIError(
            f"The Dockerfile asks BuildKit for the frontend image {frontend} (a `# syntax=` line or "
            f"BUILDKIT_SYNTAX), and the engine could not fetch it: {shaping.truncate(words, 400)[0]}",
            hint="remove the `# syntax=` line: the engine's built-in frontend runs RUN --mount, "
            "heredocs and COPY --link, or load that image into the engine first.",
        )
    if "network.host is not allowed" in lowered or "security.insecure is not allowed" in lowered:
        return EngineAPIError(
            f"Build refused by BuildKit: {shaping.truncate(words, 300)[0]}.",
            hint='a RUN --network=host step needs network="host" (which the operator must allow: '
            "allow_build_host_network); RUN --security=insecure is never granted.",
        )
    if "cache export is not supported" in lowered:
        return EngineAPIError(
            f"Build refused: {shaping.truncate(words, 300)[0]} The engine's own builder (buildx's "
            "docker driver) exports a cache only inline, unless the engine stores images in containerd.",
            hint='use cache_to=["type=inline"] (the cache travels in the image), or drop cache_to.',
        )
    if vertex is None:
        return EngineAPIError(
            f"Build failed: {shaping.truncate(words, 600)[0]}",
            hint="check the Dockerfile, the context and the options; earlier steps stay cached.",
        )
    text = f"Build failed at {vertex.name}: {shaping.truncate(vertex.error or words, 400)[0]}"
    output = vertex.log.text().strip()
    if output:
        text += f"\nLast output of that step:\n{shaping.newest(output, 1500)}"
    return EngineAPIError(
        text, hint="fix that instruction (or its inputs) and build again; earlier steps are cached."
    )


async def check_reads_here(guard: Guard, reads: list[tuple[str, str, bool]]) -> None:
    """The nested-bind rule for host paths this machine reads after the judgement (a build
    context, a Dockerfile, a secret file, a cache folder buildx reads or writes): none may lie
    in a folder a container of an engine on this machine can write, which could swap part of
    it for a link to anywhere on the host meanwhile. ``reads``: (resolved path, what it is,
    whether it may be such a folder itself: false for a folder read through, where a link made
    inside it is followed too).

    Raises:
        PolicyDenied: rule ``nested-bind``, naming the path, the folder, the container and
            ``allow_nested_binds``.
    """
    policy = guard.state.policy
    if policy.allow_nested_binds or not reads:
        return
    binds, unlisted = await guard.host_binds(read_here=True)
    # Only real paths are compared: resolved without the socket search of a bind's check.
    writable = writable_folders(binds, local_read_resolver)
    for path, purpose, inside_only in reads:
        real = local_read_resolver(path).real_path
        check_writers_listed(policy, real, unlisted, purpose=purpose)
        check_not_container_writable(policy, real, writable, purpose=purpose, inside_only=inside_only)


async def admit_name(guard: Guard, name: str, sources: list[str]) -> None:
    """A name this call gives an image (a tag, a build's tag), from ``sources`` (the image
    tagged, or the images a build starts from). Under ``image_allowlist`` an allowed name may
    only go to an image made from allowed ones, or a tag would launder any image into the
    allowlist; under ``label_scope`` a name that already exists is not moved (workloads
    outside the scope may run it).

    Raises:
        PolicyDenied: naming the source or the name, and the policy key.
    """
    policy = guard.state.policy
    check_build_name(policy, name, sources)
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


async def admit_compose_builds(guard: Guard, config: Mapping[str, Any], project: str) -> None:
    """The image rules of build-image for a Compose project's local builds: the names they give
    (``image``, ``build.tags``) against the images they take files from (``FROM``, ``COPY
    --from``, ``RUN --mount=from=``, ``docker-image://`` contexts), and the frontend a ``#
    syntax=`` line or ``BUILDKIT_SYNTAX`` asks for (``config``: the rendered project).

    Raises:
        PolicyDenied: naming the image and the policy key.
    """
    for build in compose_builds(config, project):
        text = build.dockerfile_text
        if build.dockerfile_path:
            text = await anyio.to_thread.run_sync(_read_dockerfile, build.dockerfile_path)
        for given in build.names:
            await admit_name(guard, given, [*base_images(text), *build.context_images])
        if frontend := frontend_image(text, dict(build.args)):
            check_frontend(guard.state.policy, frontend)


def _absent(buildx: BuildxInfo) -> str:
    return f"buildx is not usable here ({buildx.reason})"


def _secrets(policy: Policy, secrets: dict[str, str], root: str) -> tuple[BuildSecret, ...]:
    """Each secret's source judged: a file through the host-path rule (relative to the
    context), a server variable through ``secret_env_allowlist``.

    Raises:
        InvalidArgument: an id BuildKit would not accept.
        PolicyDenied: the file or the variable is not one the policy hands out.
    """
    judged = []
    for secret_id, source in secrets.items():
        if not _SECRET_ID.fullmatch(secret_id):
            raise InvalidArgument(
                f"secret id {secret_id!r} is not one BuildKit accepts.",
                hint="use letters, digits, '.', '_' and '-', as RUN --mount=type=secret,id=... names it.",
            )
        if source.startswith("env:"):
            variable = source.removeprefix("env:").strip()
            if not _VARIABLE.fullmatch(variable):
                raise InvalidArgument(
                    f"secret {secret_id}: {variable!r} is not an environment variable name.",
                    hint="use env:NAME with letters, digits and '_'.",
                )
            check_secret_env(policy, variable, f"secret {secret_id}")
            judged.append(BuildSecret(secret_id, "env", variable))
            continue
        full = Path(root) / Path(source).expanduser()
        real = check_host_path(
            policy, str(full), local_read_resolver, purpose=f"secret {secret_id} file", mounted=False
        )
        if not Path(real).is_file():
            raise InvalidArgument(
                f"secret {secret_id}: {source} is not a file.",
                hint="name a file (relative to path, or absolute), or env:NAME for a server variable.",
            )
        judged.append(BuildSecret(secret_id, "file", real))
    return tuple(judged)


def _read_dockerfile(path: str) -> str:
    """The Dockerfile's text, or "" when it cannot be read (the build's own checks then say why,
    before any work)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(1024 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return ""


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

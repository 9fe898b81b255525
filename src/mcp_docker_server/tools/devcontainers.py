"""dev-container: development containers from a folder's devcontainer.json, through the Dev
Containers CLI, judged like every other container (see ``devcontainers/``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from pydantic import Field

from mcp_docker_server.devcontainers.cli import DevContainerError, attach_uri, find_cli
from mcp_docker_server.devcontainers.names import FOLDER_LABEL, OWNER_LABEL, PROJECT_LABEL, is_folder_image
from mcp_docker_server.devcontainers.service import DevContainerRunner
from mcp_docker_server.errors import DockerServerError, InvalidArgument, NotFound, PolicyDenied
from mcp_docker_server.policy import check_host_path, in_scope
from mcp_docker_server.processes import find_tool
from mcp_docker_server.results.containers import ContainerDetail, ExecResult
from mcp_docker_server.results.devcontainers import DevContainerConfig, DevContainerState, DevContainerUp
from mcp_docker_server.specs.containers import ExecSpec, parse_command
from mcp_docker_server.tools._confirm import Confirm, ask, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._output import line_progress
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["register"]

_TIMEOUTS = {"up": 600.0, "exec": 30.0, "config": 60.0}


async def confirm_dev(
    folder: str, action: str, ctx: Context[Any], engine: str | None = None
) -> Confirm | Elicit[Confirm]:
    """remove asks first."""
    question = f"remove the dev container of {folder}" if action == "remove" else None
    return ask(ctx, ToolName.DEV_CONTAINER, action, question, engine)


async def dev_container(
    guard: Guard,
    folder: Annotated[str, Field(max_length=4096, description="Project folder (absolute).")],
    action: Literal["up", "exec", "config", "stop", "remove"],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_dev)],
    ctx: Context[Any],
    command: Annotated[str | list[str] | None, Field(description="exec: argv or a string.")] = None,
    timeout: Annotated[float | None, Field(gt=0, le=3600)] = None,
) -> DevContainerUp | ExecResult | DevContainerConfig | DevContainerState:
    """Dev container from the folder's devcontainer.json (Dev Containers CLI); policy-checked."""
    ensure_confirmed(confirmation)
    real = _folder(guard, folder)
    seconds = timeout or _TIMEOUTS.get(action, 60.0)
    if action in ("stop", "remove"):
        return await _down(guard, real, action)
    runner = _runner(guard)
    if action == "config":
        read = await runner.read_configuration(real, seconds)
        return DevContainerConfig(
            config_file=read.config_file,
            configuration=read.compact(),
            workspace_folder=read.workspace_folder,
            workspace_mount=read.workspace_mount,
        )
    if action == "exec":
        return await _exec(guard, runner, real, command, seconds)
    if guard.state.policy.require_signature:
        # run-container verifies each image with cosign first; the CLI picks and builds its
        # images itself, so under this policy key dev containers are refused outright.
        raise PolicyDenied(
            "require-signature",
            "dev containers run images the Dev Containers CLI picks or builds, which this server "
            "cannot verify with cosign before they run",
            hint="run a verified image with run-container instead.",
            setting="require_signature = false",
        )
    read = await runner.read_configuration(real, min(seconds, 60.0))
    runner.judge(read)
    for existing in await _containers(guard, real):
        await _scoped(guard, existing)
        await guard.admit_existing(existing, "up")
    result = await runner.up(real, seconds, line_progress(ctx), judged=read)
    container_id = str(result.get("containerId") or "")
    detail = await guard.state.containers.inspect(container_id)
    workspace = str(result.get("remoteWorkspaceFolder") or read.workspace_folder or "")
    return DevContainerUp(
        container_id=detail.id,
        container_name=detail.name,
        workspace_folder=workspace,
        remote_user=result.get("remoteUser"),
        attach=f'VS Code: "Dev Containers: Attach to Running Container..." then {detail.name}',
        vscode_uri=attach_uri(detail.name, workspace),
    )


def _folder(guard: Guard, folder: str) -> str:
    """The folder's real path, once it passed the host-path rule (it is bind-mounted)."""
    if not folder.startswith("/"):
        raise InvalidArgument(f"folder must be an absolute path, not {folder!r}.", hint="e.g. /srv/app.")
    real = check_host_path(guard.state.policy, folder, guard.state.resolver, purpose="workspace folder")
    if guard.state.engine.target.scheme == "unix" and not os.path.isdir(real):
        raise InvalidArgument(f"{folder} is not a folder on this host.", hint="name the project's folder.")
    _config_files_inside(guard, real)
    return real


def _config_files_inside(guard: Guard, folder: str) -> None:
    """The devcontainer.json files the CLI may read are the project's own: one that is a link
    out of the folder (to a credential file, say) is refused (`config` would show its text).

    Raises:
        PolicyDenied: naming the file and where it leads.
    """
    root = Path(folder)
    candidates = [root / ".devcontainer" / "devcontainer.json", root / ".devcontainer.json"]
    candidates += sorted(root.glob(".devcontainer/*/devcontainer.json"))
    for candidate in candidates:
        if not (candidate.exists() or candidate.is_symlink()):
            continue
        real = os.path.realpath(candidate)
        if not real.startswith(folder.rstrip("/") + "/"):
            raise PolicyDenied(
                "host-path",
                f"{candidate} leads out of the project folder, to {real}",
                hint="make devcontainer.json a file of the project itself.",
            )
        check_host_path(
            guard.state.policy, real, guard.state.resolver, purpose="devcontainer.json", mounted=False
        )


def _runner(guard: Guard) -> DevContainerRunner:
    state = guard.state
    # Only what the CLI needs (PATH, HOME, the engine's settings) and the allowlisted secret
    # variables: `-e NAME`, `--build-arg NAME` and ${localEnv:NAME} copy from this environment.
    env = state.compose_isolated.env
    docker = find_tool("docker", env)
    if docker is None:
        raise DevContainerError(
            "The docker CLI was not found on PATH; the Dev Containers CLI drives the engine through it.",
            hint="install it (Debian: docker.io or docker-ce-cli).",
        )
    return DevContainerRunner(
        cli=find_cli(os.environ.get("MCP_DOCKER_DEVCONTAINER_CLI"), env),
        docker=docker,
        env=env,
        policy=state.policy,
        resolve=state.resolver,
        local_paths=state.engine.target.scheme == "unix",
        publish_address=state.settings.publish_address,
    )


async def _containers(guard: Guard, folder: str, *, running: bool = False) -> list[str]:
    """The folder's dev containers (ids) this server may act on (label scope)."""
    listing = await guard.state.containers.list(
        include_stopped=not running, labels=[f"{FOLDER_LABEL}={folder}"], limit=50
    )
    return [row.id for row in listing.containers]


async def _scoped(guard: Guard, container_id: str) -> ContainerDetail:
    """The container, if it is within the operator's label scope.

    Raises:
        PolicyDenied: it is not.
    """
    detail = await guard.state.containers.inspect(container_id)
    if not in_scope(guard.state.policy, detail.labels):
        raise PolicyDenied(
            "label-scope",
            f"container {detail.name} is outside this server's label scope",
            hint="act only on dev containers this server created.",
            setting="label_scope",
        )
    return detail


async def _exec(
    guard: Guard, runner: DevContainerRunner, folder: str, command: str | list[str] | None, seconds: float
) -> ExecResult:
    argv = parse_command(command, "command")
    if not argv:
        raise InvalidArgument("exec needs a command.", hint='e.g. command=["ls", "-la"].')
    running = await _containers(guard, folder, running=True)
    if not running and await _containers(guard, folder):
        raise InvalidArgument(
            f"The dev container of {folder} is stopped.", hint="start it with action=up, then exec again."
        )
    if not running:
        raise NotFound("dev container", folder, hint="bring it up first with action=up.")
    await _scoped(guard, running[0])
    await guard.admit_exec(ExecSpec(container=running[0], command=argv))
    return await runner.exec(folder, argv, seconds, 16 * 1024, container_id=running[0])


async def _down(guard: Guard, folder: str, action: str) -> DevContainerState:
    """Stop or remove the folder's dev container and, for a Compose-based one, the other
    services of its project that are the folder's (labelled so in the judged copy Compose ran);
    remove also takes the project's networks when nothing else is left in it, and the images the
    folder's containers ran that were built for the folder."""
    ids = await _containers(guard, folder)
    if not ids:
        return DevContainerState(folder=folder, action=action, note="no dev container for this folder")
    details = [await _scoped(guard, container_id) for container_id in ids]
    projects = sorted({p for d in details if (p := d.labels.get(PROJECT_LABEL))})
    for project in projects:
        owned = await guard.state.containers.list(
            include_stopped=True, labels=[f"{PROJECT_LABEL}={project}", f"{OWNER_LABEL}={folder}"], limit=200
        )
        seen = {d.id for d in details}
        details += [await _scoped(guard, row.id) for row in owned.containers if row.id not in seen]
    images = {image for image in {d.image for d in details} if await _built_for(guard, folder, image)}
    verb = "remove" if action == "remove" else "stop"
    for detail in details:
        await guard.state.containers.manage(detail.id, action=verb, force=True, timeout=None, signal=None)
    names = [d.name for d in details]
    if action == "stop":
        return DevContainerState(folder=folder, action=action, containers=names)
    kept = [p for p in projects if not await _take_down(guard, p)]
    notes = []
    if kept:
        notes.append(
            f"Compose project {', '.join(kept)} also holds containers that are not this folder's: they "
            "and the project's networks were kept."
        )
    volumes = sorted(
        {v for p in projects for v in await guard.state.system.labelled("volume", f"{PROJECT_LABEL}={p}")}
    )
    if volumes:
        notes.append(
            f"Named volumes kept (their data): {', '.join(volumes)}; volume-management remove deletes them."
        )
    note = " ".join(notes) or None
    removed: list[str] = []
    for image in sorted(images):
        try:
            await guard.state.images.remove(image, force=False)
        except DockerServerError:  # gone already, or another container still uses it: kept
            continue
        removed.append(image)
    return DevContainerState(
        folder=folder, action=action, containers=names, removed_images=removed, note=note
    )


async def _built_for(guard: Guard, folder: str, image: str) -> bool:
    """Whether a folder's container runs an image built for the folder: the CLI's name for it,
    or a Compose build of its project (the shim labels those builds; the container being the
    folder's is what makes the label believable, since any Dockerfile may write a label)."""
    if is_folder_image(folder, image):
        return True
    try:
        labels = await guard.state.system.labels_of("image", image)
    except DockerServerError:
        return False
    return labels.get(OWNER_LABEL) == folder


async def _take_down(guard: Guard, project: str) -> bool:
    """The project's networks go (`compose down`) once no container is left in it (the
    folder's were removed just before); whether it was taken down."""
    left = await guard.state.containers.list(
        include_stopped=True, labels=[f"{PROJECT_LABEL}={project}"], limit=1
    )
    if left.total:
        return False
    with tempfile.TemporaryDirectory(prefix="mcpd-devcontainer-down-") as empty:
        # From an empty folder: Compose finds no project file to read, only the project's labels.
        await guard.state.compose.run(["--project-name", project, "down"], cwd=Path(empty), timeout=120)
    return True


def register(guard: Guard) -> None:
    """Add the dev-container tool."""
    guard.add(dev_container, CATALOG[ToolName.DEV_CONTAINER])

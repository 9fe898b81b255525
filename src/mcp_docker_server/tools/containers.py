"""Container tools: run-container, manage-container, and the read tools around them."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import ElicitationResult, Resolve
from pydantic import BaseModel, ConfigDict, Field

from mcp_docker_server.errors import InvalidArgument
from mcp_docker_server.results.containers import (
    ContainerDetail,
    ContainerList,
    ExecResult,
    LogsResult,
    ManageResult,
    RunResult,
    StatsResult,
)
from mcp_docker_server.specs.containers import (
    ContainerSpec,
    ExecSpec,
    parse_command,
    parse_gpus,
    parse_healthcheck,
    parse_memory,
    parse_ports,
    parse_restart_policy,
    parse_volumes,
    validate_name,
)
from mcp_docker_server.specs.images import validate_image_reference
from mcp_docker_server.tools._confirm import Confirm, confirm_manage, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["register"]

ContainerRef = Annotated[str, Field(min_length=1, max_length=256, description="Container name or id.")]
HostSide = int | str | None


class VolumeArg(BaseModel):
    """A mount: host_path (absolute) for a bind, or a volume name."""

    model_config = ConfigDict(extra="forbid")
    host_path: str | None = Field(default=None, description="Absolute host path, or a volume name.")
    volume: str | None = Field(default=None, description="Named volume (instead of host_path).")
    container_path: str
    mode: str = Field(default="rw", description="ro or rw.")
    type: Literal["bind", "volume", "tmpfs"] | None = None


class HealthcheckArg(BaseModel):
    """Healthcheck: test is a shell string or an argv list; durations in seconds."""

    model_config = ConfigDict(extra="forbid")
    test: str | list[str]
    interval: float | None = Field(default=None, ge=0)
    timeout: float | None = Field(default=None, ge=0)
    retries: int | None = Field(default=None, ge=0)
    start_period: float | None = Field(default=None, ge=0)


async def run_container(
    guard: Guard,
    image: Annotated[str, Field(max_length=512, description="Image reference, e.g. busybox:1.36.")],
    name: Annotated[str | None, Field(description="Container name.")] = None,
    ports: Annotated[
        dict[str, HostSide | list[HostSide]] | None,
        Field(description='Container port to host: {"80/tcp": 8080, "443": "127.0.0.1:8443"}.'),
    ] = None,
    volumes: Annotated[
        list[VolumeArg | str] | None,
        Field(description='[{"host_path","container_path","mode"}] or "src:dst[:ro]".'),
    ] = None,
    environment: dict[str, str] | None = None,
    command: Annotated[
        str | list[str] | None, Field(description="Split like a shell, never run by one.")
    ] = None,
    detach: Annotated[bool, Field(description="false: wait, return exit code and output.")] = True,
    entrypoint: str | list[str] | None = None,
    working_dir: str | None = None,
    user: str | None = None,
    labels: dict[str, str] | None = None,
    network: str | None = None,
    restart_policy: Annotated[
        str | None, Field(description="no, always, unless-stopped, on-failure[:N].")
    ] = None,
    cpus: Annotated[float | None, Field(gt=0, le=1024)] = None,
    memory: Annotated[int | str | None, Field(description='Bytes or "512m", "2g".')] = None,
    pids_limit: Annotated[int | None, Field(gt=0)] = None,
    healthcheck: HealthcheckArg | None = None,
    gpus: Annotated[str | int | list[str] | None, Field(description='"all", a count, or device ids.')] = None,
    auto_remove: bool = False,
    tty: bool = False,
    read_only: bool = False,
    privileged: bool = False,
    cap_add: list[str] | None = None,
    cap_drop: list[str] | None = None,
    pull: Literal["missing", "always", "never"] = "missing",
    timeout: Annotated[
        float | None, Field(gt=0, le=3600, description="Seconds to wait when detach=false.")
    ] = None,
) -> RunResult:
    """Create and start a container (pulls a missing image). Policy-checked."""
    spec = ContainerSpec(
        image=validate_image_reference(image),
        name=validate_name(name) if name else None,
        command=parse_command(command),
        entrypoint=parse_command(entrypoint, "entrypoint"),
        environment=environment or {},
        labels=labels or {},
        working_dir=working_dir,
        user=user,
        ports=parse_ports(ports, guard.state.settings.publish_address),
        mounts=parse_volumes(
            [v if isinstance(v, str) else v.model_dump(exclude_none=True) for v in volumes or []]
        ),
        network=network,
        restart_policy=parse_restart_policy(restart_policy),
        nano_cpus=int(cpus * 1e9) if cpus else None,
        memory_bytes=parse_memory(memory),
        pids_limit=pids_limit,
        healthcheck=parse_healthcheck(healthcheck.model_dump() if healthcheck else None),
        gpus=parse_gpus(gpus),
        auto_remove=auto_remove,
        tty=tty,
        read_only=read_only,
        privileged=privileged,
        cap_add=tuple(cap_add or ()),
        cap_drop=tuple(cap_drop or ()),
    )
    admitted = await guard.admit_container(spec)
    return await guard.state.containers.run(
        admitted,
        judge=await guard.container_judge(),
        detach=detach,
        pull=pull,
        wait_timeout=timeout or guard.state.engine.target.timeout,
        max_bytes=16 * 1024,
    )


async def manage_container(
    guard: Guard,
    container_id: ContainerRef,
    action: Literal["start", "stop", "restart", "remove", "kill", "pause", "unpause"],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_manage)],
    force: Annotated[bool, Field(description="remove: also when running.")] = False,
    timeout: Annotated[
        int | None, Field(ge=0, le=3600, description="stop/restart: seconds before SIGKILL (10).")
    ] = None,
    signal: Annotated[
        str | None, Field(pattern=r"^[A-Z0-9]{1,12}$", description="kill: e.g. SIGHUP.")
    ] = None,
) -> ManageResult:
    """Start, stop, restart, remove, kill, pause or unpause a container."""
    ensure_confirmed(confirmation)
    if action in ("start", "restart", "unpause"):
        await guard.admit_existing(container_id, action)
    return await guard.state.containers.manage(
        container_id, action=action, force=force, timeout=timeout, signal=signal
    )


async def list_containers(
    guard: Guard,
    all: Annotated[bool, Field(description="Include stopped containers.")] = False,
    status: Literal["created", "running", "paused", "restarting", "exited", "dead"] | None = None,
    label: Annotated[list[str] | None, Field(description='"key" or "key=value" filters.')] = None,
    name: Annotated[str | None, Field(description="Name substring.")] = None,
    limit: Annotated[int, Field(ge=1, le=500)] = 50,
) -> ContainerList:
    """List containers: id, name, image, state, health, ports."""
    return await guard.state.containers.list(
        include_stopped=all, status=status, labels=label, name=name, limit=limit
    )


async def inspect_container(
    guard: Guard,
    container_id: ContainerRef,
    show_env: Annotated[bool, Field(description="Show env values (secret-like stay hidden).")] = False,
) -> ContainerDetail:
    """Compact inspect: state, exit code, health, command, mounts, networks, limits."""
    return await guard.state.containers.inspect(container_id, show_env=show_env)


async def container_logs(
    guard: Guard,
    container_id: ContainerRef,
    tail: Annotated[
        int, Field(ge=1, le=10000, description="Newest lines to return (with grep: matching lines).")
    ] = 100,
    since: Annotated[str | None, Field(description='"10m", "2h", unix time or RFC 3339.')] = None,
    until: str | None = None,
    timestamps: bool = False,
    grep: Annotated[str | None, Field(max_length=200, description="Regex searched in the whole log.")] = None,
    max_bytes: Annotated[int, Field(ge=512, le=262144)] = 16384,
) -> LogsResult:
    """Read a container's logs (untrusted output), newest lines kept within max_bytes; grep
    searches the whole log (up to 64 MiB or 10 s; `searched` says what it covered)."""
    try:
        # The regex module: each line's search has a time limit and releases the GIL, so a
        # pattern that backtracks without end cannot hang the server.
        import regex  # imported at the first grep: 6 ms of start-up otherwise

        pattern = regex.compile(grep) if grep else None
    except regex.error as exc:
        raise InvalidArgument(f"Invalid grep pattern: {exc}.", hint="use a Python regex.") from exc
    return await guard.state.containers.logs(
        container_id,
        tail=tail,
        since=since,
        until=until,
        timestamps=timestamps,
        pattern=pattern,
        max_bytes=max_bytes,
    )


async def container_stats(
    guard: Guard,
    container_id: ContainerRef,
    processes: Annotated[bool, Field(description="Also list processes (top).")] = False,
) -> StatsResult:
    """One sample of CPU %, memory, network and block I/O; optionally the process list."""
    stats = await guard.state.containers.stats(container_id)
    if not processes or stats.note is not None:  # a container that is not running has none
        return stats
    table = await guard.state.containers.top(container_id, ps_args=None, limit=100)
    return stats.model_copy(update={"processes": table})


async def exec_container(
    guard: Guard,
    container_id: ContainerRef,
    command: Annotated[str | list[str], Field(description="argv list, or a string split like a shell.")],
    workdir: str | None = None,
    user: str | None = None,
    environment: dict[str, str] | None = None,
    timeout: Annotated[float, Field(gt=0, le=600, description="Seconds before giving up.")] = 30,
    max_bytes: Annotated[int, Field(ge=512, le=262144)] = 16384,
) -> ExecResult:
    """Run a command in a running container; exit code and bounded output."""
    argv = parse_command(command)
    assert argv is not None  # a required parameter: parse_command only returns None for None
    spec = ExecSpec(
        container=container_id,
        command=argv,
        workdir=workdir,
        user=user,
        environment=environment or {},
    )
    admitted = await guard.admit_exec(spec)
    return await guard.state.containers.exec(admitted, timeout=timeout, max_bytes=max_bytes)


def register(guard: Guard) -> None:
    """Add the container tools to the guard's tool list."""

    guard.add(run_container, CATALOG[ToolName.RUN_CONTAINER])
    guard.add(manage_container, CATALOG[ToolName.MANAGE_CONTAINER])
    guard.add(list_containers, CATALOG[ToolName.LIST_CONTAINERS])
    guard.add(inspect_container, CATALOG[ToolName.INSPECT_CONTAINER])
    guard.add(container_logs, CATALOG[ToolName.CONTAINER_LOGS])
    guard.add(container_stats, CATALOG[ToolName.CONTAINER_STATS])
    guard.add(exec_container, CATALOG[ToolName.EXEC_CONTAINER])

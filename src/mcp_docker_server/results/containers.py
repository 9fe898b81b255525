"""What the container tools return."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = [
    "ContainerDetail",
    "ContainerList",
    "ContainerRow",
    "ContainerState",
    "ExecResult",
    "HealthState",
    "LogsResult",
    "ManageResult",
    "MountRow",
    "ProcessTable",
    "RunResult",
    "StatsResult",
]


class ContainerRow(Compact):
    """One container in a listing."""

    id: str = Field(description="Short id (12 hex digits).")
    name: str
    image: str
    state: str = Field(description="created, running, paused, restarting, exited, dead.")
    status: str = Field(description="Engine status text, e.g. 'Up 5 minutes', 'Exited (1) 2 hours ago'.")
    health: str | None = Field(default=None, description="healthy, unhealthy or starting, if checked.")
    ports: list[str] = Field(default_factory=list, description="host->container/proto bindings.")


class ContainerList(Compact):
    """Containers matching the filters."""

    containers: list[ContainerRow]
    total: int = Field(description="How many matched before the limit.")
    truncated: bool = Field(default=False, description="True when more matched than were returned.")


class HealthState(Compact):
    """Healthcheck state."""

    status: str
    failing_streak: int = 0
    last_output: str | None = Field(default=None, description="Tail of the last probe's output.")


class ContainerState(Compact):
    """Runtime state of a container."""

    status: str
    exit_code: int | None = None
    error: str | None = None
    oom_killed: bool = False
    restarts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    health: HealthState | None = None


class MountRow(Compact):
    """One mount of a container."""

    type: str
    source: str
    target: str
    mode: str = Field(description="ro or rw.")


class ContainerDetail(Compact):
    """Compact inspect of one container; environment values are hidden unless asked for."""

    id: str
    name: str
    image: str
    image_id: str
    created: str
    state: ContainerState
    command: list[str]
    working_dir: str | None = None
    user: str | None = None
    env: dict[str, str] = Field(
        default_factory=dict, description="Values are '***' unless show_env; secret-like ones always."
    )
    labels: dict[str, str] = Field(default_factory=dict)
    ports: list[str] = Field(default_factory=list)
    mounts: list[MountRow] = Field(default_factory=list)
    networks: dict[str, str] = Field(default_factory=dict, description="Network name to IP address.")
    restart_policy: str | None = None
    limits: dict[str, int | float] = Field(
        default_factory=dict, description="memory_bytes, cpus, pids when set."
    )
    privileged: bool = False


class RunResult(Compact):
    """Result of run-container."""

    id: str
    name: str
    image: str
    state: str
    ports: list[str] = Field(default_factory=list)
    exit_code: int | None = Field(default=None, description="Set when detach=false and it exited.")
    output: str | None = Field(default=None, description="Tail of the output when detach=false.")
    output_truncated: bool = False
    pulled: bool = Field(default=False, description="True when the image had to be pulled first.")
    removed: bool = Field(default=False, description="True when auto_remove removed it after the run.")
    note: str | None = None


class ManageResult(Compact):
    """Result of manage-container."""

    id: str
    name: str
    action: str
    state: str = Field(description="State after the action ('removed' after remove).")
    note: str | None = None


class LogsResult(Compact):
    """A bounded slice of a container's logs (container output: untrusted data)."""

    container: str
    lines: int = Field(description="Lines returned.")
    text: str
    truncated: bool = Field(default=False, description="True when older lines were cut to fit max_bytes.")
    matched: int | None = Field(default=None, description="grep: matching lines found in what was searched.")
    searched: str | None = Field(default=None, description="grep: exactly what was searched, and its limits.")
    note: str | None = Field(default=None, description="How to get more, when truncated.")


class ExecResult(Compact):
    """Result of a command run in a container (its output: untrusted data)."""

    exit_code: int | None = Field(description="None when it was still running at the deadline.")
    stdout: str
    stderr: str
    truncated: bool = False
    note: str | None = None


class StatsResult(Compact):
    """One sample of a container's resource use."""

    id: str
    name: str
    state: str = Field(description="running, paused...: a container that is not running has no live sample.")
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = Field(default=None, description="0: no limit.")
    memory_percent: float | None = None
    net_rx_bytes: int | None = None
    net_tx_bytes: int | None = None
    block_read_bytes: int | None = None
    block_write_bytes: int | None = None
    pids: int | None = None
    processes: ProcessTable | None = Field(default=None, description="When processes=true.")
    note: str | None = Field(default=None, description="What is missing, and why.")


class ProcessTable(Compact):
    """Processes running in a container."""

    titles: list[str]
    processes: list[list[str]]
    truncated: bool = False


StatsResult.model_rebuild()

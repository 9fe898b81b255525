"""Tool outputs: compact, typed, and the source of every tool's output schema.

Field names are short on purpose: every byte a tool returns is paid for in tokens. Optional
fields default to ``None`` and are dropped from the text the model reads.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BuildResult",
    "HistoryRow",
    "ImageDetail",
    "ImageResult",
    "ImageRow",
    "ComposeResult",
    "ComposeService",
    "ContainerDetail",
    "ContainerList",
    "ContainerRow",
    "ContainerState",
    "ExecResult",
    "HealthState",
    "LogsResult",
    "ManageResult",
    "MountRow",
    "NetworkDetail",
    "NetworkResult",
    "NetworkRow",
    "ProcessTable",
    "RunResult",
    "StatsResult",
    "VolumeDetail",
    "VolumeResult",
    "VolumeRow",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContainerRow(_Out):
    """One container in a listing."""

    id: str = Field(description="Short id (12 hex digits).")
    name: str
    image: str
    state: str = Field(description="created, running, paused, restarting, exited, dead.")
    status: str = Field(description="Engine status text, e.g. 'Up 5 minutes', 'Exited (1) 2 hours ago'.")
    health: str | None = Field(default=None, description="healthy, unhealthy or starting, if checked.")
    ports: list[str] = Field(default_factory=list, description="host->container/proto bindings.")


class ContainerList(_Out):
    """Containers matching the filters."""

    containers: list[ContainerRow]
    total: int = Field(description="How many matched before the limit.")
    truncated: bool = Field(default=False, description="True when more matched than were returned.")


class HealthState(_Out):
    """Healthcheck state."""

    status: str
    failing_streak: int = 0
    last_output: str | None = Field(default=None, description="Tail of the last probe's output.")


class ContainerState(_Out):
    """Runtime state of a container."""

    status: str
    exit_code: int | None = None
    error: str | None = None
    oom_killed: bool = False
    restarts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    health: HealthState | None = None


class MountRow(_Out):
    """One mount of a container."""

    type: str
    source: str
    target: str
    mode: str = Field(description="ro or rw.")


class ContainerDetail(_Out):
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


class RunResult(_Out):
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


class ManageResult(_Out):
    """Result of manage-container."""

    id: str
    name: str
    action: str
    state: str = Field(description="State after the action ('removed' after remove).")
    note: str | None = None


class LogsResult(_Out):
    """A bounded slice of a container's logs (container output: untrusted data)."""

    container: str
    lines: int = Field(description="Lines returned.")
    text: str
    truncated: bool = Field(default=False, description="True when older lines were cut to fit max_bytes.")
    matched: int | None = Field(default=None, description="grep: matching lines found in what was searched.")
    searched: str | None = Field(default=None, description="grep: exactly what was searched, and its limits.")
    note: str | None = Field(default=None, description="How to get more, when truncated.")


class ExecResult(_Out):
    """Result of a command run in a container (its output: untrusted data)."""

    exit_code: int | None = Field(description="None when it was still running at the deadline.")
    stdout: str
    stderr: str
    truncated: bool = False
    note: str | None = None


class StatsResult(_Out):
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


class ProcessTable(_Out):
    """Processes running in a container."""

    titles: list[str]
    processes: list[list[str]]
    truncated: bool = False


StatsResult.model_rebuild()


class NetworkRow(_Out):
    """One network in a listing."""

    id: str
    name: str
    driver: str
    scope: str
    internal: bool = False
    subnets: list[str] = Field(default_factory=list)


class NetworkDetail(NetworkRow):
    """A network with its settings and attached containers."""

    attachable: bool = False
    gateways: list[str] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    containers: dict[str, str] = Field(default_factory=dict, description="Container name to IPv4 address.")


class NetworkResult(_Out):
    """Result of network-management; which fields are set depends on the action."""

    action: str
    network: NetworkDetail | None = None
    networks: list[NetworkRow] | None = None
    connected: list[str] | None = None
    disconnected: list[str] | None = None
    removed: list[str] | None = None
    note: str | None = None


class VolumeRow(_Out):
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


class VolumeResult(_Out):
    """Result of volume-management; which fields are set depends on the action."""

    action: str
    volume: VolumeDetail | None = None
    volumes: list[VolumeRow] | None = None
    removed: list[str] | None = None
    note: str | None = None


class ComposeService(_Out):
    """One container of a compose project."""

    service: str
    name: str
    state: str
    health: str | None = None
    exit_code: int | None = None
    ports: list[str] = Field(default_factory=list)


class ComposeResult(_Out):
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


class ImageRow(_Out):
    """One local image."""

    id: str
    tags: list[str] = Field(default_factory=list)
    size_bytes: int
    created: str


class HistoryRow(_Out):
    """One layer of an image's history, newest first."""

    id: str | None = None
    created: str
    size_bytes: int
    created_by: str = Field(description="The instruction that made the layer (truncated).")


class ImageDetail(_Out):
    """Compact inspect of one image."""

    id: str
    tags: list[str] = Field(default_factory=list)
    digests: list[str] = Field(default_factory=list)
    size_bytes: int
    created: str
    os: str = ""
    architecture: str = ""
    user: str | None = None
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    working_dir: str | None = None
    env: dict[str, str] = Field(default_factory=dict, description="Values hidden; keys only.")
    exposed_ports: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    healthcheck: list[str] | None = None
    layers: int = 0


class ImageResult(_Out):
    """Result of image-operations; which fields are set depends on the action."""

    action: str
    image: ImageDetail | None = None
    images: list[ImageRow] | None = None
    history: list[HistoryRow] | None = None
    digest: str | None = Field(default=None, description="pull/push: the manifest digest.")
    removed: list[str] | None = Field(default=None, description="Deleted image ids and untagged names.")
    reclaimed_bytes: int | None = None
    truncated: bool = False
    note: str | None = None


class BuildResult(_Out):
    """Result of build-image."""

    id: str
    tags: list[str]
    size_bytes: int
    steps: int = Field(description="Dockerfile steps run.")
    cached_steps: int = 0
    seconds: float
    log_tail: str = Field(description="Last lines of the build output (untrusted).")

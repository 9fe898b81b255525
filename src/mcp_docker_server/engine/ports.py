"""The seam between the tools and the engine: what the tools use of each engine facade, as
Protocols. The facades in this package satisfy them; a test gives the tools a fake instead
(``AppState(..., facades=...)``) and runs them through the official in-memory MCP client in
milliseconds, without an engine. mypy checks the tools use nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mcp_docker_server.config.settings import RegistrySettings
from mcp_docker_server.policy import Admitted
from mcp_docker_server.policy.admission import ContainerDescription, NetworkInfo, VolumeInfo
from mcp_docker_server.results.containers import (
    ContainerDetail,
    ContainerList,
    ExecResult,
    LogsResult,
    ManageResult,
    ProcessTable,
    RunResult,
    StatsResult,
)
from mcp_docker_server.results.images import BuildPreview, BuildResult, ImageResult
from mcp_docker_server.results.networks import NetworkResult
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.results.swarm import NodeRow, ServiceDetail, ServiceRow, SwarmResult, TaskRow
from mcp_docker_server.results.system import DiskUsage, EventRow, PrunePlan
from mcp_docker_server.results.volumes import VolumeResult
from mcp_docker_server.specs.containers import ContainerSpec, ExecSpec
from mcp_docker_server.specs.images import BuildSpec
from mcp_docker_server.specs.networks import NetworkSpec
from mcp_docker_server.specs.swarm import ServicePatch, ServiceSpec
from mcp_docker_server.specs.volumes import VolumeSpec

if TYPE_CHECKING:
    import regex

    from mcp_docker_server.engine._admission_sync import ProjectResources

__all__ = [
    "AdmissionPort",
    "ContainersPort",
    "ImagesPort",
    "NetworksPort",
    "SwarmPort",
    "SystemPort",
    "VolumesPort",
]


class AdmissionPort(Protocol):
    """What the tools use of :class:`~mcp_docker_server.engine.admission.Admission`."""

    async def bind_sources(self) -> tuple[tuple[str, bool, str], ...]:
        """Every container's bind mounts: (source, read-write, container name)."""
        ...

    async def container(self, ref: str) -> ContainerDescription:
        """The inspected container and the named volumes it mounts."""
        ...

    async def service(
        self, ref: str, *, previous: bool = False
    ) -> tuple[str, dict[str, Any], list[str], dict[str, VolumeInfo], dict[str, NetworkInfo]]:
        """A swarm service's task template (``previous``: the one a rollback restores), its
        networks' names, its volumes and networks."""
        ...

    async def project(self, project: str) -> ProjectResources:
        """What a Compose project has on the engine now."""
        ...

    async def project_containers(
        self, project: str, services: Iterable[str], built_images: frozenset[str]
    ) -> list[ContainerDescription]:
        """Descriptions of the project's containers of ``services``."""
        ...

    async def remove(self, made: ProjectResources) -> None:
        """Remove what a refused call created."""
        ...


class ContainersPort(Protocol):
    """What the tools use of :class:`~mcp_docker_server.engine.containers.Containers`."""

    async def list(
        self,
        *,
        include_stopped: bool = False,
        status: str | None = None,
        labels: list[str] | None = None,
        name: str | None = None,
        limit: int = 50,
    ) -> ContainerList:
        """Containers matching the filters, in one engine request."""
        ...

    async def inspect(self, ref: str, *, show_env: bool = False) -> ContainerDetail:
        """Compact inspect."""
        ...

    async def logs(
        self,
        ref: str,
        *,
        tail: int,
        since: str | None,
        until: str | None,
        timestamps: bool,
        pattern: regex.Pattern[str] | None,
        max_bytes: int,
    ) -> LogsResult:
        """Bounded logs."""
        ...

    async def default_user(self, ref: str) -> str:
        """The user a container's processes run as unless told otherwise ("" is root)."""
        ...

    async def stats(self, ref: str) -> StatsResult:
        """One resource sample."""
        ...

    async def top(self, ref: str, *, ps_args: str | None, limit: int) -> ProcessTable:
        """Process list."""
        ...

    async def manage(
        self, ref: str, *, action: str, force: bool, timeout: int | None, signal: str | None
    ) -> ManageResult:
        """Lifecycle action; the deadline covers the stop grace period too."""
        ...

    async def run(
        self,
        admitted: Admitted[ContainerSpec],
        *,
        detach: bool,
        pull: str,
        wait_timeout: float,
        max_bytes: int,
        judge: Callable[[ContainerDescription], None],
        auth_config: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Create, judge the engine's description of the created container, start."""
        ...

    async def exec(self, admitted: Admitted[ExecSpec], *, timeout: float, max_bytes: int) -> ExecResult:
        """Run a process inside a running container."""
        ...


class ImagesPort(Protocol):
    """What the tools use of :class:`~mcp_docker_server.engine.images.Images`."""

    async def listing(self, pattern: str, limit: int) -> ImageResult:
        """Local images matching a tag glob or substring."""
        ...

    async def inspect(self, ref: str) -> ImageResult:
        """Compact inspect."""
        ...

    async def history(self, ref: str, limit: int) -> ImageResult:
        """Layer history."""
        ...

    async def tag(self, ref: str, new_ref: str) -> ImageResult:
        """Add a name."""
        ...

    async def remove(self, ref: str, *, force: bool) -> ImageResult:
        """Untag and delete."""
        ...

    async def prune(self) -> ImageResult:
        """Delete dangling images."""
        ...

    async def auth_for(
        self, ref: str, explicit: Mapping[str, str] | None, settings: RegistrySettings
    ) -> dict[str, str] | None:
        """Registry credentials for the registry ``ref`` lives on, and only for it."""
        ...

    async def transfer(
        self,
        verb: Literal["pull", "push"],
        ref: str,
        auth: Mapping[str, str] | None,
        progress: Progress,
        timeout: float,
    ) -> ImageResult:
        """Pull or push, stopping the engine's transfer on cancellation or deadline."""
        ...

    async def preview(self, request: BuildSpec, *, buildkit: bool) -> BuildPreview:
        """What the build would send (read here, in a worker thread; the engine is not asked)."""
        ...

    async def check_context(self, request: BuildSpec, *, allow_secret_files: bool) -> None:
        """What a BuildKit build is refused for before buildx starts."""
        ...

    async def build(
        self, request: BuildSpec, progress: Progress, timeout: float, *, allow_secret_files: bool = False
    ) -> BuildResult:
        """Build; on cancellation or deadline, stop it and remove the layers it committed."""
        ...


class NetworksPort(Protocol):
    """What the tools use of :class:`~mcp_docker_server.engine.networks.Networks`."""

    async def listing(self, pattern: str) -> NetworkResult:
        """Networks matching a name glob or substring."""
        ...

    async def inspect(self, name: str) -> NetworkResult:
        """One network in detail."""
        ...

    async def create(self, admitted: Admitted[NetworkSpec]) -> NetworkResult:
        """Create a network the policy approved (policy.networks.admit_network)."""
        ...

    async def remove(self, name: str) -> NetworkResult:
        """Remove an unused network."""
        ...

    async def connect(self, name: str, containers: list[str], *, connect: bool, force: bool) -> NetworkResult:
        """Connect or disconnect containers."""
        ...

    async def prune(self, pattern: str) -> NetworkResult:
        """Remove unused user-defined networks matching a glob."""
        ...


class VolumesPort(Protocol):
    """What the tools use of :class:`~mcp_docker_server.engine.volumes.Volumes`."""

    async def listing(self, pattern: str) -> VolumeResult:
        """Volumes matching a name glob or substring."""
        ...

    async def inspect(self, name: str) -> VolumeResult:
        """One volume in detail."""
        ...

    async def options(self, names: list[str]) -> dict[str, Mapping[str, str]]:
        """Driver options of the existing volumes among ``names``."""
        ...

    async def create(self, admitted: Admitted[VolumeSpec]) -> VolumeResult:
        """Create a volume the policy approved."""
        ...

    async def remove(self, name: str, *, force: bool) -> VolumeResult:
        """Remove a volume no container mounts."""
        ...

    async def prune(self, pattern: str, *, include_named: bool = False) -> VolumeResult:
        """Remove unused volumes matching a glob (anonymous ones unless ``include_named``)."""
        ...


class SwarmPort(Protocol):
    """What the tools use of :class:`~mcp_docker_server.engine.swarm.Swarm`."""

    async def status(self, *, show_tokens: bool, with_nodes: bool) -> SwarmResult:
        """The local node's swarm state (and nodes, join tokens when allowed)."""
        ...

    async def init(self, advertise_addr: str | None, listen_addr: str | None) -> str:
        """Start a swarm with this engine as its manager."""
        ...

    async def leave(self, force: bool) -> None:
        """Leave the swarm."""
        ...

    async def node(self, node: str) -> NodeRow:
        """One node."""
        ...

    async def set_availability(self, node: str, availability: str) -> NodeRow:
        """Set a node's availability."""
        ...

    async def create_service(self, admitted: Admitted[ServiceSpec]) -> str:
        """Create an approved service."""
        ...

    async def update(self, name: str, admitted: Admitted[ServicePatch]) -> None:
        """Apply an approved change to a service (rolling update)."""
        ...

    async def scale(self, name: str, replicas: int) -> None:
        """Set the replica count."""
        ...

    async def rollback(self, name: str) -> None:
        """Return to the previous definition."""
        ...

    async def remove(self, name: str) -> None:
        """Remove a service."""
        ...

    async def services(self) -> list[ServiceRow]:
        """All services with their counts."""
        ...

    async def service(self, name: str) -> ServiceDetail:
        """One service in detail."""
        ...

    async def tasks(self, name: str, *, all_tasks: bool) -> list[TaskRow]:
        """A service's tasks."""
        ...

    async def logs(self, name: str, tail: int, max_bytes: int) -> tuple[str, int, bool]:
        """The last lines of a service's logs."""
        ...

    async def wait(self, name: str, timeout: float, *, rollback: bool = False) -> tuple[bool, float]:
        """Wait until the service converged (or ``timeout``)."""
        ...

    async def stacks(self) -> dict[str, int]:
        """Stacks and their service counts."""
        ...

    async def stack_services(self, stack: str) -> list[ServiceRow]:
        """A stack's services."""
        ...

    async def stack_tasks(self, stack: str) -> list[TaskRow]:
        """A stack's running tasks."""
        ...


class SystemPort(Protocol):
    """What the tools use of :class:`~mcp_docker_server.engine.system.System`."""

    async def version(self, timeout: float | None = None) -> dict[str, str]:
        """Engine, API and component versions."""
        ...

    async def info(self) -> dict[str, str | int | bool | list[str]]:
        """The engine's `docker info`, compact."""
        ...

    async def data_root(self) -> str:
        """Where the engine keeps its data (`docker info` DockerRootDir), as its host sees it."""
        ...

    async def disk_usage(self) -> DiskUsage:
        """`docker system df`."""
        ...

    async def events(
        self, since: int, until: int, filters: dict[str, list[str]], limit: int
    ) -> tuple[list[EventRow], bool]:
        """Events between two unix times, the latest ``limit``."""
        ...

    async def prune_plan(
        self, targets: list[str], scope_label: str | None, *, named_volumes: bool = False
    ) -> PrunePlan:
        """What a prune would remove now (volumes: anonymous ones unless ``named_volumes``)."""
        ...

    async def prune(
        self, targets: list[str], scope_label: str | None, *, named_volumes: bool = False
    ) -> PrunePlan:
        """Remove what a prune plan finds now."""
        ...

    async def labels_of(self, kind: str, ref: str) -> dict[str, str]:
        """The labels of a container, network, volume or service."""
        ...

    async def labelled(self, kind: str, label: str) -> frozenset[str]:
        """The names of the networks, volumes or services carrying ``label``."""
        ...

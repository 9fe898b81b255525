"""Results of the Swarm tools: the swarm and its nodes, services and their tasks, stacks."""

from __future__ import annotations

from pydantic import Field

from mcp_docker_server.results._base import Compact

__all__ = [
    "NodeRow",
    "ServiceDetail",
    "ServiceResult",
    "ServiceRow",
    "StackResult",
    "StackRow",
    "SwarmResult",
    "TaskRow",
]


class NodeRow(Compact):
    """One swarm node."""

    id: str
    hostname: str
    role: str
    availability: str = Field(description="active, pause or drain.")
    state: str = Field(description="ready, down...")
    manager_status: str | None = Field(default=None, description="leader, reachable...")
    engine_version: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)


class SwarmResult(Compact):
    """Result of a swarm-management action."""

    action: str
    state: str = Field(description="Local node's swarm state: inactive, active, pending, error, locked.")
    node_id: str | None = None
    manager: bool = False
    cluster_id: str | None = None
    nodes: list[NodeRow] | None = None
    join_tokens: dict[str, str] | None = Field(
        default=None, description="Only when the operator allows it (show_join_tokens)."
    )
    note: str | None = None


class TaskRow(Compact):
    """One task (a replica's container) of a service."""

    id: str
    slot: int | None = None
    node: str
    desired: str
    state: str
    image: str
    error: str | None = None
    exit_code: int | None = None
    updated: str


class ServiceRow(Compact):
    """One service with its running/desired task counts."""

    id: str
    name: str
    image: str
    mode: str = Field(description="replicated or global.")
    running: int
    desired: int
    ports: list[str] = Field(default_factory=list, description="published->target/proto (mode).")
    update: str | None = Field(default=None, description="Rolling update state, when one ran.")


class ServiceDetail(ServiceRow):
    """A service in detail."""

    command: list[str] = Field(default_factory=list)
    env_keys: list[str] = Field(default_factory=list, description="Variable names; values are never shown.")
    mounts: list[str] = Field(default_factory=list)
    networks: list[str] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    limits: dict[str, str] = Field(default_factory=dict)
    restart: str | None = None
    update_config: dict[str, str] = Field(default_factory=dict)
    healthcheck: list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    previous_image: str | None = Field(default=None, description="Image a rollback returns to.")
    version: int


class ServiceResult(Compact):
    """Result of a service-management action."""

    action: str
    service: ServiceDetail | None = None
    services: list[ServiceRow] | None = None
    tasks: list[TaskRow] | None = None
    converged: bool | None = Field(default=None, description="All desired tasks running (when waited for).")
    seconds: float | None = Field(default=None, description="Time the change took to converge.")
    logs: str | None = None
    lines: int | None = None
    truncated: bool = False
    note: str | None = None


class StackRow(Compact):
    """One stack and its services."""

    name: str
    services: int


class StackResult(Compact):
    """Result of a stack-management action."""

    action: str
    stack: str | None = None
    stacks: list[StackRow] | None = None
    services: list[ServiceRow] | None = None
    tasks: list[TaskRow] | None = None
    output: str | None = Field(default=None, description="Tail of the docker CLI's output.")
    note: str | None = None

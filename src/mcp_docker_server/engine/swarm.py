"""Async Swarm operations: each is one worker-thread call under the deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.policy import Admitted
from mcp_docker_server.results.swarm import NodeRow, ServiceDetail, ServiceRow, SwarmResult, TaskRow
from mcp_docker_server.specs.swarm import ServicePatch, ServiceSpec

if TYPE_CHECKING:
    from mcp_docker_server.engine import _swarm_sync as ops
else:
    ops = lazy_module("mcp_docker_server.engine._swarm_sync")

__all__ = ["Swarm"]


class Swarm:
    """The swarm, its nodes, services and stacks, as seen from one engine (a manager)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def status(self, *, show_tokens: bool, with_nodes: bool) -> SwarmResult:
        """The local node's swarm state (and nodes, join tokens when allowed)."""
        return await self._engine.run(
            lambda c: ops.swarm_status(c, show_tokens=show_tokens, with_nodes=with_nodes), kind="swarm"
        )

    async def init(self, advertise_addr: str | None, listen_addr: str | None) -> str:
        """Start a swarm with this engine as its manager."""
        return await self._engine.run(lambda c: ops.init_swarm(c, advertise_addr, listen_addr), kind="swarm")

    async def leave(self, force: bool) -> None:
        """Leave the swarm."""
        await self._engine.run(lambda c: ops.leave_swarm(c, force), kind="swarm")

    async def node(self, node: str) -> NodeRow:
        """One node."""
        return await self._engine.run(lambda c: ops.inspect_node(c, node), kind="node", ref=node)

    async def set_availability(self, node: str, availability: str) -> NodeRow:
        """Set a node's availability."""
        return await self._engine.run(
            lambda c: ops.set_node_availability(c, node, availability), kind="node", ref=node
        )

    async def create_service(self, admitted: Admitted[ServiceSpec]) -> str:
        """Create an approved service."""
        spec = admitted.unwrap()
        return await self._engine.run(lambda c: ops.create_service(c, spec), kind="service", ref=spec.name)

    async def update(self, name: str, admitted: Admitted[ServicePatch]) -> None:
        """Apply an approved change to a service (rolling update)."""
        patch = admitted.unwrap()
        await self._engine.run(lambda c: ops.update_service(c, name, patch), kind="service", ref=name)

    async def scale(self, name: str, replicas: int) -> None:
        """Set the replica count."""
        await self._engine.run(lambda c: ops.scale_service(c, name, replicas), kind="service", ref=name)

    async def rollback(self, name: str) -> None:
        """Return to the previous definition."""
        await self._engine.run(lambda c: ops.rollback_service(c, name), kind="service", ref=name)

    async def remove(self, name: str) -> None:
        """Remove a service."""
        await self._engine.run(lambda c: ops.remove_service(c, name), kind="service", ref=name)

    async def services(self) -> list[ServiceRow]:
        """All services with their counts."""
        return await self._engine.run(ops.list_services, kind="service")

    async def service(self, name: str) -> ServiceDetail:
        """One service in detail."""
        return await self._engine.run(lambda c: ops.inspect_service(c, name), kind="service", ref=name)

    async def tasks(self, name: str, *, all_tasks: bool) -> list[TaskRow]:
        """A service's tasks."""
        return await self._engine.run(
            lambda c: ops.service_tasks(c, name, all_tasks=all_tasks), kind="service", ref=name
        )

    async def logs(self, name: str, tail: int, max_bytes: int) -> tuple[str, int, bool]:
        """The last lines of a service's logs."""
        return await self._engine.run(
            lambda c: ops.service_logs(c, name, tail, max_bytes), kind="service", ref=name
        )

    async def wait(self, name: str, timeout: float, *, rollback: bool = False) -> tuple[bool, float]:
        """Wait until the service converged (or ``timeout``)."""
        return await self._engine.run(
            lambda c: ops.wait_converged(c, name, timeout, rollback=rollback),
            kind="service",
            ref=name,
            timeout=timeout + 10,
        )

    async def stacks(self) -> dict[str, int]:
        """Stacks and their service counts."""
        return await self._engine.run(ops.list_stacks, kind="stack")

    async def stack_services(self, stack: str) -> list[ServiceRow]:
        """A stack's services."""
        return await self._engine.run(lambda c: ops.stack_services(c, stack), kind="stack", ref=stack)

    async def stack_tasks(self, stack: str) -> list[TaskRow]:
        """A stack's running tasks."""
        return await self._engine.run(lambda c: ops.stack_tasks(c, stack), kind="stack", ref=stack)

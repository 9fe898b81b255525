"""Async network operations: each is one worker-thread call under the deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.policy import Admitted
from mcp_docker_server.results.networks import NetworkResult
from mcp_docker_server.specs.networks import NetworkSpec

if TYPE_CHECKING:
    from mcp_docker_server.engine import _networks_sync as ops
else:
    ops = lazy_module("mcp_docker_server.engine._networks_sync")

__all__ = ["Networks"]


class Networks:
    """Network operations on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def listing(self, pattern: str) -> NetworkResult:
        """Networks matching a name glob or substring."""
        return await self._engine.run(lambda c: ops.list_networks(c, pattern), kind="network")

    async def inspect(self, name: str) -> NetworkResult:
        """One network in detail."""
        return await self._engine.run(lambda c: ops.inspect_network(c, name), kind="network", ref=name)

    async def create(self, admitted: Admitted[NetworkSpec]) -> NetworkResult:
        """Create a network the policy approved (policy.networks.admit_network)."""
        spec = admitted.unwrap()
        return await self._engine.run(lambda c: ops.create_network(c, spec), kind="network", ref=spec.name)

    async def remove(self, name: str) -> NetworkResult:
        """Remove an unused network."""
        return await self._engine.run(lambda c: ops.remove_network(c, name), kind="network", ref=name)

    async def connect(self, name: str, containers: list[str], *, connect: bool, force: bool) -> NetworkResult:
        """Connect or disconnect containers."""
        return await self._engine.run(
            lambda c: ops.connect_network(c, name, containers, connect=connect, force=force),
            kind="network",
            ref=name,
        )

    async def prune(self, pattern: str) -> NetworkResult:
        """Remove unused user-defined networks matching a glob."""
        return await self._engine.run(lambda c: ops.prune_networks(c, pattern), kind="network")

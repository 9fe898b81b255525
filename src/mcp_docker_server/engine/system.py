"""Async system operations: each is one worker-thread call under the deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.models_system import DiskUsage, EventRow, PrunePlan

if TYPE_CHECKING:
    from mcp_docker_server.engine import _system_sync as ops
else:
    ops = lazy_module("mcp_docker_server.engine._system_sync")

__all__ = ["System"]


class System:
    """Engine-wide operations on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def version(self, timeout: float | None = None) -> dict[str, str]:
        """Engine, API and component versions."""
        return await self._engine.run(ops.version, kind="engine", timeout=timeout)

    async def info(self) -> dict[str, str | int | bool | list[str]]:
        """The engine's `docker info`, compact."""
        return await self._engine.run(ops.info, kind="engine")

    async def disk_usage(self) -> DiskUsage:
        """`docker system df`."""
        return await self._engine.run(ops.disk_usage, kind="engine")

    async def events(
        self, since: int, until: int, filters: dict[str, list[str]], limit: int
    ) -> tuple[list[EventRow], bool]:
        """Events between two unix times, the latest ``limit``."""
        return await self._engine.run(lambda c: ops.events(c, since, until, filters, limit), kind="engine")

    async def prune_plan(self, targets: list[str], scope_label: str | None) -> PrunePlan:
        """What a prune would remove now."""
        return await self._engine.run(lambda c: ops.prune_plan(c, targets, scope_label), kind="engine")

    async def prune(self, targets: list[str], scope_label: str | None) -> PrunePlan:
        """Remove what a prune plan finds now."""
        return await self._engine.run(lambda c: ops.prune(c, targets, scope_label), kind="engine")

    async def labels_of(self, kind: str, ref: str) -> dict[str, str]:
        """The labels of a container, network, volume or service."""
        return await self._engine.run(lambda c: ops.labels_of(c, kind, ref), kind=kind, ref=ref)

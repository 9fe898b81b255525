"""Async system operations: each is one worker-thread call under the deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.results.system import DiskUsage, EventRow, PrunePlan

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

    async def data_root(self) -> str:
        """Where the engine keeps its data (`docker info` DockerRootDir), as its host sees it."""
        deadline = min(5.0, self._engine.target.timeout)  # asked before another call: keep it short
        return await self._engine.run(ops.data_root, kind="engine", timeout=deadline)

    async def disk_usage(self) -> DiskUsage:
        """`docker system df`."""
        return await self._engine.run(ops.disk_usage, kind="engine")

    async def events(
        self, since: int, until: int, filters: dict[str, list[str]], limit: int
    ) -> tuple[list[EventRow], bool]:
        """Events between two unix times, the latest ``limit``."""
        return await self._engine.run(lambda c: ops.events(c, since, until, filters, limit), kind="engine")

    async def prune_plan(
        self, targets: list[str], scope_label: str | None, *, named_volumes: bool = False
    ) -> PrunePlan:
        """What a prune would remove now (volumes: anonymous ones unless ``named_volumes``)."""
        return await self._engine.run(
            lambda c: ops.prune_plan(c, targets, scope_label, named_volumes=named_volumes), kind="engine"
        )

    async def prune(
        self, targets: list[str], scope_label: str | None, *, named_volumes: bool = False
    ) -> PrunePlan:
        """Remove what a prune plan finds now."""
        return await self._engine.run(
            lambda c: ops.prune(c, targets, scope_label, named_volumes=named_volumes), kind="engine"
        )

    async def labels_of(self, kind: str, ref: str) -> dict[str, str]:
        """The labels of a container, network, volume or service."""
        return await self._engine.run(lambda c: ops.labels_of(c, kind, ref), kind=kind, ref=ref)

    async def labelled(self, kind: str, label: str) -> frozenset[str]:
        """The names of the networks, volumes or services carrying ``label``."""
        return await self._engine.run(lambda c: ops.labelled_names(c, kind, label), kind=kind)

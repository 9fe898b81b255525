"""Async volume operations: each is one worker-thread call under the deadline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.policy import Admitted
from mcp_docker_server.results.volumes import VolumeResult
from mcp_docker_server.specs.volumes import VolumeSpec

if TYPE_CHECKING:
    from mcp_docker_server.engine import _volumes_sync as ops
else:
    ops = lazy_module("mcp_docker_server.engine._volumes_sync")

__all__ = ["Volumes"]


class Volumes:
    """Volume operations on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def listing(self, pattern: str) -> VolumeResult:
        """Volumes matching a name glob or substring."""
        return await self._engine.run(lambda c: ops.list_volumes(c, pattern), kind="volume")

    async def inspect(self, name: str) -> VolumeResult:
        """One volume in detail."""
        return await self._engine.run(lambda c: ops.inspect_volume(c, name), kind="volume", ref=name)

    async def options(self, names: list[str]) -> dict[str, Mapping[str, str]]:
        """Driver options of the existing volumes among ``names``."""
        if not names:
            return {}
        return await self._engine.run(lambda c: ops.volume_options(c, names), kind="volume")

    async def create(self, admitted: Admitted[VolumeSpec]) -> VolumeResult:
        """Create a volume the policy approved."""
        spec = admitted.unwrap()
        return await self._engine.run(lambda c: ops.create_volume(c, spec), kind="volume", ref=spec.name)

    async def remove(self, name: str, *, force: bool) -> VolumeResult:
        """Remove a volume no container mounts."""
        return await self._engine.run(
            lambda c: ops.remove_volume(c, name, force=force), kind="volume", ref=name
        )

    async def prune(self, pattern: str, *, include_named: bool = False) -> VolumeResult:
        """Remove volumes no container mounts, matching a glob: anonymous ones unless
        ``include_named``."""
        return await self._engine.run(
            lambda c: ops.prune_volumes(c, pattern, include_named=include_named), kind="volume"
        )

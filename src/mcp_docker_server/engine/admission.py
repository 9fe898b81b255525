"""Async access to the engine's own descriptions of what it runs (for the policy to judge)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.policy.admission import ContainerDescription, NetworkInfo, VolumeInfo

if TYPE_CHECKING:
    from mcp_docker_server.engine import _admission_sync as ops
    from mcp_docker_server.engine._admission_sync import ProjectResources
else:
    ops = lazy_module("mcp_docker_server.engine._admission_sync")

__all__ = ["Admission"]


class Admission:
    """Descriptions and clean-up on one engine, for the guard."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def container(self, ref: str) -> ContainerDescription:
        """The inspected container and the named volumes it mounts."""
        return await self._engine.run(lambda c: ops.describe_container(c, ref), kind="container", ref=ref)

    async def bind_sources(self) -> tuple[tuple[str, bool, str], ...]:
        """Every container's bind mounts: (source, read-write, container name)."""
        return await self._engine.run(ops.bind_sources, kind="container")

    async def service(
        self, ref: str, *, previous: bool = False
    ) -> tuple[str, dict[str, Any], list[str], dict[str, VolumeInfo], dict[str, NetworkInfo]]:
        """A swarm service's task template (``previous``: the one a rollback restores), its
        networks' names, its volumes and networks."""
        return await self._engine.run(
            lambda c: ops.describe_service(c, ref, previous=previous), kind="service", ref=ref
        )

    async def project(self, project: str) -> ProjectResources:
        """What a Compose project has on the engine now."""
        return await self._engine.run(lambda c: ops.project_resources(c, project), kind="container")

    async def project_containers(
        self, project: str, services: Iterable[str], built_images: frozenset[str]
    ) -> list[ContainerDescription]:
        """Descriptions of the project's containers of ``services``."""
        wanted = list(services)
        return await self._engine.run(
            lambda c: ops.describe_project(c, project, wanted, built_images), kind="container"
        )

    async def remove(self, made: ProjectResources) -> None:
        """Remove what a refused call created."""
        await self._engine.run(lambda c: ops.remove_resources(c, made), kind="container")

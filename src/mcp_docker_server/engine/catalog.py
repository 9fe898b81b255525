"""Async name listings (for completions) and Compose project state: one request each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.results.compose import ComposeService

if TYPE_CHECKING:
    from mcp_docker_server.engine import _catalog_sync as ops
else:
    ops = lazy_module("mcp_docker_server.engine._catalog_sync")

__all__ = ["Catalog"]


class Catalog:
    """What exists on one engine, by name."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def names(self, kind: str, scope_label: str | None, *, timeout: float = 5.0) -> list[str]:
        """Sorted names of one kind: container, image, network, volume or project."""
        return await self._engine.run(
            lambda c: ops.names(c, kind, scope_label),
            kind=kind,
            timeout=min(timeout, self._engine.target.timeout),
        )

    async def compose_project(self, project: str) -> list[ComposeService]:
        """The containers of a Compose project, found by Compose's labels."""
        return await self._engine.run(lambda c: ops.compose_project(c, project), kind="project", ref=project)

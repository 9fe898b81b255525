"""Async reads of what an image is and holds: its facts, its registry digest, and chosen files
of its filesystem (from the image export; nothing runs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from mcp_docker_server.engine.core import Engine, lazy_module

if TYPE_CHECKING:
    from mcp_docker_server.engine import _images_fs_sync as ops
    from mcp_docker_server.engine._images_fs_sync import ImageFiles
    from mcp_docker_server.results.security import ImageFacts
else:
    ops = lazy_module("mcp_docker_server.engine._images_fs_sync")
    ImageFiles = object

__all__ = ["ImageContents"]

_GiB = 1024**3


class ImageContents:
    """Read-only image inspection on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def facts(self, ref: str) -> ImageFacts:
        """Config, labels, env and history of a local image."""
        return await self._engine.run(lambda c: ops.image_facts(c, ref), kind="image", ref=ref)

    async def local_digest(self, ref: str) -> str | None:
        """The registry digest recorded for a local image's repository, if any."""
        return await self._engine.run(lambda c: ops.local_digest(c, ref), kind="image", ref=ref)

    async def registry_digest(self, ref: str, auth: Mapping[str, str] | None) -> str:
        """The digest the registry serves for ``ref`` (asked through the engine)."""
        return await self._engine.run(lambda c: ops.registry_digest(c, ref, auth), kind="image", ref=ref)

    async def files(self, ref: str, wanted: Callable[[str], bool], timeout: float) -> ImageFiles:
        """The files ``wanted`` selects from the image's final filesystem, bounded in size;
        the export stream is shut on cancellation or deadline."""
        from mcp_docker_server.engine._images_sync import StreamHandle

        handle = StreamHandle()
        return await self._engine.run(
            lambda c: ops.read_image_files(
                c, ref, wanted, handle, max_file=64 * 1024**2, max_kept=256 * 1024**2, max_export=16 * _GiB
            ),
            kind="image",
            ref=ref,
            timeout=timeout,
            on_cancel=handle.cancel,
        )

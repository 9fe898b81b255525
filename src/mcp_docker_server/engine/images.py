"""Async image operations. Pull, push and build stream progress and stop on cancellation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import anyio

from mcp_docker_server.config.settings import RegistrySettings
from mcp_docker_server.engine.build_context import ContextPlan
from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.results.images import BuildPreview, BuildResult, ContextEntry, ImageResult
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.specs.images import BuildSpec

if TYPE_CHECKING:
    from mcp_docker_server.engine import _images_sync as ops
else:
    ops = lazy_module("mcp_docker_server.engine._images_sync")

__all__ = ["Images"]


class Images:
    """Image operations on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def listing(self, pattern: str, limit: int) -> ImageResult:
        """Local images matching a tag glob or substring."""
        return await self._engine.run(lambda c: ops.list_images(c, pattern, limit), kind="image")

    async def inspect(self, ref: str) -> ImageResult:
        """Compact inspect."""
        return await self._engine.run(lambda c: ops.inspect_image(c, ref), kind="image", ref=ref)

    async def history(self, ref: str, limit: int) -> ImageResult:
        """Layer history."""
        return await self._engine.run(lambda c: ops.image_history(c, ref, limit), kind="image", ref=ref)

    async def tag(self, ref: str, new_ref: str) -> ImageResult:
        """Add a name."""
        return await self._engine.run(lambda c: ops.tag_image(c, ref, new_ref), kind="image", ref=ref)

    async def remove(self, ref: str, *, force: bool) -> ImageResult:
        """Untag and delete."""
        return await self._engine.run(lambda c: ops.remove_image(c, ref, force=force), kind="image", ref=ref)

    async def prune(self) -> ImageResult:
        """Delete dangling images."""
        return await self._engine.run(ops.prune_images, kind="image")

    async def auth_for(
        self, ref: str, explicit: Mapping[str, str] | None, settings: RegistrySettings
    ) -> dict[str, str] | None:
        """Registry credentials for the registry ``ref`` lives on, and only for it (never
        returned to the model). Runs in a thread: a credential helper is a subprocess."""

        def work() -> dict[str, str] | None:
            return ops.resolve_auth(ops.registry_of(ref), explicit, settings)

        return await anyio.to_thread.run_sync(work)

    async def transfer(
        self,
        verb: Literal["pull", "push"],
        ref: str,
        auth: Mapping[str, str] | None,
        progress: Progress,
        timeout: float,
    ) -> ImageResult:
        """Pull or push, stopping the engine's transfer on cancellation or deadline."""
        handle = ops.StreamHandle()
        return await self._engine.run(
            lambda c: ops.transfer_image(c, verb, ref, auth, progress, handle),
            kind="image",
            ref=ref,
            timeout=timeout,
            on_cancel=handle.cancel,
        )

    async def preview(self, request: BuildSpec, *, buildkit: bool) -> BuildPreview:
        """What the build would send (read here, in a worker thread; the engine is not asked).

        Raises:
            InvalidArgument: the context or Dockerfile is wrong.
        """

        def work() -> BuildPreview:
            plan = ops.prepare_build(
                request.path, request.dockerfile, request.target, 2**62, buildkit=buildkit
            )
            return _preview(plan, request.max_context_bytes)

        return await anyio.to_thread.run_sync(work)

    async def check_context(self, request: BuildSpec, *, allow_secret_files: bool) -> None:
        """What a BuildKit build is refused for before buildx starts (read here, in a worker
        thread): the context, the Dockerfile, the target, the size, secret-looking files.

        Raises:
            InvalidArgument: the context or Dockerfile is wrong, or the context is too big.
            PolicyDenied: secret-looking files, unless ``allow_secret_files``.
        """

        def work() -> None:
            from mcp_docker_server.engine.build_context import secret_files_refused

            plan = ops.prepare_build(
                request.path, request.dockerfile, request.target, request.max_context_bytes, buildkit=True
            )
            if plan.secrets and not allow_secret_files:
                raise secret_files_refused(plan)

        await anyio.to_thread.run_sync(work)

    async def build(
        self, request: BuildSpec, progress: Progress, timeout: float, *, allow_secret_files: bool = False
    ) -> BuildResult:
        """Build; on cancellation or deadline, stop it and remove the layers it committed.
        A context with files that look like secrets is refused unless ``allow_secret_files``."""
        handle = ops.StreamHandle()
        log = ops.BuildLog()
        try:
            return await self._engine.run(
                lambda c: ops.build_image(c, request, progress, handle, log, allow_secret_files),
                kind="image",
                ref=request.tag,
                timeout=timeout,
                on_cancel=handle.cancel,
            )
        finally:
            if handle.cancelled:
                with anyio.CancelScope(shield=True):
                    # The engine stops the build once its connection is gone; give it a moment
                    # to remove the step container, then drop the layers it had committed.
                    await anyio.sleep(0.5)
                    await self._engine.run(
                        lambda c: ops.discard_build_layers(c, list(log.layers)), kind="image"
                    )


def _preview(plan: ContextPlan, limit: int) -> BuildPreview:
    notes = ["nothing was built"]
    if plan.total_bytes > limit:
        notes.append(f"the context is over the {limit // 2**20} MiB limit: a build would be refused")
    if plan.secrets:
        notes.append(
            "a build would be refused for the secret-looking files unless .dockerignore lists them "
            "or the call sets allow_secret_files to true"
        )
    return BuildPreview(
        context=str(plan.root),
        dockerfile=str(plan.dockerfile),
        files=plan.files,
        symlinks=plan.links,
        total_bytes=plan.total_bytes,
        limit_bytes=limit,
        largest=[ContextEntry(path=p, size_bytes=s) for p, s in plan.largest],
        secret_files=list(plan.secrets[:50]),
        dockerignore=list(plan.patterns[:50]),
        note="; ".join(notes) + ".",
    )

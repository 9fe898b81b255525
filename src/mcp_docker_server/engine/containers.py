"""Async container operations: each is one worker-thread call under the engine's deadline."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from mcp_docker_server.engine.core import Engine, lazy_module
from mcp_docker_server.policy import Admitted
from mcp_docker_server.policy.admission import ContainerDescription
from mcp_docker_server.results.containers import (
    ContainerDetail,
    ContainerList,
    ExecResult,
    LogsResult,
    ManageResult,
    ProcessTable,
    RunResult,
    StatsResult,
)
from mcp_docker_server.specs.containers import ContainerSpec, ExecSpec

if TYPE_CHECKING:
    import regex

    from mcp_docker_server.engine import _containers_sync as ops
else:
    ops = lazy_module("mcp_docker_server.engine._containers_sync")

__all__ = ["Containers"]


class Containers:
    """Container operations on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def list(
        self,
        *,
        include_stopped: bool = False,
        status: str | None = None,
        labels: list[str] | None = None,
        name: str | None = None,
        limit: int = 50,
    ) -> ContainerList:
        """Containers matching the filters, in one engine request."""
        return await self._engine.run(
            lambda c: ops.list_containers(
                c, include_stopped=include_stopped, status=status, labels=labels or [], name=name, limit=limit
            ),
            kind="container",
        )

    async def inspect(self, ref: str, *, show_env: bool = False) -> ContainerDetail:
        """Compact inspect."""
        return await self._engine.run(
            lambda c: ops.inspect_container(c, ref, show_env=show_env), kind="container", ref=ref
        )

    async def logs(
        self,
        ref: str,
        *,
        tail: int,
        since: str | None,
        until: str | None,
        timestamps: bool,
        pattern: regex.Pattern[str] | None,
        max_bytes: int,
    ) -> LogsResult:
        """Bounded logs."""
        return await self._engine.run(
            lambda c: ops.container_logs(
                c,
                ref,
                tail=tail,
                since=since,
                until=until,
                timestamps=timestamps,
                pattern=pattern,
                max_bytes=max_bytes,
            ),
            kind="container",
            ref=ref,
        )

    async def default_user(self, ref: str) -> str:
        """The user a container's processes run as unless told otherwise ("" is root)."""
        return await self._engine.run(lambda c: ops.container_user(c, ref), kind="container", ref=ref)

    async def stats(self, ref: str) -> StatsResult:
        """One resource sample."""
        return await self._engine.run(lambda c: ops.container_stats(c, ref), kind="container", ref=ref)

    async def top(self, ref: str, *, ps_args: str | None, limit: int) -> ProcessTable:
        """Process list."""
        return await self._engine.run(
            lambda c: ops.container_top(c, ref, ps_args=ps_args, limit=limit), kind="container", ref=ref
        )

    async def manage(
        self, ref: str, *, action: str, force: bool, timeout: int | None, signal: str | None
    ) -> ManageResult:
        """Lifecycle action; the deadline covers the stop grace period too."""
        grace = float(timeout if timeout is not None else 10)
        return await self._engine.run(
            lambda c: ops.manage_container(
                c, ref, action=action, force=force, timeout=timeout, signal=signal
            ),
            kind="container",
            ref=ref,
            timeout=self._engine.target.timeout + grace,
        )

    async def run(
        self,
        admitted: Admitted[ContainerSpec],
        *,
        detach: bool,
        pull: str,
        wait_timeout: float,
        max_bytes: int,
        judge: Callable[[ContainerDescription], None],
        auth_config: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Create, judge (``judge`` raises to refuse the engine's description of the created
        container, which is then removed), start (pulling first if needed); wait when not
        detached."""
        spec = admitted.request
        budget = self._engine.target.timeout
        return await self._engine.run(
            lambda c: ops.run_container(
                c,
                admitted,
                detach=detach,
                pull=pull,
                pull_deadline=budget,
                wait_timeout=wait_timeout,
                max_bytes=max_bytes,
                auth_config=auth_config,
                judge=judge,
            ),
            kind="container",
            ref=spec.name or spec.image,
            timeout=budget * 2 + (0 if detach else wait_timeout),
        )

    async def exec(self, admitted: Admitted[ExecSpec], *, timeout: float, max_bytes: int) -> ExecResult:
        """Run a process inside a running container."""
        ref = admitted.request.container
        return await self._engine.run(
            lambda c: ops.exec_in_container(c, admitted, timeout=timeout, max_bytes=max_bytes),
            kind="container",
            ref=ref,
            timeout=self._engine.target.timeout + timeout,
        )

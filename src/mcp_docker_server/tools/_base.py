"""The single enforcement point every tool goes through, and the annotation presets.

Tools are made only through :meth:`Guard.add`, which wraps each one so that:
the call is checked against the operator's policy before the tool body runs, every failure
becomes a readable ``isError`` result (the SDK masks anything but ``ToolError``), and the
audit log records the tool and the *names* of its arguments, never their values. Requests
that create something go through :meth:`Guard.admit_container` / :meth:`Guard.admit_exec`,
whose sealed result is the only thing the engine layer accepts.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ParamSpec, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel

from mcp_docker_server.compose import ComposePlan, ComposeRunner, ProjectRequests, compose_env
from mcp_docker_server.engine import Containers, Engine, Images, Networks, Volumes
from mcp_docker_server.errors import DockerServerError, PolicyDenied
from mcp_docker_server.policy import (
    Admitted,
    PathInfo,
    PathResolver,
    Policy,
    admit,
    admit_container,
    admit_exec,
    admit_volume,
    lexical_resolver,
)
from mcp_docker_server.progress import Progress
from mcp_docker_server.settings import Settings
from mcp_docker_server.specs import ContainerSpec, ExecSpec, VolumeSpec

__all__ = [
    "DESTRUCTIVE",
    "MUTATING",
    "MUTATING_OPEN",
    "READ_ONLY",
    "AppState",
    "Guard",
    "compact_result",
    "local_resolver",
    "slim_schema",
    "with_progress",
]

P = ParamSpec("P")
R = TypeVar("R")

audit = logging.getLogger("mcp_docker_server.audit")

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
MUTATING = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
# Mutating and may reach a registry (a missing image is pulled).
MUTATING_OPEN = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)


def local_resolver(path: str) -> PathInfo:
    """Resolve a host path on this machine: symlinks, ``..``, doubled and trailing slashes."""
    real = os.path.realpath(path)
    try:
        is_socket = stat.S_ISSOCK(os.stat(real).st_mode)
    except OSError:
        is_socket = False
    return PathInfo(real_path=real, is_socket=is_socket)


@dataclass
class AppState:
    """What every tool needs: settings, the engine, and the operator's policy."""

    settings: Settings
    engine: Engine
    policy: Policy

    @property
    def containers(self) -> Containers:
        """Container operations on the engine."""
        return Containers(self.engine)

    @property
    def networks(self) -> Networks:
        """Network operations on the engine."""
        return Networks(self.engine)

    @property
    def volumes(self) -> Volumes:
        """Volume operations on the engine."""
        return Volumes(self.engine)

    @property
    def images(self) -> Images:
        """Image operations on the engine."""
        return Images(self.engine)

    @cached_property
    def compose(self) -> ComposeRunner:
        """Compose, pointed at the same engine."""
        return ComposeRunner(compose_env(self.engine.target, self.settings.docker_config, os.environ))

    @property
    def resolver(self) -> PathResolver:
        """Host paths are resolved on this machine only when the engine runs here too; for a
        remote engine they can only be normalised (its symlinks are out of sight)."""
        return local_resolver if self.engine.target.scheme == "unix" else lexical_resolver


class Guard:
    """The one gate between the model's requests and the engine."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.tools: list[Tool] = []

    async def admit_container(self, spec: ContainerSpec) -> Admitted[ContainerSpec]:
        """Approve a container spec under the operator's policy. Named volumes it mounts are
        looked up first: one whose options make it a bind mount is judged as one.

        Raises:
            PolicyDenied: the spec breaks a rule.
        """
        named = sorted({m.source for m in spec.mounts if m.kind == "volume"})
        options = await self.state.volumes.options(named)
        return admit_container(self.state.policy, spec, self.state.resolver, options)

    async def admit_compose(self, plan: ComposePlan, requests: ProjectRequests) -> Admitted[ComposePlan]:
        """Approve a compose project: its resolved configuration passes the same checks as a
        direct call, service by service, volume by volume.

        Raises:
            PolicyDenied: naming the service or volume and the rule.
        """
        policy, resolver = self.state.policy, self.state.resolver
        where = "project"
        try:
            for volume in requests.volumes:
                where = f"volume {volume.name}"
                admit_volume(policy, volume, resolver)
            options = await self.state.volumes.options(list(requests.external_volumes))
            for spec in requests.containers:
                where = f"service {spec.name}"
                admit_container(policy, spec, resolver, options)
        except PolicyDenied as exc:
            reason = exc.message.split(": ", 1)[-1].rstrip(".")
            raise PolicyDenied(exc.rule, f"{where}: {reason}", hint=exc.hint) from exc
        return admit(plan)

    def admit_volume(self, spec: VolumeSpec) -> Admitted[VolumeSpec]:
        """Approve a volume under the operator's policy.

        Raises:
            PolicyDenied: its driver options bind a path the policy protects.
        """
        return admit_volume(self.state.policy, spec, self.state.resolver)

    def admit_exec(self, spec: ExecSpec) -> Admitted[ExecSpec]:
        """Approve an exec under the operator's policy.

        Raises:
            PolicyDenied: the exec breaks a rule.
        """
        return admit_exec(self.state.policy, spec)

    def add(
        self, fn: Callable[P, Awaitable[R]], *, name: str, title: str, annotations: ToolAnnotations
    ) -> None:
        """Make ``fn`` the guarded tool ``name``; the server is built from :attr:`tools`."""
        tool = Tool.from_function(self._wrap(name, fn), name=name, title=title, annotations=annotations)
        # Every conversation pays for the tool list: drop pydantic's generated titles, which
        # repeat the property names.
        tool.parameters = slim_schema(tool.parameters)
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = slim_schema(tool.fn_metadata.output_schema)
        self.tools.append(tool)

    def _wrap(self, name: str, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | CallToolResult]]:
        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R | CallToolResult:
            started = time.monotonic()
            shape = sorted(k for k, v in kwargs.items() if v is not None and k != "ctx")
            try:
                result = await fn(*args, **kwargs)
            except DockerServerError as exc:
                audit.info("tool=%s args=%s outcome=error kind=%s", name, shape, type(exc).__name__)
                raise ToolError(str(exc)) from exc
            audit.info("tool=%s args=%s outcome=ok ms=%d", name, shape, (time.monotonic() - started) * 1000)
            return compact_result(result) if isinstance(result, BaseModel) else result

        return guarded


def compact_result(model: BaseModel) -> CallToolResult:
    """Structured content in full; the text the model reads is one line of JSON without the
    nulls, empty lists and default flags (the SDK's own rendering is indented and complete)."""
    text = model.model_dump_json(exclude_none=True, exclude_defaults=True)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


def slim_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema without the ``title`` annotations (a property *named* title survives)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items() if not (k == "title" and isinstance(v, str))}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


async def with_progress(ctx: Context[Any], progress: Progress, work: Awaitable[R]) -> R:
    """Await ``work`` while relaying ``progress`` to the client: on every change, and at least
    once a second while nothing changes (so a client can tell slow from stuck)."""

    async def relay() -> None:
        sent_version, sent_at = -1, 0.0
        while True:
            snap = progress.snapshot()
            now = time.monotonic()
            if snap.version != sent_version or now - sent_at >= 1:
                elapsed = int(now - progress.started)
                await ctx.report_progress(snap.done, snap.total, f"{snap.message} ({elapsed}s)")
                sent_version, sent_at = snap.version, now
            await anyio.sleep(0.25)

    # The failure is carried out of the task group by hand: raised inside it, it would come
    # out wrapped in an ExceptionGroup and lose its readable message.
    failure: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(relay)
        try:
            result = await work
        except Exception as exc:  # noqa: BLE001 - re-raised unchanged below
            failure = exc
        finally:
            group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return result

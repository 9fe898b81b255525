"""The single enforcement point every tool goes through.

Tools are made only through :meth:`Guard.add`. It decides which tools exist at all (read-only
mode, allow and deny lists), and wraps each one so that: an action the operator gated is
refused before anything happens, every failure becomes a readable ``isError`` result (the SDK
masks anything but ``ToolError``), and every mutating call leaves an audit record with the
argument *shape*, never secret values. Requests that create something go through
:meth:`Guard.admit_container` and friends, whose sealed result is the only thing the engine
layer accepts.

Every tool takes an ``engine`` argument, published only when the operator configured several
engines. The wrapper picks that engine (its connection and its own policy) for the duration of
the call; a mutating call that names none is refused rather than sent to a guessed engine.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Annotated, Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_docker_server.compose import ComposePlan, ProjectRequests
from mcp_docker_server.errors import DockerServerError, InvalidArgument, PolicyDenied
from mcp_docker_server.policy import (
    Admitted,
    admit,
    admit_container,
    admit_exec,
    admit_service,
    admit_service_patch,
    admit_volume,
    check_image,
)
from mcp_docker_server.policy.admission import (
    Bind,
    ContainerDescription,
    VolumeInfo,
    judge_container,
    judge_nesting,
    judge_task_template,
    volume_binds,
)
from mcp_docker_server.policy.compose import judge_compose_config
from mcp_docker_server.policy.exposure import exposure_refusal, tool_exposed
from mcp_docker_server.policy.model import PathResolver
from mcp_docker_server.results.shaping import redact_secrets
from mcp_docker_server.specs.containers import ContainerSpec, ExecSpec
from mcp_docker_server.specs.swarm import ServicePatch, ServiceSpec
from mcp_docker_server.specs.volumes import VolumeSpec
from mcp_docker_server.state import AppState, EngineSet
from mcp_docker_server.tools._arguments import ArgumentCheckedTool
from mcp_docker_server.tools._host_binds import HostBinds
from mcp_docker_server.tools._output import (
    compact_result,
    offered_actions,
    read_only_annotations,
    slim_schema,
)
from mcp_docker_server.tools._scope import check_scope, scoped_arguments, scoped_result
from mcp_docker_server.tools._signing import require_signatures
from mcp_docker_server.tools.audit import AuditLog
from mcp_docker_server.tools.catalog import CATALOG, ToolDecl

__all__ = ["Guard"]

P = ParamSpec("P")
R = TypeVar("R")

EngineArg = Annotated[str | None, Field(default=None, max_length=64)]


class Guard:
    """The one gate between the model's requests and the engine."""

    def __init__(self, engines: EngineSet) -> None:
        self.engines = engines
        self.hosts = HostBinds(engines)
        self.tools: list[Tool] = []
        default = engines.get(None)
        self.audit = AuditLog(default.policy.audit_log)  # one audit file, the default engine's
        self._current: ContextVar[AppState] = ContextVar("engine", default=default)

    @property
    def state(self) -> AppState:
        """The engine (connection and policy) of the call in progress."""
        return self._current.get()

    async def admit_container(self, spec: ContainerSpec) -> Admitted[ContainerSpec]:
        """Approve a container spec under the operator's policy. Named volumes it mounts are
        looked up first: one whose options make it a bind mount is judged as one.

        Raises:
            PolicyDenied: the spec breaks a rule.
        """
        named = sorted({m.source for m in spec.mounts if m.kind == "volume"})
        options = await self.state.volumes.options(named)
        admitted = admit_container(self.state.policy, spec, self.state.resolver, options)
        if self.state.engine.target.scheme == "unix":
            for mount in admitted.request.mounts:
                # The engine would make a missing source as an empty root-owned folder, anywhere
                # on the host (`docker run --mount` refuses it too).
                if mount.kind == "bind" and not self.state.resolver(mount.source).exists:
                    raise InvalidArgument(
                        f"The bind source {mount.source} does not exist on the engine's host.",
                        hint="create the folder first, or mount a named volume instead.",
                    )
        await self._signed([spec.image])
        return admitted

    async def container_judge(
        self, built_images: frozenset[str] = frozenset()
    ) -> Callable[[ContainerDescription], None]:
        """The judge of the engine's description of a container this call created (run before
        it starts, in the engine's worker thread), bound to this call's engine policy. The
        description brings the call's engine's other containers; the containers of the other
        engines on this host are listed now, before the create (:meth:`HostBinds.neighbour_binds`).

        Raises:
            DockerServerError: never for another engine (an unreachable one is refused in the
                judgement, and only for a container with binds).
        """
        return await self.container_judges(built_images)()

    def container_judges(
        self, built_images: frozenset[str] = frozenset()
    ) -> Callable[[], Awaitable[Callable[[ContainerDescription], None]]]:
        """:meth:`container_judge` bound to this call's engine, for later use (a watch's
        rebuilds): each call lists the other engines again."""
        state = self.state
        policy, resolver = state.policy, state.resolver

        async def make() -> Callable[[ContainerDescription], None]:
            extra, unlisted = await self.hosts.neighbour_binds(state)
            watched = self.hosts.watched_folders()

            def judge(desc: ContainerDescription) -> None:
                seen = replace(
                    desc,
                    built_images=desc.built_images | built_images,
                    other_binds=desc.other_binds + extra,
                    watched=watched,
                    unlisted=desc.unlisted + unlisted,
                )
                judge_container(policy, seen, resolver)

            return judge

        return make

    def watched_folders(self) -> tuple[tuple[str, str], ...]:
        """Every folder a watch of this server syncs, on any engine: (folder, project)."""
        return self.hosts.watched_folders()

    async def host_binds(self, *, read_here: bool = False) -> tuple[tuple[Bind, ...], tuple[str, ...]]:
        """The host folders containers mount for the nested-bind rule, on this call's engine
        and the engines that share its host (``read_here``: every engine on this machine, for
        a path this machine reads), and the engines that could not be listed
        (:meth:`HostBinds.host_binds`).

        Raises:
            DockerServerError: the call's own engine could not list its containers.
        """
        return await self.hosts.host_binds(self.state, read_here=read_here)

    async def admit_existing(self, ref: str, action: str) -> None:
        """Before acting on an existing container (exec, start, restart, unpause), judge it as if
        it were being created now: a container made outside this server, or before the policy
        changed, gets nothing through this server that a new one could not.

        Raises:
            PolicyDenied: naming the container, the field, and the keys that would allow it.
        """
        if self.state.policy.allow_foreign_containers:
            return
        try:
            judge = await self.container_judge()
            judge(await self.state.admission.container(ref))
        except PolicyDenied as exc:
            raise _foreign(exc, f"{action} on {ref}") from exc

    async def admit_existing_service(self, ref: str, action: str) -> None:
        """Before changing an existing swarm service, judge its task template as stored.

        Raises:
            PolicyDenied: naming the service, the field, and the keys that would allow it.
        """
        if self.state.policy.allow_foreign_containers:
            return
        try:
            await self.judge_service(ref)
        except PolicyDenied as exc:
            raise _foreign(exc, f"{action} of service {ref}") from exc

    def judge_service_binds(
        self,
        service: str,
        label: str,
        mine: Sequence[tuple[str, bool]],
        resolve: PathResolver,
        binds: tuple[tuple[str, bool, str], ...],
        unlisted: tuple[str, ...],
    ) -> None:
        """A service's host folders (``mine``: source, read-write) by the nested-bind rule for a
        container, against ``binds`` (other containers' and services') and watched folders.

        Raises:
            PolicyDenied: naming the service, the path and the container that writes it.
        """
        try:
            judge_nesting(
                self.state.policy,
                label,
                list(mine),
                resolve,
                other_binds=binds,
                watched=self.watched_folders(),
                unlisted=unlisted,
                purpose="bind source",
            )
        except PolicyDenied as exc:
            raise PolicyDenied(
                exc.rule, f"service {service}: {exc.reason}", hint=exc.hint, setting=exc.setting
            ) from exc

    async def judge_service(self, ref: str, *, previous: bool = False) -> None:
        """Judge a swarm service as the engine stores it (after create, or before an update;
        ``previous``: the spec a rollback would restore, whoever wrote it).

        Raises:
            PolicyDenied: naming the service and the field.
        """
        state = self.state
        name, template, networks, volumes, infos = await state.admission.service(ref, previous=previous)
        binds, unlisted = await self.host_binds()
        judge_task_template(
            state.policy,
            name,
            template,
            networks,
            volumes,
            state.resolver,
            infos,
            other_binds=binds,
            watched=self.watched_folders(),
            unlisted=unlisted,
        )

    def admit_compose_config(
        self, plan: ComposePlan, config: Mapping[str, Any], env_files: Mapping[str, list[str]]
    ) -> Admitted[ComposePlan]:
        """Approve ``plan``, which runs Compose on the rendered project ``config``, once the
        rendered keys and the host paths it reads passed (``policy.compose``). The containers
        it creates are judged again on the engine's description before they start
        (:meth:`judge_project`).

        Raises:
            PolicyDenied: naming the service, the key or field, and the policy key.
        """
        judge_compose_config(self.state.policy, config, self.state.resolver, env_files=env_files)
        return admit(plan)

    async def judge_project(
        self, project: str, services: Iterable[str], built_images: frozenset[str]
    ) -> None:
        """Judge every container of ``services`` in a Compose project, as the engine describes it.

        Raises:
            PolicyDenied: naming the container, its service and the field.
        """
        judge = await self.container_judge(built_images)
        for desc in await self.state.admission.project_containers(project, services, built_images):
            judge(desc)

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
            raise PolicyDenied(
                exc.rule, f"{where}: {exc.reason}", hint=exc.hint, setting=exc.setting
            ) from exc
        await self._signed(spec.image for spec in requests.containers)
        return admit(plan)

    async def admit_service(self, spec: ServiceSpec) -> Admitted[ServiceSpec]:
        """Approve a swarm service: its tasks' container passes the container rules.

        Raises:
            PolicyDenied: the spec breaks a rule.
        """
        state = self.state
        named = sorted({m.source for m in spec.container.mounts if m.kind == "volume"})
        options = await state.volumes.options(named)
        admitted = admit_service(state.policy, spec, state.resolver, options)
        # Its tasks start as soon as it is created, so the nested-bind rule is applied to the
        # request too (the stored service is judged again after the create).
        mounts = admitted.request.container.mounts
        mine = [(m.source, not m.read_only) for m in mounts if m.kind == "bind"]
        for mount in mounts:
            if mount.kind == "volume" and mount.source in options:
                info = VolumeInfo(options=options[mount.source])
                mine.extend(volume_binds(info, not mount.read_only))
        if mine:
            binds, unlisted = await self.host_binds()
            self.judge_service_binds(spec.name, spec.name, mine, state.resolver, binds, unlisted)
        await self._signed([spec.container.image])
        return admitted

    async def _signed(self, images: Iterable[str]) -> None:
        """Under the operator's require_signature, every image must pass `cosign verify`."""
        if self.state.policy.require_signature:
            await require_signatures(self.state, images)

    async def admit_service_patch(self, name: str, patch: ServicePatch) -> Admitted[ServicePatch]:
        """Approve a change to service ``name``: the service as stored must be one this policy
        admits, and the change must keep it so.

        Raises:
            PolicyDenied: the service breaks a rule, or the new image is outside the allowlist.
        """
        await self.admit_existing_service(name, "update")
        return admit_service_patch(self.state.policy, patch)

    def admit_volume(self, spec: VolumeSpec) -> Admitted[VolumeSpec]:
        """Approve a volume under the operator's policy.

        Raises:
            PolicyDenied: its driver options bind a path the policy protects.
        """
        return admit_volume(self.state.policy, spec, self.state.resolver)

    async def admit_exec(self, spec: ExecSpec) -> Admitted[ExecSpec]:
        """Approve an exec under the operator's policy (the container's own user is looked up
        when root exec is forbidden and the call names no user).

        Raises:
            PolicyDenied: the exec breaks a rule.
        """
        await self.admit_existing(spec.container, "exec")
        default_user = ""
        if not self.state.policy.allow_root_exec and not spec.user:
            default_user = await self.state.containers.default_user(spec.container)
        return admit_exec(self.state.policy, spec, default_user)

    def exposes(self, name: str, annotations: ToolAnnotations, read_actions: Collection[str]) -> bool:
        """Whether the operator's policy lets a client see tool ``name`` at all (on any engine)."""
        experimental = name in CATALOG and CATALOG[name].experimental
        return any(
            tool_exposed(state.policy, name)
            and not (state.policy.read_only and not annotations.read_only_hint and not read_actions)
            and not (experimental and name not in state.policy.experimental_tools)
            for state in self.engines.states.values()
        )

    def gate(
        self, name: str, action: str | None, read_actions: Collection[str], read_only_tool: bool
    ) -> None:
        """Refuse an action the operator gated (read-only mode, deny_actions).

        Raises:
            PolicyDenied: naming the setting.
        """
        # With several engines a tool may exist for one engine's policy and not for this one's.
        if (
            name in CATALOG
            and CATALOG[name].experimental
            and name not in self.state.policy.experimental_tools
        ):
            raise PolicyDenied(
                "experimental-tool",
                f"{name} is off unless the operator turns it on, and it is off for engine {self.state.name}",
                hint="ask the operator, or use another engine.",
                setting=f'experimental_tools = ["{name}"]',
            )
        denied = exposure_refusal(
            self.state.policy, name, action, read_actions=read_actions, read_only_tool=read_only_tool
        )
        if denied is not None:
            raise denied

    def check_image(self, image: str) -> None:
        """Refuse an image outside the operator's allowlist.

        Raises:
            PolicyDenied: naming the allowlist.
        """
        check_image(self.state.policy, image)

    def add(self, fn: Callable[..., Awaitable[Any]], decl: ToolDecl) -> None:
        """Make ``fn`` the guarded tool ``decl`` declares (if the policy exposes it); the server
        is built from :attr:`tools`. ``fn`` is a module-level tool function whose first
        parameter is the guard (bound here; the client sees the other parameters)."""
        name, title, annotations, read_actions = decl.name, decl.title, decl.annotations, decl.read_actions
        if not self.exposes(name, annotations, read_actions):
            return
        wrapped = self._wrap(
            name, _bound(fn, self), frozenset(read_actions), bool(annotations.read_only_hint)
        )
        # structured_output=False: no output schema is generated (see below); results are
        # CallToolResults with structured content, which the SDK passes through as they are.
        tool = ArgumentCheckedTool.from_function(
            wrapped, name=name, title=title, annotations=annotations, structured_output=False
        )
        tool.description = " ".join(tool.description.split())  # docstring indentation costs tokens
        if all(s.policy.read_only for s in self.engines.states.values()) and read_actions:
            tool.description += f" Read-only server: only {', '.join(sorted(read_actions))}."
        # Every conversation pays for the tool list. Input schemas are slimmed; output schemas
        # are not published at all: they were more than half the list's bytes, and results
        # still carry structured content (the text block is its compact JSON).
        tool.parameters = self._engine_schema(slim_schema(tool.parameters))
        # The list shows what the policy lets a client do: gated actions are not offered, and a
        # tool left with only read actions is annotated read-only.
        offered = offered_actions(
            tool.parameters, name, read_actions, bool(annotations.read_only_hint),
            [s.policy for s in self.engines.states.values()],
        )  # fmt: skip
        if offered is not None:
            if not offered:
                return
            tool.parameters["properties"]["action"]["enum"] = offered
            if set(offered) <= set(read_actions):
                tool.annotations = read_only_annotations(annotations)
        self.tools.append(tool)

    def _engine_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Publish ``engine`` only when there is a choice; with one engine it costs tokens for nothing."""
        properties = schema.get("properties", {})
        if not self.engines.several:
            properties.pop("engine", None)
            return schema
        properties["engine"] = {
            "enum": self.engines.names,
            "description": f"Engine (default {self.engines.default} for reads; changes must name one).",
        }
        return schema

    def _select(self, engine: object, name: str, mutating: bool) -> AppState:
        if engine is not None and not isinstance(engine, str):
            raise InvalidArgument("engine must be an engine name")
        if engine is None and mutating and self.engines.several:
            raise InvalidArgument(
                f"{name} changes state and several engines are configured: it is not sent to a guessed one",
                hint=f"call it again with engine set to one of {', '.join(self.engines.names)}.",
            )
        return self.engines.get(engine)

    def _wrap(
        self, name: str, fn: Callable[P, Awaitable[R]], read_actions: frozenset[str], read_only_tool: bool
    ) -> Callable[P, Awaitable[R | CallToolResult]]:
        audit = self.audit

        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R | CallToolResult:
            started = time.monotonic()
            action = kwargs.get("action")
            action = action if isinstance(action, str) else None
            mutating = not read_only_tool and (action is None or action not in read_actions)
            engine = kwargs.pop("engine", None)
            recorded = {"engine": engine, **kwargs} if self.engines.several else kwargs
            try:
                token = self._current.set(self._select(engine, name, mutating))
                try:
                    self.gate(name, action, read_actions, read_only_tool)
                    await check_scope(name, action, kwargs, self.state)
                    scoped_arguments(name, kwargs, self.state.policy)
                    if mutating:  # the host path rule needs the engine's data root
                        await self.state.learn_engine_root()
                    result = await scoped_result(name, action, await fn(*args, **kwargs), self.state)
                finally:
                    self._current.reset(token)
            except DockerServerError as exc:
                decision = "denied" if isinstance(exc, PolicyDenied) else "allowed"
                audit.record(
                    name,
                    recorded,
                    decision=decision,
                    outcome=type(exc).__name__,
                    started=started,
                    mutating=mutating,
                )
                raise ToolError(redact_secrets(str(exc))) from exc  # engine and registry texts too
            audit.record(name, recorded, decision="allowed", outcome="ok", started=started, mutating=mutating)
            return compact_result(result) if isinstance(result, BaseModel) else result

        _add_engine_parameter(guarded, fn)
        return guarded


def _bound(fn: Callable[..., Awaitable[R]], guard: Guard) -> Callable[..., Awaitable[R]]:
    """``fn`` with its first parameter (the guard) given: the tool as the SDK sees it, with
    ``fn``'s name, docstring and every other parameter."""
    signature = inspect.signature(fn, eval_str=True)
    first = next(iter(signature.parameters))

    @functools.wraps(fn)
    async def tool(*args: Any, **kwargs: Any) -> R:
        return await fn(guard, *args, **kwargs)

    tool.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    tool.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != first}
    return tool


def _foreign(exc: PolicyDenied, what: str) -> PolicyDenied:
    """A refusal to act on an existing container or service this policy would not create."""
    setting = "allow_foreign_containers = true" + (f", or {exc.setting}" if exc.setting else "")
    return PolicyDenied(
        exc.rule,
        f"{what} refused, because this policy would not create it: {exc.reason}",
        hint="act on containers this policy admits, or ask the operator.",
        setting=setting,
    )


def _add_engine_parameter(wrapper: Callable[..., Any], fn: Callable[..., Any]) -> None:
    """Give ``wrapper`` the tool's own parameters plus a keyword-only ``engine`` (the SDK builds
    the argument model and matches resolvers by these names)."""
    signature = inspect.signature(fn, eval_str=True)
    engine = inspect.Parameter("engine", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=EngineArg)
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), engine]
    )
    wrapper.__annotations__ = {**getattr(fn, "__annotations__", {}), "engine": EngineArg}

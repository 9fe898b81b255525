"""compose-stack: multi-container applications on the real Docker Compose v2.

Every action that changes something renders the project once with Compose itself (the call's
files, profiles and services), judges what was rendered, and runs Compose on that rendered file
from a private folder. `up` creates without starting, judges each created container as the
engine describes it, and only then starts them.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.connection import allowed_log_levels
from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from pydantic import Field

from mcp_docker_server.compose import (
    CompletedCompose,
    ComposePlan,
    compose_argv,
    parse_ps,
    project_requests,
)
from mcp_docker_server.compose.inputs import compose_inputs
from mcp_docker_server.compose.plan import (
    compose_failure,
    create_argv,
    raw_config_argv,
    tail_lines,
    up_argv,
    validate_project_name,
    watch_argv,
)
from mcp_docker_server.compose.runner import ComposeRunner, ProgressCallback
from mcp_docker_server.compose.watch import EventListener, Rejudge, WatchManager
from mcp_docker_server.engine.build_context import plan_context, secret_files_refused
from mcp_docker_server.errors import ComposeError, InvalidArgument, PolicyDenied
from mcp_docker_server.policy import Admitted, check_not_container_writable
from mcp_docker_server.policy.admission import (
    Bind,
    ContainerDescription,
    VolumeInfo,
    volume_binds,
    writable_folders,
)
from mcp_docker_server.policy.compose import env_files_of, judge_compose_inputs, pin_paths, publish_on
from mcp_docker_server.policy.containers import admit_exec
from mcp_docker_server.policy.develop import ExecHook, judge_develop, pin_watch_paths, watch_hooks
from mcp_docker_server.policy.model import PathResolver
from mcp_docker_server.policy.paths import check_host_path, check_writers_listed
from mcp_docker_server.results.compose import ComposeResult, ComposeService, WatchEvent
from mcp_docker_server.results.shaping import BoundedTail
from mcp_docker_server.specs.containers import ExecSpec
from mcp_docker_server.state import AppState, local_read_resolver, local_resolver
from mcp_docker_server.tools._confirm import Confirm, confirm_compose, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._output import line_progress
from mcp_docker_server.tools.builds import admit_compose_builds
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["ComposeSession", "Rendered", "compose_file_path", "compose_files", "load_config", "register"]

Action = Literal[
    "up",
    "down",
    "start",
    "stop",
    "restart",
    "ps",
    "logs",
    "pull",
    "build",
    "config",
    "validate",
    "watch",
    "unwatch",
]
_LOG_CAP = 16 * 1024


async def compose_stack(
    guard: Guard,
    compose_file: Annotated[
        str, Field(min_length=1, description="Compose file, or a folder (found as docker compose does).")
    ],
    action: Action,
    ctx: Context[Any],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_compose)],
    project_name: Annotated[str | None, Field(description="Project name (default: the folder's).")] = None,
    services: Annotated[list[str] | None, Field(description="Only these services.")] = None,
    profiles: Annotated[list[str] | None, Field(description="Profiles to enable (--profile).")] = None,
    extra_files: Annotated[
        list[str] | None, Field(description="More compose files merged over it, in order (-f).")
    ] = None,
    build: Annotated[bool, Field(description="up: build images first.")] = False,
    remove_volumes: Annotated[bool, Field(description="down: also delete the project's volumes.")] = False,
    wait: Annotated[bool, Field(description="up: wait until running/healthy.")] = True,
    tail: Annotated[int, Field(ge=1, le=5000, description="logs: lines per service.")] = 100,
    timeout: Annotated[float, Field(gt=0, le=3600, description="Seconds before Compose is stopped.")] = 300,
) -> ComposeResult:
    """Run Docker Compose v2: up, down, start, stop, restart, ps, logs, pull, build, config;
    watch/unwatch: hot reload (develop.watch), shown by ps."""
    ensure_confirmed(confirmation)
    plan = ComposePlan(
        files=compose_files(compose_file, extra_files or ()),
        project=validate_project_name(project_name) if project_name else None,
        action=action,
        services=tuple(services or ()),
        profiles=tuple(profiles or ()),
        build=build,
        wait=wait,
        remove_volumes=remove_volumes,
        tail=tail,
        timeout=timeout,
    )
    session = ComposeSession(guard, plan, line_progress(ctx))
    await session.check_inputs()
    if action in ("config", "validate"):
        config = await session.render()
        return ComposeResult(
            action=action,
            project=config.get("name"),
            config={n: str(s.get("image") or "(built)") for n, s in (config.get("services") or {}).items()},
            volumes=sorted(config.get("volumes") or {}),
            networks=sorted(config.get("networks") or {}),
        )
    watches = guard.state.watches
    if action == "ps":
        watching = watches.find(plan.project, plan.files)
        return ComposeResult(
            action=action,
            project=plan.project,
            services=await session.states(plan),
            watch=watching.status() if watching else None,
        )
    if action == "unwatch":
        return await unwatch(watches, plan)
    if action == "watch":
        return await watch(session, ctx)
    if action == "logs":
        done = await session.run(plan, compose_argv(plan))
        kept = BoundedTail(_LOG_CAP)
        kept.add(done.stdout.encode())
        return ComposeResult(
            action=action,
            project=plan.project,
            output=kept.text(),
            truncated=kept.dropped,
            note="Older lines were cut; lower tail or name services." if kept.dropped else None,
        )
    async with session.rendered() as rendered:
        if action == "up":
            return await session.up(rendered)
        if action in ("start", "restart"):
            await guard.judge_project(rendered.project, rendered.services, rendered.built_images)
        if action == "down":
            async with watches.lock(rendered.project):
                await watches.stop(rendered.project, "the project went down (action=down)")
        done = await session.run(rendered.plan, compose_argv(rendered.plan))
        rows = (
            []
            if action == "down"
            else await session.states(rendered.plan)
            if action in ("start", "stop", "restart")
            else None
        )
        return ComposeResult(
            action=action,
            project=rendered.project,
            services=rows,
            output=tail_lines(done.stderr, 5) or None,
        )


def register(guard: Guard) -> None:
    """Add compose-stack to the guard's tool list."""

    guard.add(compose_stack, CATALOG[ToolName.COMPOSE_STACK])


@dataclass(frozen=True)
class Rendered:
    """A project as Compose rendered it, judged, in a private folder: ``plan`` runs Compose on
    that exact file, so a compose file changed after the check changes nothing."""

    config: dict[str, Any]
    pinned: dict[str, Any]
    project: str
    plan: ComposePlan
    admitted: Admitted[ComposePlan]
    services: tuple[str, ...]
    built_images: frozenset[str]


class ComposeSession:
    """One compose-stack call: render, judge, run on the rendered file."""

    def __init__(
        self,
        guard: Guard,
        plan: ComposePlan,
        progress: ProgressCallback,
        runner: ComposeRunner | None = None,
    ) -> None:
        self.guard = guard
        self.plan = plan
        self.progress = progress
        self.runner = runner or guard.state.compose

    async def check_env_files(self) -> None:
        """Judge the env and label files Compose would inline into the rendered project (a
        render that shows values, such as an export, must not read /etc/shadow into them).

        Raises:
            PolicyDenied: a file breaks the host-path rule.
            ComposeError: Compose could not render the project.
        """
        step = replace(self.plan, action="config")
        raw = load_config((await self.run(step, raw_config_argv(step))).stdout, self.plan.file)
        for service, files in env_files_of(raw).items():
            for path in files:
                full = str(self.plan.file.parent / path)  # an absolute path stays as it is
                check_host_path(
                    self.guard.state.policy,
                    full,
                    local_read_resolver,
                    purpose=f"service {service}: env or label file",
                    mounted=False,
                )

    async def check_inputs(self) -> None:
        """Judge every host file Compose would read to load the project (the files, the project
        folder's ``.env``, ``include`` and ``extends`` files, recursively) before it reads them:
        their values could reach containers, and their text Compose's error messages.

        Raises:
            PolicyDenied: a file breaks the host-path rule, or a remote resource is named.
        """
        inputs = await anyio.to_thread.run_sync(compose_inputs, self.plan.files)
        judge_compose_inputs(
            self.guard.state.policy, [(i.purpose, i.path, i.remote) for i in inputs], local_read_resolver
        )

    async def _check_nesting(self, pinned: Mapping[str, Any], local: Mapping[str, Any] | None) -> None:
        """Host paths read after this judgement that lie in a folder a container can write (a
        read-write bind, or a volume that mounts a folder like one, of a container on the
        engine, on another engine of this host, or of this project) are refused: whoever reads
        them later (the engine, Compose, buildx) follows a link the container may plant
        meanwhile. Judged here: secret and config files (the engine reads them); watched
        folders and, when the project builds (``local``: the project pinned on this machine),
        build contexts, additional contexts and Dockerfiles (this machine reads them); for a
        stack deploy, whose services start as they are created, each service's binds as a
        container's. (For up, binds are judged per container on the engine's description,
        before it starts.)

        Raises:
            PolicyDenied: naming the path, the folder and the container (``allow_nested_binds``).
        """
        guard = self.guard
        state = guard.state
        policy = state.policy
        if policy.allow_nested_binds:
            return
        engine_local = state.engine.target.scheme == "unix"
        # Only real paths are compared: resolved without the socket search of a bind's check.
        engine_real = local_read_resolver if engine_local else state.resolver
        binds, unlisted = await guard.host_binds()
        binds_here, unlisted_here = (
            (binds, unlisted) if engine_local else await guard.host_binds(read_here=True)
        )
        project = await self._project_binds(pinned)
        own = [
            (engine_real(s).real_path, f"{n} (this project)") for n, m in project.items() for s, rw in m if rw
        ]
        writable = writable_folders(binds, engine_real) + own
        writable_here = writable_folders(binds_here, local_read_resolver) + (own if engine_local else [])

        def check(path: str, purpose: str, *, here: bool, inside_only: bool = True) -> None:
            real = (local_read_resolver if here else engine_real)(path).real_path
            check_writers_listed(policy, real, unlisted_here if here else unlisted, purpose=purpose)
            writers = writable_here if here else writable
            check_not_container_writable(policy, real, writers, purpose=purpose, inside_only=inside_only)

        for kind in ("secrets", "configs"):
            for name, entry in (pinned.get(kind) or {}).items():
                if isinstance(entry, Mapping) and entry.get("file") and not entry.get("external"):
                    check(str(entry["file"]), f"{kind} {name} file", here=False)
        for name, folder in _watched_paths(pinned):
            check(folder, f"service {name}: watched path", here=True, inside_only=False)
        for path, purpose, inside_only in _build_reads(local or {}):
            check(path, purpose, here=True, inside_only=inside_only)
        if self.plan.action == "deploy":
            self._check_service_binds(project, binds, unlisted, engine_real)

    def _check_service_binds(
        self,
        project: Mapping[str, list[tuple[str, bool]]],
        binds: tuple[Bind, ...],
        unlisted: tuple[str, ...],
        resolve: PathResolver,
    ) -> None:
        """A stack's services' binds (and bind-like volumes), by the nested-bind rule for a
        container: against the engine's containers and the stack's other services.

        Raises:
            PolicyDenied: naming the service, the path and the container that writes it.
        """
        guard = self.guard
        for name, mounts in project.items():
            others = binds + tuple(
                (source, rw, f"{other} (this project)")
                for other, theirs in project.items()
                if other != name
                for source, rw in theirs
            )
            guard.judge_service_binds(name, f"{name} (this project)", mounts, resolve, others, unlisted)

    async def _project_binds(self, pinned: Mapping[str, Any]) -> dict[str, list[tuple[str, bool]]]:
        """Each service's host folders: its binds, and the folders its volumes mount like binds
        (a ``local`` volume's bind device or overlay layers, from the project's own definition,
        or from the engine for an external volume): service -> [(source, read-write)]."""
        defined: Mapping[str, Any] = pinned.get("volumes") or {}
        external = {
            key: str(entry.get("name") or key)
            for key, entry in defined.items()
            if isinstance(entry, Mapping) and entry.get("external")
        }
        options = await self.guard.state.volumes.options(sorted(set(external.values())))
        found: dict[str, list[tuple[str, bool]]] = {}
        for name, service in (pinned.get("services") or {}).items():
            mounts: list[tuple[str, bool]] = []
            for volume in (service or {}).get("volumes") or []:
                if not isinstance(volume, Mapping):
                    continue
                read_write, source = not volume.get("read_only"), str(volume.get("source") or "")
                if volume.get("type") == "bind" and source:
                    mounts.append((source, read_write))
                elif volume.get("type") == "volume" and source in external:
                    info = VolumeInfo(options=options.get(external[source]) or {})
                    mounts.extend(volume_binds(info, read_write))
                elif volume.get("type") == "volume" and isinstance(defined.get(source), Mapping):
                    entry = defined[source]
                    info = VolumeInfo(
                        driver=str(entry.get("driver") or "local"),
                        options={str(k): str(v) for k, v in (entry.get("driver_opts") or {}).items()},
                    )
                    mounts.extend(volume_binds(info, read_write))
            found[str(name)] = mounts
        return found

    async def run(self, step: ComposePlan, argv: list[str], *, check: bool = True) -> CompletedCompose:
        """Run Compose; a failure raises a readable error unless ``check`` is false.

        Raises:
            ComposeError: Compose failed, is missing, or ran past the deadline.
        """
        done = await self.runner.run(
            argv, cwd=self.plan.file.parent, timeout=self.plan.timeout, on_progress=self.progress
        )
        if check and done.returncode != 0:
            raise compose_failure(step, done.argv, done.returncode, done.stderr)
        return done

    async def states(self, plan: ComposePlan) -> list[ComposeService]:
        """`ps` rows of the project."""
        done = await self.run(replace(plan, action="ps"), compose_argv(replace(plan, action="ps")))
        return parse_ps(done.stdout)

    async def render(self) -> dict[str, Any]:
        """`config --format json` with the call's files, profiles and services.

        Raises:
            ComposeError: Compose could not render the project.
        """
        step = replace(self.plan, action="config")
        return load_config((await self.run(step, compose_argv(step))).stdout, self.plan.file)

    @asynccontextmanager
    async def rendered(self, keep_in: Path | None = None) -> AsyncIterator[Rendered]:
        """Render the project, judge it (request rules, then every key and host path), and
        write what was judged to a private folder that lives as long as the block (or to
        ``keep_in``, which the caller removes: a watch's file lives as long as the watch).
        For a watch, every ``develop.watch`` entry is judged too and its path pinned.

        Raises:
            InvalidArgument: a watch of a project without a develop.watch section.
            PolicyDenied: naming the service, the key or field, and the policy key.
            ComposeError: Compose could not render the project.
        """
        step = replace(self.plan, action="config")
        raw = load_config((await self.run(step, raw_config_argv(step))).stdout, self.plan.file)
        config = await self.render()
        project = str(config.get("name") or self.plan.project or "")
        await self.guard.admit_compose(self.plan, project_requests(config))
        state = self.guard.state
        pinned = pin_paths(config, state.resolver) if state.engine.target.scheme == "unix" else config
        if self.plan.action != "deploy":
            # As run-container: a port without an address listens on the publish address, not on
            # every interface as Compose would (swarm's ingress has no host address to set).
            pinned = publish_on(pinned, state.settings.publish_address)
        if self.plan.action == "watch":
            # Compose reads watched paths here, whichever engine it drives: this host's rule.
            judge_develop(state.policy, config, local_resolver)
            pinned = pin_watch_paths(pinned, local_resolver)
        builds = self.plan.action in ("up", "build", "watch")
        local = pin_paths(config, local_read_resolver) if builds else None
        if self.plan.action in ("up", "build", "watch", "start", "restart", "deploy"):
            await self._check_nesting(pinned, local)
        folder_of = (
            nullcontext(str(keep_in)) if keep_in else tempfile.TemporaryDirectory(prefix="mcpd-compose-")
        )
        with folder_of as private:
            folder = Path(private)
            file = folder / "compose.json"
            file.write_text(json.dumps(pinned))
            plan = replace(self.plan, files=(file,), project=project, project_directory=folder)
            admitted = self.guard.admit_compose_config(plan, config, env_files_of(raw))
            if local is not None:
                await anyio.to_thread.run_sync(build_contexts_without_secrets, local)
                await admit_compose_builds(self.guard, local, project)
            yield Rendered(
                config=config,
                pinned=pinned,
                project=project,
                plan=plan,
                admitted=admitted,
                services=tuple(config.get("services") or ()),
                built_images=built_images(config, project),
            )

    async def up(
        self, rendered: Rendered, also_judge: Callable[[], Awaitable[None]] | None = None
    ) -> ComposeResult:
        """Create without starting, judge every created container as the engine describes it
        (and run ``also_judge``), then start. A refusal (or a failed create) removes everything
        this call created.

        Raises:
            PolicyDenied: a created container breaks a rule (nothing of this call is left).
            ComposeError: Compose failed; for unhealthy services, with their last probe output.
        """
        admitted = rendered.admitted
        admission = self.guard.state.admission
        before = await admission.project(rendered.project)
        try:
            await self.run(rendered.plan, create_argv(admitted))
            await self.guard.judge_project(rendered.project, rendered.services, rendered.built_images)
            if also_judge is not None:
                await also_judge()
        except BaseException:
            with anyio.CancelScope(shield=True):
                # Compose returns on the first error while other creations may still be in
                # flight in the engine: sweep twice.
                for pause in (0.0, 0.5):
                    await anyio.sleep(pause)
                    await admission.remove((await admission.project(rendered.project)).minus(before))
            raise
        done = await self.run(rendered.plan, up_argv(admitted), check=False)
        rows = await self.states(rendered.plan)
        note = None
        if done.returncode != 0:
            note = await self._failed_up(rendered, done, rows)
        return ComposeResult(
            action="up",
            project=rendered.project,
            services=rows,
            output=tail_lines(done.stderr, 5) or None,
            note=note,
        )

    async def _failed_up(self, rendered: Rendered, done: CompletedCompose, rows: list[ComposeService]) -> str:
        """`up --wait` failed: a one-shot service that exited 0 (a migration, a seeder) is a
        success, as `docker compose up` sees it; anything else raises with each unhealthy
        service's last probe output.

        Raises:
            ComposeError: naming the services that failed and why.
        """
        failed = [r for r in rows if not _settled(r)]
        if rows and not failed:
            finished = sorted({r.service for r in rows if r.state == "exited"})
            return f"{', '.join(finished)} ran to completion (exit 0)."
        said = []
        for row in failed:
            why = f"{row.service} ({row.name}) is {row.state}"
            if row.exit_code:
                why += f" with exit code {row.exit_code}"
            if row.health == "unhealthy":
                detail = await self.guard.state.containers.inspect(row.name)
                probe = detail.state.health.last_output if detail.state.health else None
                why += f", unhealthy; last probe said: {probe or '(nothing)'}"
            said.append(why)
        error = compose_failure(rendered.plan, done.argv, done.returncode, done.stderr)
        raise ComposeError(
            f"{error} Services: {'; '.join(said) or 'none created'}.",
            hint="read the service's logs (action=logs) and fix what they say; the project is left as it is.",
        )


async def watch(session: ComposeSession, ctx: Context[Any]) -> ComposeResult:
    """Start the server's `docker compose watch` of a project: rendered and judged as for up
    (with its develop.watch paths and sync+exec commands), brought up the same judged way
    (create, judge, start), then watched with `watch --no-up` on the same judged file.

    Raises:
        InvalidArgument: no service has a develop.watch section.
        PolicyDenied: the project, a watched path or a sync+exec command breaks a rule.
        ComposeError: Compose failed, or the watch did not start.
    """
    guard = session.guard
    watches = guard.state.watches
    session.plan = replace(session.plan, build=True)  # a watch runs the code as it is now
    folder = Path(tempfile.mkdtemp(prefix="mcpd-watch-"))
    started = False
    try:
        async with session.rendered(keep_in=folder) as rendered, watches.lock(rendered.project):
            project = rendered.project
            current = watches.get(project)
            if current is not None and current.state == "running":
                return ComposeResult(
                    action="watch",
                    project=project,
                    watch=current.status(),
                    note="Already watching (one watch per project): action=ps shows it, unwatch stops it.",
                )
            if current is not None:  # it ended by itself: this one replaces it
                await watches.stop(project, "replaced by a new watch")
            hooks = watch_hooks(rendered.config)
            state = guard.state

            async def judge_hooks() -> None:
                await _judge_hooks(state, project, hooks, rendered.built_images)

            up = await session.up(rendered, judge_hooks)
            listener = _log_listener(ctx)
            running = await watches.start(
                project,
                watch_argv(rendered.admitted),
                files=session.plan.files,
                services=[s for s in rendered.services if s in _watched(rendered.config)],
                folder=folder,
                rejudge=_rejudger(guard, rendered, hooks),
                listener=listener,
                synced=[folder for _, folder in _synced_folders(rendered.pinned)],
            )
            started = True
            if listener is not None:  # a closed connection hears no more
                listener[0].exit_stack.callback(running.listeners.pop, listener[0], None)  # type: ignore[attr-defined]
            return ComposeResult(
                action="watch",
                project=project,
                services=up.services,
                watch=running.status(),
                note="Watching: edits are synced or rebuilt as develop.watch says; action=ps shows the "
                "latest events, unwatch (or down) stops it.",
            )
    finally:
        if not started:
            shutil.rmtree(folder, ignore_errors=True)


async def unwatch(watches: WatchManager, plan: ComposePlan) -> ComposeResult:
    """Stop the server's watch of a project (named, or started from the same files)."""
    found = watches.find(plan.project, plan.files)
    if found is None:
        return ComposeResult(
            action="unwatch",
            project=plan.project,
            note="No watch runs for this project; nothing was stopped.",
        )
    async with watches.lock(found.project):
        stopped = await watches.stop(found.project, "asked to (action=unwatch)")
    return ComposeResult(
        action="unwatch",
        project=found.project,
        watch=stopped.status() if stopped else None,
        note="The project's containers keep running (action=down removes them).",
    )


def _watched(config: Mapping[str, Any]) -> set[str]:
    return {
        str(name)
        for name, service in (config.get("services") or {}).items()
        if ((service or {}).get("develop") or {}).get("watch")
    }


async def _judge_hooks(
    state: AppState, project: str, hooks: Sequence[ExecHook], built: frozenset[str]
) -> None:
    """Judge each sync+exec command as an exec in every container of its service (its
    default user is the container's own, so this needs the containers).

    Raises:
        PolicyDenied: naming the service and the exec rule.
    """
    for hook in hooks:
        for desc in await state.admission.project_containers(project, [hook.service], built):
            name = _container_name(desc)
            default_user = ""
            if not state.policy.allow_root_exec and not hook.user:
                default_user = await state.containers.default_user(name)
            spec = ExecSpec(
                container=name,
                command=hook.command,
                workdir=hook.working_dir,
                user=hook.user,
                environment=hook.environment,
                privileged=hook.privileged,
            )
            try:
                admit_exec(state.policy, spec, default_user)
            except PolicyDenied as exc:
                raise PolicyDenied(
                    exc.rule,
                    f"service {hook.service}: develop.watch sync+exec: {exc.reason}",
                    hint='set exec.user in the develop.watch entry to a non-root uid, e.g. user: "1000".'
                    if exc.rule == "root-exec"
                    else exc.hint,
                    setting=exc.setting,
                ) from exc


def _container_name(desc: ContainerDescription) -> str:
    """The engine's name of a project container (its description reads "NAME of service S")."""
    return desc.name.rpartition(" of service ")[0] or desc.name


def _rejudger(guard: Guard, rendered: Rendered, hooks: Sequence[ExecHook]) -> Rejudge:
    """After a rebuild, Compose recreates containers from the same judged file with a new
    image: judge them as the engine describes them (and the sync+exec commands again: the new
    image may change the default user). A refused container is removed. Bound to this call's
    engine and policy (the watch outlives the call)."""
    state = guard.state
    judges = guard.container_judges(rendered.built_images)
    project, services, built = rendered.project, rendered.services, rendered.built_images

    async def rejudge() -> str | None:
        judge = await judges()  # the other engines of this host as they are now
        for desc in await state.admission.project_containers(project, services, built):
            try:
                judge(desc)
            except PolicyDenied as exc:
                found = await state.admission.project(project)  # (the engine layer's own type)
                await state.admission.remove(
                    replace(
                        found,
                        containers=frozenset({_container_name(desc)}),
                        networks=frozenset(),
                        volumes=frozenset(),
                    )
                )
                return f"{desc.name} removed: {exc}"
        try:
            await _judge_hooks(state, project, hooks, built)
        except PolicyDenied as exc:
            return str(exc)
        return None

    return rejudge


def _log_listener(ctx: Context[Any]) -> tuple[Hashable, EventListener] | None:
    """Watch events as MCP log notifications (logger "compose-watch") on the connection that
    started the watch, while it lasts. Only handshake-era connections take connection-wide
    log messages; later ones read the status (action=ps)."""
    connection = getattr(ctx.session, "_connection", None)
    if connection is None or "info" not in allowed_log_levels(str(connection.protocol_version), None):
        return None

    async def send(project: str, event: WatchEvent) -> None:
        level = "error" if event.kind == "error" else "warning" if event.kind == "warning" else "info"
        data = {"project": project, **event.model_dump()}
        await connection.notify(
            "notifications/message", {"level": level, "logger": "compose-watch", "data": data}
        )

    return connection, send


def build_contexts_without_secrets(config: Mapping[str, Any]) -> None:
    """Refuse a project whose local build contexts would send files that look like secrets
    (`.env`, private keys, cloud credentials), as build-image does: what is sent can end up in
    the image. The contexts are the server's own files (Compose sends them), resolved here.

    Raises:
        PolicyDenied: naming the service, the context and the files.
    """
    for name, service in (config.get("services") or {}).items():
        build = (service or {}).get("build")
        if not isinstance(build, Mapping) or build.get("dockerfile_inline"):
            continue
        context = str(build.get("context") or "")
        if not context.startswith("/"):
            continue
        dockerfile = Path(context) / str(build.get("dockerfile") or "Dockerfile")
        plan = plan_context(Path(context), dockerfile)
        if not plan.secrets and Path(f"{dockerfile}.dockerignore").is_file():
            # Compose builds with BuildKit when buildx is installed, which reads the
            # Dockerfile's own ignore file instead: judged too, whichever builder runs.
            plan = plan_context(Path(context), dockerfile, buildkit=True)
        if plan.secrets:
            refusal = secret_files_refused(plan)
            raise PolicyDenied(
                refusal.rule,
                f"service {name}: {refusal.reason}",
                hint=f"list them in {context}/.dockerignore, one pattern per line.",
            )


def _settled(row: ComposeService) -> bool:
    """Running (and healthy where it has a healthcheck), or finished with exit code 0."""
    if row.state == "exited":
        return row.exit_code == 0
    return row.state == "running" and row.health in (None, "", "healthy")


def built_images(config: Mapping[str, Any], project: str) -> frozenset[str]:
    """The images a project's ``build:`` services make: their ``image``, else Compose's default
    name ``<project>-<service>``; the image allowlist does not apply to them."""
    names: set[str] = set()
    for service, spec in (config.get("services") or {}).items():
        if (spec or {}).get("build") is not None:
            name = str(spec.get("image") or f"{project}-{service}")
            names |= {name, name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"}
    return frozenset(names)


def _watched_paths(pinned: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every host path a project's watch follows, whatever its action (a sync reads it, a
    rebuild's events come from it): (service, path)."""
    return [
        (str(name), str(trigger.get("path")))
        for name, service in (pinned.get("services") or {}).items()
        for trigger in ((service or {}).get("develop") or {}).get("watch") or []
        if isinstance(trigger, Mapping) and trigger.get("path")
    ]


def _build_reads(config: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """The host paths on this machine a project's builds read (``config`` pinned here): each
    local build context and additional context (a folder: a link made in it is followed too)
    and Dockerfile: (path, what it is, whether the path may be a writable folder itself)."""
    found: list[tuple[str, str, bool]] = []
    for name, service in (config.get("services") or {}).items():
        build = (service or {}).get("build")
        if not isinstance(build, Mapping):
            continue
        context = str(build.get("context") or "")
        if context.startswith("/"):
            found.append((context, f"service {name}: build context", False))
            if not build.get("dockerfile_inline"):
                dockerfile = posixpath.join(context, str(build.get("dockerfile") or "Dockerfile"))
                found.append((dockerfile, f"service {name}: Dockerfile", True))
        for key, value in (build.get("additional_contexts") or {}).items():
            if path := _local_context(str(value)):
                found.append((path, f"service {name}: additional context {key}", False))
    return found


def _local_context(value: str) -> str | None:
    """The folder on this machine an additional build context names: a path, or an OCI layout
    (``oci-layout:///path[:tag|@digest]``); None for an image, a service, a URL."""
    if value.startswith("oci-layout://"):
        path = value.removeprefix("oci-layout://").split("@")[0]
        folder, _, last = path.rpartition("/")
        return f"{folder}/{last.split(':')[0]}" if folder else path
    return value if value.startswith("/") else None


def _synced_folders(pinned: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (pinned, resolved) host folders a project's watch syncs into its containers:
    (service, folder)."""
    return [
        (str(name), str(trigger.get("path")))
        for name, service in (pinned.get("services") or {}).items()
        for trigger in ((service or {}).get("develop") or {}).get("watch") or []
        if isinstance(trigger, Mapping) and "sync" in str(trigger.get("action")) and trigger.get("path")
    ]


# Compose's own discovery (compose-go cli/options.go): the first default file in a folder, then
# the first override file found next to it.
_DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
_OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)


def compose_files(raw: str, extra: Sequence[str]) -> tuple[Path, ...]:
    """The files Compose merges, as `docker compose` finds them: a folder gives its default
    file, and a default-named file (or a folder) brings the first override file beside it;
    ``extra`` files follow, in order.

    Raises:
        InvalidArgument: a file or folder does not exist, or a folder has no compose file.
    """
    path = _absolute(raw)
    if path.is_dir():
        found = [path / name for name in _DEFAULT_FILES if (path / name).is_file()]
        if not found:
            raise InvalidArgument(
                f"No compose file in {path}.",
                hint=f"add one of {', '.join(_DEFAULT_FILES)}, or give the file's path.",
            )
        path = found[0]
    files = [compose_file_path(str(path))]
    if path.name in _DEFAULT_FILES:
        files += [path.parent / name for name in _OVERRIDE_FILES if (path.parent / name).is_file()][:1]
    files += [compose_file_path(f) for f in extra]
    return tuple(files)


def _absolute(raw: str) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else Path(os.getcwd()) / path


def compose_file_path(raw: str) -> Path:
    """An existing compose file's absolute path (relative paths are the server's working dir's).

    Raises:
        InvalidArgument: there is no such file.
    """
    path = _absolute(raw)
    if not path.is_file():
        raise InvalidArgument(
            f"Compose file not found: {path}.",
            hint="give the path of a compose file (absolute, or relative to where the server runs).",
        )
    return path


def load_config(stdout: str, file: Path) -> dict[str, Any]:
    """Compose's `config --format json` output as a dict.

    Raises:
        ComposeError: the output is not a JSON object.
    """
    try:
        config = json.loads(stdout)
    except ValueError as exc:
        raise ComposeError(f"Compose printed a configuration for {file} that is not JSON: {exc}.") from exc
    if not isinstance(config, dict):
        raise ComposeError(f"Compose printed an unexpected configuration for {file}.")
    return config

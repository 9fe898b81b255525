"""docker-system: the engines, info, version, disk usage, events, and prune."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from pydantic import Field

from mcp_docker_server.errors import DockerServerError, InvalidArgument
from mcp_docker_server.results.system import EngineRow, SystemResult
from mcp_docker_server.specs.timewindow import event_window
from mcp_docker_server.state import AppState, EngineSet
from mcp_docker_server.tools._confirm import Confirm, ask, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools.catalog import CATALOG, ToolName

__all__ = ["register"]

PruneTarget = Literal["containers", "images", "networks", "volumes", "build-cache"]
# Like `docker system prune`: volumes hold data and go only when named.
DEFAULT_PRUNE: list[PruneTarget] = ["containers", "images", "networks", "build-cache"]
EVENT_FILTERS = frozenset(
    {"type", "event", "container", "image", "label", "network", "volume", "service", "node", "scope"}
)


async def confirm_prune(
    action: str, ctx: Context[Any], targets: list[PruneTarget] | None = None, dry_run: bool = False,
    engine: str | None = None, named_volumes: bool = False,
) -> Confirm | Elicit[Confirm]:  # fmt: skip
    """A prune asks first, with what it would remove and free."""
    if action != "prune" or dry_run:
        return Confirm(confirm=True)
    engines: EngineSet = ctx.request_context.lifespan_context
    question: str | None = "prune"
    if (engines.several and engine is None) or engine not in (None, *engines.names):
        question = None  # refused by the guard right after
    else:
        state = engines.get(engine)
        plan = await state.system.prune_plan(
            list(targets or DEFAULT_PRUNE), state.policy.label_scope, named_volumes=named_volumes
        )
        if not plan.candidates and not plan.build_cache_bytes:
            question = None  # nothing to remove: nothing to ask
        else:
            kinds: dict[str, int] = {}
            for candidate in plan.candidates:
                kinds[candidate.type] = kinds.get(candidate.type, 0) + 1
            parts = [f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in kinds.items()]
            if plan.build_cache_bytes:
                parts.append("unused build cache")
            question = f"prune {', '.join(parts)}, freeing about {plan.total}"
    return ask(ctx, ToolName.DOCKER_SYSTEM, action, question, engine)


async def docker_system(
    guard: Guard,
    action: Literal["engines", "info", "version", "df", "events", "prune"],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_prune)],
    targets: Annotated[
        list[PruneTarget] | None,
        Field(description="prune: what to remove (default all but volumes)."),
    ] = None,
    dry_run: Annotated[bool, Field(description="prune: only report what would go.")] = False,
    named_volumes: Annotated[
        bool, Field(description="prune volumes: named ones too (default: anonymous only, like docker).")
    ] = False,
    since: Annotated[
        str | None, Field(max_length=40, description="events: '10m' ago (default), unix or ISO time.")
    ] = None,
    until: Annotated[str | None, Field(max_length=40, description="events: end (default now).")] = None,
    filters: Annotated[
        dict[str, str | list[str]] | None,
        Field(description="events: type, event, container, image, label, network, volume, service, node."),
    ] = None,
    limit: Annotated[int, Field(ge=1, le=500, description="events: latest N kept.")] = 100,
) -> SystemResult:
    """Engines (reachability, versions), info, version, disk usage (df), events in a time
    window (at most a day), or prune unused objects (reports what it frees, then asks)."""
    state = guard.state
    if action == "engines":
        return SystemResult(action=action, engines=await _engine_rows(guard.engines))
    if action == "info":
        info = await state.system.info()
        return SystemResult(action=action, info=info, note=tools_note(bool(info.get("swarm_manager"))))
    if action == "version":
        return SystemResult(action=action, version=await state.system.version())
    if action == "df":
        return SystemResult(action=action, disk=await state.system.disk_usage())
    if action == "events":
        start, end = event_window(since, until, time.time())
        rows, truncated = await state.system.events(start, end, _event_filters(filters), limit)
        return SystemResult(action=action, events=rows, events_truncated=truncated)
    chosen: list[str] = list(targets or DEFAULT_PRUNE)
    note = (
        "Only anonymous volumes are pruned; named_volumes=true includes named ones (their data is lost)."
        if "volumes" in chosen and not named_volumes
        else None
    )
    scope = state.policy.label_scope
    if dry_run:
        plan = await state.system.prune_plan(chosen, scope, named_volumes=named_volumes)
        return SystemResult(action=action, prune=plan, note=note)
    ensure_confirmed(confirmation)
    plan = await state.system.prune(chosen, scope, named_volumes=named_volumes)
    return SystemResult(action=action, prune=plan, note=note)


def tools_note(swarm_manager: bool) -> str:
    """What the tool list leaves out now, and how it comes in (tools/listing.py)."""
    swarm = [d.name for d in CATALOG.values() if d.listed == "swarm"]
    optional = [d.name for d in CATALOG.values() if d.listed == "on_demand" and not d.experimental]
    experimental = [d.name for d in CATALOG.values() if d.experimental]
    hidden = [] if swarm_manager else [f"{', '.join(swarm)} (need a swarm manager)"]
    hidden.append(f"{', '.join(experimental)} (policy experimental_tools)")
    return f"Tools not listed: {'; '.join(hidden)}. Listed in full after a first call: {', '.join(optional)}."


def register(guard: Guard) -> None:
    """Add docker-system to the guard's tool list."""

    guard.add(docker_system, CATALOG[ToolName.DOCKER_SYSTEM])


async def _engine_rows(engines: EngineSet) -> list[EngineRow]:
    """Every engine, asked in parallel, a few seconds each at most."""
    rows: dict[str, EngineRow] = {}

    async def probe(state: AppState) -> None:
        base = {
            "name": state.name,
            "host": state.engine.host,
            "default": state.name == engines.default,
            "read_only": state.policy.read_only,
        }
        try:
            version = await state.system.version(timeout=min(5.0, state.engine.target.timeout))
        except DockerServerError as exc:
            rows[state.name] = EngineRow(**base, reachable=False, error=exc.message[:200])
            return
        rows[state.name] = EngineRow(
            **base, reachable=True, version=version["version"], api_version=version["api_version"]
        )

    async with anyio.create_task_group() as group:
        for state in engines.states.values():
            group.start_soon(probe, state)
    return [rows[name] for name in engines.names]


def _event_filters(filters: dict[str, str | list[str]] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in (filters or {}).items():
        if key not in EVENT_FILTERS:
            raise InvalidArgument(
                f"unknown events filter {key!r}", hint=f"use {', '.join(sorted(EVENT_FILTERS))}."
            )
        values = [value] if isinstance(value, str) else value
        if len(values) > 20 or any(len(v) > 200 for v in values):
            raise InvalidArgument(f"filter {key} is too long", hint="at most 20 values of 200 characters.")
        out[key] = values
    return out

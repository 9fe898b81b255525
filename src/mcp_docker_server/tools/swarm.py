"""Swarm: swarm-management (the swarm and its nodes), service-management, stack-management."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context, Elicit, ElicitationResult, Resolve
from pydantic import Field

from mcp_docker_server.compose import ComposePlan
from mcp_docker_server.compose.plan import stack_config, tail_lines
from mcp_docker_server.compose.runner import ProgressCallback
from mcp_docker_server.engine.ports import SwarmPort
from mcp_docker_server.errors import ComposeError, InvalidArgument, PolicyDenied
from mcp_docker_server.results.swarm import ServiceResult, StackResult, StackRow, SwarmResult
from mcp_docker_server.specs.containers import (
    ContainerSpec,
    parse_command,
    parse_healthcheck,
    parse_memory,
    parse_volumes,
)
from mcp_docker_server.specs.images import validate_image_reference
from mcp_docker_server.specs.swarm import (
    ServicePatch,
    ServiceSpec,
    parse_constraints,
    parse_service_ports,
    parse_update_policy,
)
from mcp_docker_server.tools._confirm import Confirm, ask, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._output import line_progress
from mcp_docker_server.tools.catalog import CATALOG, ToolName
from mcp_docker_server.tools.compose import ComposeSession, compose_file_path
from mcp_docker_server.tools.containers import HealthcheckArg, VolumeArg

__all__ = ["register"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_LOG_CAP = 16 * 1024


async def confirm_swarm(
    action: str, ctx: Context[Any], engine: str | None = None
) -> Confirm | Elicit[Confirm]:
    """Leaving the swarm asks first."""
    question = "leave the swarm (a manager's services stop)" if action == "leave" else None
    return ask(ctx, ToolName.SWARM_MANAGEMENT, action, question, engine)


async def confirm_service(
    action: str, ctx: Context[Any], name: str | None = None, engine: str | None = None
) -> Confirm | Elicit[Confirm]:
    """Removing a service asks first."""
    question = f"remove service {name} and its tasks" if action == "remove" else None
    return ask(ctx, ToolName.SERVICE_MANAGEMENT, action, question, engine)


async def confirm_stack(
    action: str, ctx: Context[Any], name: str | None = None, engine: str | None = None
) -> Confirm | Elicit[Confirm]:
    """Removing a stack asks first."""
    question = f"remove stack {name} (its services and networks)" if action == "remove" else None
    return ask(ctx, ToolName.STACK_MANAGEMENT, action, question, engine)


async def swarm_management(
    guard: Guard,
    action: Literal["status", "init", "leave", "nodes", "inspect-node", "set-availability"],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_swarm)],
    node: Annotated[str | None, Field(max_length=128, description="inspect-node/set-availability.")] = None,
    availability: Literal["active", "pause", "drain"] | None = None,
    advertise_addr: Annotated[str | None, Field(max_length=128, description="init: e.g. 10.0.0.5.")] = None,
    force: Annotated[bool, Field(description="leave: also a manager.")] = False,
) -> SwarmResult:
    """Swarm status (with join tokens only if the operator allows), init, leave, nodes,
    inspect-node, set-availability (active, pause, drain)."""
    swarm = guard.state.swarm
    show_tokens = guard.state.policy.show_join_tokens
    if action in ("status", "nodes"):
        return (await swarm.status(show_tokens=show_tokens, with_nodes=action == "nodes")).model_copy(
            update={"action": action}
        )
    if action == "init":
        await swarm.init(advertise_addr, None)
        result = await swarm.status(show_tokens=show_tokens, with_nodes=True)
        note = None if show_tokens else "Join tokens are hidden by the operator's policy (show_join_tokens)."
        return result.model_copy(update={"action": action, "note": note})
    if action == "leave":
        ensure_confirmed(confirmation)
        await swarm.leave(force)
        return (await swarm.status(show_tokens=False, with_nodes=False)).model_copy(update={"action": action})
    if not node:
        raise InvalidArgument(f"{action} needs node", hint="swarm-management action=nodes lists them.")
    if action == "inspect-node":
        row = await swarm.node(node)
    else:
        if availability is None:
            raise InvalidArgument("set-availability needs availability", hint="active, pause or drain.")
        row = await swarm.set_availability(node, availability)
    status = await swarm.status(show_tokens=False, with_nodes=False)
    return status.model_copy(update={"action": action, "nodes": [row]})


async def service_management(
    guard: Guard,
    action: Literal["create", "list", "inspect", "scale", "update", "rollback", "remove", "tasks", "logs"],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_service)],
    name: Annotated[str | None, Field(max_length=63, description="Service name (all but list).")] = None,
    image: Annotated[str | None, Field(max_length=512, description="create; update: new image.")] = None,
    replicas: Annotated[int | None, Field(ge=0, le=1000, description="create, scale, update.")] = None,
    mode: Literal["replicated", "global"] = "replicated",
    command: str | list[str] | None = None,
    env: Annotated[dict[str, str] | None, Field(description="create; update: variables to set.")] = None,
    ports: Annotated[
        list[str | int] | None, Field(description='create: ["8080:80", "53:53/udp"] (ingress).')
    ] = None,
    volumes: Annotated[list[VolumeArg | str] | None, Field(description="create: as run-container.")] = None,
    networks: Annotated[list[str] | None, Field(description="create: overlay networks.")] = None,
    constraints: Annotated[list[str] | None, Field(description="create: e.g. node.role==manager.")] = None,
    cpus: Annotated[float | None, Field(gt=0, le=1024, description="Limit (create, update).")] = None,
    memory: Annotated[int | str | None, Field(description='Limit, e.g. "256m" (create, update).')] = None,
    restart: Literal["none", "on-failure", "any"] = "any",
    update_config: Annotated[
        dict[str, Any] | None,
        Field(description="parallelism, delay (s), failure_action, order, monitor (s)."),
    ] = None,
    healthcheck: HealthcheckArg | None = None,
    labels: dict[str, str] | None = None,
    force: Annotated[bool, Field(description="update: restart tasks even if unchanged.")] = False,
    wait: Annotated[bool, Field(description="Wait until the tasks converge.")] = True,
    timeout: Annotated[float, Field(gt=0, le=3600, description="Seconds to wait.")] = 120,
    tail: Annotated[int, Field(ge=1, le=5000, description="logs: lines.")] = 100,
    all_tasks: Annotated[bool, Field(description="tasks: include finished ones.")] = False,
) -> ServiceResult:
    """Swarm services: create, list (running/desired), inspect, scale, update (rolling),
    rollback, remove, tasks, logs. Policy-checked like containers."""
    swarm = guard.state.swarm
    if action == "list":
        return ServiceResult(action=action, services=await swarm.services())
    if not name or not _NAME.fullmatch(name):
        raise InvalidArgument(f"{action} needs a service name", hint="service-management action=list.")
    if action in ("inspect", "tasks", "logs"):
        return await _read_service(swarm, action, name, tail=tail, all_tasks=all_tasks)
    if action == "remove":
        ensure_confirmed(confirmation)
        await swarm.remove(name)
        return ServiceResult(action=action, note=f"service {name} removed")
    if action == "create":
        if not image:
            raise InvalidArgument("create needs image")
        spec = ServiceSpec(
            name=name,
            container=_task_container(image, command, env, volumes, cpus, memory, healthcheck),
            mode=mode,
            replicas=replicas,
            ports=parse_service_ports(ports),
            networks=tuple(networks or ()),
            constraints=parse_constraints(constraints),
            labels=labels or {},
            restart_condition=restart,
            update=parse_update_policy(update_config),
        )
        await swarm.create_service(await guard.admit_service(spec))
        await _judge_created(guard, [name])
    elif action == "scale":
        if replicas is None:
            raise InvalidArgument("scale needs replicas")
        await guard.admit_existing_service(name, "scale")
        await swarm.scale(name, replicas)
    elif action == "update":
        patch = ServicePatch(
            image=validate_image_reference(image) if image else None,
            environment=env or {},
            replicas=replicas,
            nano_cpus=int(cpus * 1e9) if cpus else None,
            memory_bytes=parse_memory(memory),
            update=parse_update_policy(update_config),
            force=force,
        )
        if patch.empty:
            raise InvalidArgument(
                "update names nothing to change",
                hint="pass image, env, replicas, cpus, memory, update_config or force=true.",
            )
        await swarm.update(name, await guard.admit_service_patch(name, patch))
    else:
        await guard.admit_existing_service(name, "rollback")
        # The rollback starts tasks from the previous spec: judged as a new service would be.
        await guard.judge_service(name, previous=True)
        await swarm.rollback(name)
    return await _settled(swarm, action, name, wait=wait, timeout=timeout)


async def stack_management(
    guard: Guard,
    action: Literal["deploy", "list", "services", "ps", "remove"],
    ctx: Context[Any],
    confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_stack)],
    name: Annotated[str | None, Field(max_length=63, description="Stack name (all but list).")] = None,
    compose_file: Annotated[str | None, Field(description="deploy: path to the compose file.")] = None,
    resolve_image: Annotated[
        Literal["always", "changed", "never"],
        Field(description="deploy: query the registry for digests."),
    ] = "always",
    wait: Annotated[bool, Field(description="deploy: wait until every service converged.")] = True,
    timeout: Annotated[float, Field(gt=0, le=3600)] = 300,
) -> StackResult:
    """Swarm stacks: deploy a compose file (through `docker stack deploy`, policy-checked
    like compose-stack), list, services, ps, remove."""
    swarm = guard.state.swarm
    if action == "list":
        stacks = await swarm.stacks()
        return StackResult(action=action, stacks=[StackRow(name=n, services=c) for n, c in stacks.items()])
    if not name or not _NAME.fullmatch(name):
        raise InvalidArgument(f"{action} needs a stack name", hint="stack-management action=list.")
    if action == "services":
        return StackResult(action=action, stack=name, services=await swarm.stack_services(name))
    if action == "ps":
        return StackResult(action=action, stack=name, tasks=await swarm.stack_tasks(name))
    progress = line_progress(ctx)

    if action == "remove":
        ensure_confirmed(confirmation)
        said = await _remove_stack(guard, name, timeout, progress)
        return StackResult(action=action, stack=name, output=said or None)
    if not compose_file:
        raise InvalidArgument("deploy needs compose_file")
    deployed = await _deploy(guard, name, compose_file_path(compose_file), resolve_image, timeout, progress)
    note = None
    if wait:
        for service in await swarm.stack_services(name):
            converged, seconds = await swarm.wait(service.name, timeout)
            if not converged:
                note = f"{service.name} did not converge within {seconds} s: see action=ps."
    return StackResult(
        action=action,
        stack=name,
        services=await swarm.stack_services(name),
        output=tail_lines(deployed, 5) or None,
        note=note,
    )


def register(guard: Guard) -> None:
    """Add the Swarm tools to the guard's tool list."""
    _add_swarm_tool(guard)
    _add_service_tool(guard)
    _add_stack_tool(guard)


def _add_swarm_tool(guard: Guard) -> None:

    guard.add(swarm_management, CATALOG[ToolName.SWARM_MANAGEMENT])


def _add_service_tool(guard: Guard) -> None:

    guard.add(service_management, CATALOG[ToolName.SERVICE_MANAGEMENT])


async def _read_service(
    swarm: SwarmPort, action: str, name: str, *, tail: int, all_tasks: bool
) -> ServiceResult:
    if action == "inspect":
        return ServiceResult(action=action, service=await swarm.service(name))
    if action == "tasks":
        return ServiceResult(action=action, tasks=await swarm.tasks(name, all_tasks=all_tasks))
    text, lines, truncated = await swarm.logs(name, tail, _LOG_CAP)
    return ServiceResult(action=action, logs=text, lines=lines, truncated=truncated)


async def _settled(swarm: SwarmPort, action: str, name: str, *, wait: bool, timeout: float) -> ServiceResult:
    """The service after a change, once its tasks converged (when waiting)."""
    converged = seconds = None
    if wait:
        converged, seconds = await swarm.wait(name, timeout, rollback=action == "rollback")
    note = None
    if converged is False:
        note = f"Not converged after {seconds} s: see action=tasks for task errors."
    return ServiceResult(
        action=action, service=await swarm.service(name), converged=converged, seconds=seconds, note=note
    )


def _task_container(
    image: str,
    command: str | list[str] | None,
    env: dict[str, str] | None,
    volumes: list[VolumeArg | str] | None,
    cpus: float | None,
    memory: int | str | None,
    healthcheck: HealthcheckArg | None,
) -> ContainerSpec:
    """What each task of a new service runs, in the terms the container policy judges."""
    return ContainerSpec(
        image=validate_image_reference(image),
        command=parse_command(command),
        environment=env or {},
        mounts=parse_volumes(
            [v if isinstance(v, str) else v.model_dump(exclude_none=True) for v in volumes or []]
        ),
        nano_cpus=int(cpus * 1e9) if cpus else None,
        memory_bytes=parse_memory(memory),
        healthcheck=parse_healthcheck(healthcheck.model_dump() if healthcheck else None),
    )


def _add_stack_tool(guard: Guard) -> None:

    guard.add(stack_management, CATALOG[ToolName.STACK_MANAGEMENT])


async def _deploy(
    guard: Guard, name: str, file: Path, resolve_image: str, timeout: float, progress: ProgressCallback
) -> str:
    """Render the compose file with Compose under the stack's name, judge it as compose-stack
    does, and deploy exactly what was judged (`docker stack deploy` reads its own files
    differently, `.env` included); then judge each service as the swarm stored it. A refused
    service is removed, and a stack this call created is removed whole.

    Raises:
        PolicyDenied: naming the service, the key or field, and the policy key.
        ComposeError: Compose could not render the file, or the deploy failed.
    """
    plan = ComposePlan(files=(file,), project=name, action="deploy", timeout=timeout)
    swarm = guard.state.swarm
    session = ComposeSession(guard, plan, progress)
    await session.check_inputs()
    async with session.rendered() as rendered:
        stack_file = rendered.plan.file.with_name("stack.json")
        stack_file.write_text(json.dumps(stack_config(rendered.pinned, name)))
        existed = {s.name for s in await swarm.stack_services(name)}
        done = await guard.state.compose.run_docker(
            ["stack", "deploy", "--compose-file", str(stack_file), "--resolve-image", resolve_image, name],
            cwd=file.parent,
            timeout=timeout,
            on_progress=progress,
        )
    if done.returncode != 0:
        raise ComposeError(
            f"docker stack deploy failed (exit {done.returncode}): {tail_lines(done.stderr, 8)}",
            hint="fix the compose file; stack files need images (no build) and swarm-mode keys.",
        )
    services = [s.name for s in await swarm.stack_services(name)]
    try:
        await _judge_created(guard, services)
    except PolicyDenied:
        if not existed:
            await _remove_stack(guard, name, timeout, progress)
        raise
    return done.stdout


async def _judge_created(guard: Guard, services: list[str]) -> None:
    """Judge services as the swarm stored them; remove every one refused (services start as
    they are created, so this is the backstop behind the judgment of the request).

    Raises:
        PolicyDenied: the first refusal, after the refused services were removed.
    """
    refusal: PolicyDenied | None = None
    for service in services:
        try:
            await guard.judge_service(service)
        except PolicyDenied as exc:
            refusal = refusal or exc
            await guard.state.swarm.remove(service)
    if refusal is not None:
        raise refusal


async def _remove_stack(guard: Guard, name: str, timeout: float, progress: ProgressCallback) -> str:
    """`docker stack rm`: its services, networks, configs and secrets; the CLI's last lines.
    The CLI removes the networks right after the services, while their tasks may still be
    stopping ("network ... is in use by task"): it is run again until they are gone (within
    ``timeout``), as a user would."""
    deadline = anyio.current_time() + timeout
    while True:
        left = max(1.0, deadline - anyio.current_time())
        done = await guard.state.compose.run_docker(
            ["stack", "rm", name], cwd=Path.cwd(), timeout=left, on_progress=progress
        )
        busy = done.returncode != 0 and "in use by task" in done.stderr
        if not busy or anyio.current_time() + 1 > deadline:
            break
        await anyio.sleep(1)
    if done.returncode != 0:
        raise ComposeError(f"docker stack rm failed (exit {done.returncode}): {tail_lines(done.stderr, 5)}")
    return tail_lines(done.stdout, 5)

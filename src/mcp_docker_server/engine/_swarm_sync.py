"""Blocking Swarm operations on docker-py's low-level API (run in worker threads)."""

# types-docker leaves the service and task calls unannotated; their results are read as Raw.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import time
from typing import Any, cast

import docker
import docker.errors
import docker.types

from mcp_docker_server.engine._containers_sync import docker_healthcheck, nanoseconds
from mcp_docker_server.engine._logs_sync import BoundedLogs, log_params, read_logs
from mcp_docker_server.errors import Conflict, InvalidArgument
from mcp_docker_server.policy.containers import security_option
from mcp_docker_server.results import shaping
from mcp_docker_server.results.swarm import NodeRow, ServiceDetail, ServiceRow, SwarmResult, TaskRow
from mcp_docker_server.specs.swarm import ServicePatch, ServiceSpec, UpdatePolicy

Raw = dict[str, Any]
STACK_LABEL = "com.docker.stack.namespace"
_NS = 1_000_000_000


# --------------------------------------------------------------------------- the swarm, nodes


def swarm_status(client: docker.DockerClient, *, show_tokens: bool, with_nodes: bool) -> SwarmResult:
    """The local node's swarm state; nodes (and join tokens, when allowed) on a manager."""
    swarm = client.api.info().get("Swarm") or {}
    state = str(swarm.get("LocalNodeState") or "inactive")
    manager = bool(swarm.get("ControlAvailable"))
    result = SwarmResult(
        action="status",
        state=state,
        node_id=str(swarm.get("NodeID") or "") or None,
        manager=manager,
        cluster_id=str((swarm.get("Cluster") or {}).get("ID") or "") or None,
    )
    update: Raw = {}
    if manager and with_nodes:
        update["nodes"] = [_node_row(n) for n in client.api.nodes()]
    if manager and show_tokens:
        tokens = client.api.inspect_swarm().get("JoinTokens") or {}
        update["join_tokens"] = {
            "worker": str(tokens.get("Worker", "")),
            "manager": str(tokens.get("Manager", "")),
        }
    return result.model_copy(update=update)


def init_swarm(client: docker.DockerClient, advertise_addr: str | None, listen_addr: str | None) -> str:
    """Make this engine a single-node swarm manager; its node id."""
    try:
        return str(
            client.api.init_swarm(advertise_addr=advertise_addr, listen_addr=listen_addr or "0.0.0.0:2377")
        )
    except docker.errors.APIError as exc:
        if "already part of a swarm" in str(exc.explanation or ""):
            raise Conflict(
                "This engine is already part of a swarm.",
                hint="swarm-management action=status shows it; leave first to start a new one.",
            ) from exc
        raise


def leave_swarm(client: docker.DockerClient, force: bool) -> None:
    """Leave the swarm (a manager, and so a single-node swarm, needs force)."""
    try:
        client.api.leave_swarm(force=force)
    except docker.errors.APIError as exc:
        text = str(exc.explanation or "")
        if "not part of a swarm" in text:
            return  # already out: the goal is met
        if "force" in text.lower():
            raise Conflict(
                "This node is a manager: leaving would lose the swarm's state (its services stop).",
                hint="pass force=true if that is intended.",
            ) from exc
        raise


def inspect_node(client: docker.DockerClient, node: str) -> NodeRow:
    """One node."""
    return _node_row(client.api.inspect_node(node))


def set_node_availability(client: docker.DockerClient, node: str, availability: str) -> NodeRow:
    """active, pause or drain (drain moves its tasks to other nodes)."""
    raw = client.api.inspect_node(node)
    spec = dict(raw.get("Spec") or {})
    spec["Availability"] = availability
    client.api.update_node(raw["ID"], int(raw["Version"]["Index"]), cast(Any, spec))
    return _node_row(client.api.inspect_node(raw["ID"]))


def _node_row(raw: Raw) -> NodeRow:
    spec = raw.get("Spec") or {}
    status = raw.get("Status") or {}
    description = raw.get("Description") or {}
    manager = raw.get("ManagerStatus") or {}
    manager_status = None
    if manager:
        manager_status = "leader" if manager.get("Leader") else str(manager.get("Reachability", ""))
    return NodeRow(
        id=shaping.short_id(str(raw.get("ID", ""))),
        hostname=shaping.clean_text(str(description.get("Hostname", ""))),
        role=str(spec.get("Role", "")),
        availability=str(spec.get("Availability", "")),
        state=str(status.get("State", "")),
        manager_status=manager_status,
        engine_version=str((description.get("Engine") or {}).get("EngineVersion", "")) or None,
        labels=shaping.clean_labels(spec.get("Labels")),
    )


# --------------------------------------------------------------------------- services


def create_service(client: docker.DockerClient, spec: ServiceSpec) -> str:
    """Create a service; its id."""
    kwargs = _service_kwargs(spec, str(client.api.api_version))
    try:
        created = client.api.create_service(**kwargs)
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            raise Conflict(
                f"A service named {spec.name} already exists.",
                hint="choose another name, or update the existing service.",
            ) from exc
        raise
    return str(created["ID"])


def update_service(client: docker.DockerClient, name: str, patch: ServicePatch) -> None:
    """Apply ``patch`` to a service's current definition: a rolling update under its update
    policy (``force`` restarts every task even when nothing changed)."""
    current = client.api.inspect_service(name)
    spec = current["Spec"]
    template = spec["TaskTemplate"]
    container = template["ContainerSpec"]
    if patch.image is not None:
        container["Image"] = patch.image
    if patch.environment:
        env = {str(e).partition("=")[0]: str(e).partition("=")[2] for e in container.get("Env") or []}
        env.update(patch.environment)
        container["Env"] = [f"{k}={v}" for k, v in env.items()]
    if patch.replicas is not None:
        if "Replicated" not in (spec.get("Mode") or {}):
            raise InvalidArgument(f"{name} is a global service: replicas do not apply", hint="drop replicas.")
        spec["Mode"]["Replicated"]["Replicas"] = patch.replicas
    limits = template.setdefault("Resources", {}).setdefault("Limits", {})
    if patch.nano_cpus is not None:
        limits["NanoCPUs"] = patch.nano_cpus
    if patch.memory_bytes is not None:
        limits["MemoryBytes"] = patch.memory_bytes
    if patch.update is not None:
        spec["UpdateConfig"] = dict(_update_config(patch.update) or {})
    if patch.force:
        template["ForceUpdate"] = int(template.get("ForceUpdate") or 0) + 1
    _post_update(client, current, spec)


def scale_service(client: docker.DockerClient, name: str, replicas: int) -> None:
    """Set a replicated service's replica count."""
    current = client.api.inspect_service(name)
    spec = current["Spec"]
    mode = spec.get("Mode") or {}
    if "Replicated" not in mode:
        raise InvalidArgument(
            f"{name} is a global service: it runs one task per node", hint="scale replicated services."
        )
    mode["Replicated"]["Replicas"] = replicas
    _post_update(client, current, spec)


def rollback_service(client: docker.DockerClient, name: str) -> None:
    """Return a service to its previous definition (server-side rollback)."""
    current = client.api.inspect_service(name)
    if not current.get("PreviousSpec"):
        raise Conflict(f"{name} has no previous definition to roll back to.", hint="update it first.")
    _post_update(client, current, current["Spec"], rollback=True)


def _post_update(client: docker.DockerClient, current: Raw, spec: Raw, *, rollback: bool = False) -> None:
    # docker-py's update_service rebuilds the spec from keyword arguments and cannot ask for a
    # server-side rollback; the engine takes the inspected spec back as it is.
    params: Raw = {"version": int(current["Version"]["Index"])}
    if rollback:
        params["rollback"] = "previous"
    api: Any = client.api
    response = api._post_json(api._url("/services/{0}/update", current["ID"]), data=spec, params=params)
    api._raise_for_status(response)


def remove_service(client: docker.DockerClient, name: str) -> None:
    """Remove a service and its tasks."""
    client.api.remove_service(name)


def list_services(client: docker.DockerClient, filters: Raw | None = None) -> list[ServiceRow]:
    """Services with running/desired counts (two requests; a third while a node is down)."""
    raw: list[Raw] = client.api.services(filters=filters, status=True)
    rows = [_service_row(s) for s in raw]
    live = _running_on_live_nodes(client)
    if live is not None:
        rows = [row.model_copy(update={"running": live.get(row.id, 0)}) for row in rows]
    return sorted(rows, key=lambda r: r.name)


def _running_on_live_nodes(client: docker.DockerClient) -> dict[str, int] | None:
    """While a node is down, the engine's ServiceStatus still counts the tasks it last reported
    running (`docker service ls` shows 3/2): the running tasks on nodes that are not down, by
    short service id. None when every node is up (the engine's counts are right)."""
    try:
        nodes: list[Raw] = client.api.nodes()
    except docker.errors.APIError:
        return None
    down = {str(n.get("ID")) for n in nodes if (n.get("Status") or {}).get("State") == "down"}
    if not down:
        return None
    tasks: list[Raw] = client.api.tasks(filters={"desired-state": "running"})
    counts: dict[str, int] = {}
    for task in tasks:
        if (task.get("Status") or {}).get("State") == "running" and str(task.get("NodeID")) not in down:
            service = shaping.short_id(str(task.get("ServiceID", "")))
            counts[service] = counts.get(service, 0) + 1
    return counts


def inspect_service(client: docker.DockerClient, name: str) -> ServiceDetail:
    """One service in detail (environment values are never returned)."""
    raw = client.api.services(filters={"name": name}, status=True)
    exact = [s for s in raw if s["Spec"]["Name"] == name or s["ID"].startswith(name)]
    service = exact[0] if exact else client.api.inspect_service(name)
    return _service_detail(service)


def service_tasks(client: docker.DockerClient, name: str, *, all_tasks: bool) -> list[TaskRow]:
    """A service's tasks, newest first; by default only those meant to run."""
    filters: Raw = {"service": name}
    if not all_tasks:
        filters["desired-state"] = "running"
    nodes = {n["ID"]: str((n.get("Description") or {}).get("Hostname", "")) for n in client.api.nodes()}
    tasks = client.api.tasks(filters=filters)
    rows = [_task_row(t, nodes) for t in tasks]
    return sorted(rows, key=lambda r: (r.slot or 0, r.updated), reverse=False)[:200]


def service_logs(client: docker.DockerClient, name: str, tail: int, max_bytes: int) -> tuple[str, int, bool]:
    """The last ``tail`` lines of a service's tasks, bounded to ``max_bytes``, in one request."""
    kept = BoundedLogs(max_bytes)
    for payload in read_logs(client.api, "services", name, log_params(tail)):
        kept.add(payload)
    return kept.result()


def wait_converged(
    client: docker.DockerClient, name: str, timeout: float, *, rollback: bool = False
) -> tuple[bool, float]:
    """Poll until every desired task runs (and a rolling update or rollback finished); whether
    it did within ``timeout``, and the seconds it took."""
    started = time.monotonic()
    settled = ("rollback_completed",) if rollback else ("completed", "rollback_completed")
    while True:
        raw = client.api.services(filters={"name": name}, status=True)
        service = next((s for s in raw if s["Spec"]["Name"] == name), None)
        if service is None:
            raise InvalidArgument(f"service {name} disappeared while waiting")
        status = service.get("ServiceStatus") or {}
        update = (service.get("UpdateStatus") or {}).get("State")
        desired = int(status.get("DesiredTasks") or 0)
        running = int(status.get("RunningTasks") or 0)
        # Right after a change the previous update's state still shows: the tasks' images tell.
        update_done = update in settled if rollback else update is None or update in settled
        if running == desired and update_done and _tasks_current(client, service):
            return True, round(time.monotonic() - started, 2)
        if update in ("paused", "rollback_paused") or time.monotonic() - started > timeout:
            return False, round(time.monotonic() - started, 2)
        time.sleep(0.25)


def _tasks_current(client: docker.DockerClient, service: Raw) -> bool:
    """Every running task runs the service's current image (a rolling update replaced them all)."""
    image = service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    tasks = client.api.tasks(filters={"service": service["ID"], "desired-state": "running"})
    return all(
        t["Spec"]["ContainerSpec"]["Image"] == image and (t.get("Status") or {}).get("State") == "running"
        for t in tasks
    )


def _service_kwargs(spec: ServiceSpec, api_version: str = "1.41") -> Raw:
    c = spec.container
    mounts = [
        docker.types.Mount(
            target=m.target,
            source=m.source if m.kind != "tmpfs" else None,
            type=m.kind,
            read_only=m.read_only,
            propagation=m.propagation if m.kind == "bind" else None,
        )
        for m in c.mounts
    ]
    container_spec = docker.types.ContainerSpec(
        image=c.image,
        command=list(c.command) if c.command is not None else None,
        env=[f"{k}={v}" for k, v in c.environment.items()] or None,
        workdir=c.working_dir,
        user=c.user,
        labels=dict(c.labels) or None,
        mounts=mounts or None,
        healthcheck=docker_healthcheck(c.healthcheck),
        read_only=c.read_only or None,
        cap_add=list(c.cap_add) or None,
        cap_drop=list(c.cap_drop) or None,
        tty=c.tty or None,
    )
    if _no_new_privileges(c.security_opt) and _api_at_least(api_version, (1, 44)):
        # Services carry no-new-privileges from API 1.44 (Docker 25); older engines cannot set it.
        container_spec["Privileges"] = {**(container_spec.get("Privileges") or {}), "NoNewPrivileges": True}
    resources = docker.types.Resources(
        cpu_limit=c.nano_cpus,
        mem_limit=c.memory_bytes,
        cpu_reservation=spec.reserve_nano_cpus,
        mem_reservation=spec.reserve_memory_bytes,
    )
    restart = docker.types.RestartPolicy(
        condition=spec.restart_condition,
        delay=nanoseconds(spec.restart_delay_seconds) or 0,
        max_attempts=spec.restart_max_attempts or 0,
    )
    template = docker.types.TaskTemplate(
        container_spec=container_spec,
        resources=resources,
        restart_policy=restart,
        placement=docker.types.Placement(constraints=list(spec.constraints)) if spec.constraints else None,
        networks=[docker.types.NetworkAttachmentConfig(target=n) for n in spec.networks] or None,
    )
    if c.pids_limit:
        template["Resources"].setdefault("Limits", {})["Pids"] = c.pids_limit
    mode = (
        docker.types.ServiceMode("global")
        if spec.mode == "global"
        else docker.types.ServiceMode(
            "replicated", replicas=spec.replicas if spec.replicas is not None else 1
        )
    )
    endpoint = None
    if spec.ports:
        # The stubs type port entries as str-only; the engine wants numbers for the ports.
        ports: list[Any] = [
            {
                "TargetPort": p.target,
                "Protocol": p.protocol,
                "PublishMode": p.mode,
                **({"PublishedPort": p.published} if p.published is not None else {}),
            }
            for p in spec.ports
        ]
        endpoint = docker.types.EndpointSpec(ports=ports)
    return {
        "task_template": template,
        "name": spec.name,
        "labels": dict(spec.labels) or None,
        "mode": mode,
        "update_config": _update_config(spec.update),
        "rollback_config": _update_config(spec.rollback),
        "endpoint_spec": endpoint,
    }


def _no_new_privileges(options: tuple[str, ...]) -> bool:
    """Whether the security options ask for no-new-privileges (any spelling that is not false)."""
    for option in options:
        key, value = security_option(option)
        if key == "no-new-privileges":
            return value.lower() not in ("false", "f", "0")
    return False


def _api_at_least(version: str, floor: tuple[int, int]) -> bool:
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= floor


def _update_config(policy: UpdatePolicy | None) -> docker.types.UpdateConfig | None:
    if policy is None:
        return None
    return docker.types.UpdateConfig(
        parallelism=policy.parallelism,
        delay=nanoseconds(policy.delay_seconds),
        failure_action=policy.failure_action,
        monitor=nanoseconds(policy.monitor_seconds),
        order=policy.order,
    )


def _service_row(raw: Raw) -> ServiceRow:
    spec = raw.get("Spec") or {}
    status = raw.get("ServiceStatus") or {}
    mode = "global" if "Global" in (spec.get("Mode") or {}) else "replicated"
    ports = [
        f"{p.get('PublishedPort', '')}->{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}"
        + (" (host)" if p.get("PublishMode") == "host" else "")
        for p in (raw.get("Endpoint") or {}).get("Ports") or []
    ]
    update = raw.get("UpdateStatus") or {}
    return ServiceRow(
        id=shaping.short_id(str(raw.get("ID", ""))),
        name=str(spec.get("Name", "")),
        image=_image_of(spec),
        mode=mode,
        running=int(status.get("RunningTasks") or 0),
        desired=int(status.get("DesiredTasks") or 0),
        ports=ports,
        update=str(update["State"]) if update.get("State") else None,
    )


def _service_detail(raw: Raw) -> ServiceDetail:
    spec = raw.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    container = template.get("ContainerSpec") or {}
    limits = (template.get("Resources") or {}).get("Limits") or {}
    restart = template.get("RestartPolicy") or {}
    update = spec.get("UpdateConfig") or {}
    previous = raw.get("PreviousSpec")
    health = container.get("Healthcheck") or {}
    return ServiceDetail(
        **_service_row(raw).model_dump(),
        command=[
            shaping.clean_text(str(a))
            for a in (container.get("Command") or []) + (container.get("Args") or [])
        ],
        env_keys=sorted(str(e).split("=", 1)[0] for e in container.get("Env") or []),
        mounts=[
            f"{m.get('Type', '')} {m.get('Source', '')}:{m.get('Target', '')}"
            + (":ro" if m.get("ReadOnly") else "")
            for m in container.get("Mounts") or []
        ],
        networks=[str(n.get("Target", "")) for n in template.get("Networks") or spec.get("Networks") or []],
        constraints=[str(c) for c in (template.get("Placement") or {}).get("Constraints") or []],
        limits={
            k: v
            for k, v in {
                "cpus": f"{int(limits['NanoCPUs']) / _NS:g}" if limits.get("NanoCPUs") else "",
                "memory": shaping.human_size(int(limits["MemoryBytes"])) if limits.get("MemoryBytes") else "",
                "pids": str(limits["Pids"]) if limits.get("Pids") else "",
            }.items()
            if v
        },
        restart=str(restart.get("Condition")) if restart.get("Condition") else None,
        update_config={
            k: str(v)
            for k, v in {
                "parallelism": update.get("Parallelism"),
                "delay_s": (int(update["Delay"]) / _NS) if update.get("Delay") else None,
                "failure_action": update.get("FailureAction"),
                "order": update.get("Order"),
            }.items()
            if v is not None
        },
        healthcheck=[shaping.clean_text(str(t)) for t in health.get("Test") or []] or None,
        labels=shaping.clean_labels(spec.get("Labels")),
        previous_image=_image_of(previous) if previous else None,
        version=int((raw.get("Version") or {}).get("Index") or 0),
    )


def _task_row(raw: Raw, nodes: dict[str, str]) -> TaskRow:
    status = raw.get("Status") or {}
    container = (status.get("ContainerStatus") or {}) if isinstance(status, dict) else {}
    error = status.get("Err")
    exit_code = container.get("ExitCode")
    return TaskRow(
        id=shaping.short_id(str(raw.get("ID", ""))),
        slot=raw.get("Slot"),
        node=nodes.get(str(raw.get("NodeID", "")), shaping.short_id(str(raw.get("NodeID", "")))),
        desired=str(raw.get("DesiredState", "")),
        state=str(status.get("State", "")),
        image=_image_of({"TaskTemplate": raw.get("Spec") or {}}),
        error=shaping.truncate(shaping.clean_text(str(error)), 200)[0] if error else None,
        exit_code=int(exit_code) if isinstance(exit_code, int) and exit_code != 0 else None,
        updated=str(raw.get("UpdatedAt", ""))[:19],
    )


def _image_of(spec: Raw) -> str:
    image = str(((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""))
    # The CLI pins images to a digest (name:tag@sha256:...); the tag is what people read.
    return image.split("@", 1)[0] if "@" in image and ":" in image.split("@", 1)[0] else image


# --------------------------------------------------------------------------- stacks


def list_stacks(client: docker.DockerClient) -> dict[str, int]:
    """Stack names with their service counts (from the stack label the CLI puts on services)."""
    counts: dict[str, int] = {}
    for service in client.api.services(filters={"label": STACK_LABEL}):
        name = str(((service.get("Spec") or {}).get("Labels") or {}).get(STACK_LABEL, ""))
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def stack_services(client: docker.DockerClient, stack: str) -> list[ServiceRow]:
    """A stack's services with their counts."""
    return list_services(client, {"label": f"{STACK_LABEL}={stack}"})


def stack_tasks(client: docker.DockerClient, stack: str) -> list[TaskRow]:
    """The running tasks of every service of a stack."""
    nodes = {n["ID"]: str((n.get("Description") or {}).get("Hostname", "")) for n in client.api.nodes()}
    services = client.api.services(filters={"label": f"{STACK_LABEL}={stack}"})
    rows: list[TaskRow] = []
    for service in services:
        tasks = client.api.tasks(filters={"service": service["ID"], "desired-state": "running"})
        rows += [_task_row(t, nodes) for t in tasks]
    return rows[:200]

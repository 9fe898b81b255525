"""Blocking container operations on docker-py's low-level API (run in worker threads).

Each function makes as few Engine API requests as the job allows (a listing is one request)
and returns compact models; raw engine dicts never leave this module.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import docker
import docker.errors
import docker.types
import regex
import requests.exceptions

from mcp_docker_server.engine._admission_sync import absent_volumes, describe_container, remove_volumes
from mcp_docker_server.engine._logs_sync import (
    GREP_SECONDS,
    LOG_SCAN_LIMIT,
    BoundedLogs,
    LogScan,
    log_params,
    read_logs,
)
from mcp_docker_server.errors import (
    EngineAPIError,
    EngineUnavailable,
    InvalidArgument,
    NotFound,
)
from mcp_docker_server.policy import Admitted
from mcp_docker_server.policy.admission import ContainerDescription
from mcp_docker_server.results import shaping
from mcp_docker_server.results.containers import (
    ContainerDetail,
    ContainerList,
    ContainerRow,
    ContainerState,
    ExecResult,
    HealthState,
    LogsResult,
    ManageResult,
    MountRow,
    ProcessTable,
    RunResult,
    StatsResult,
)
from mcp_docker_server.specs.containers import ContainerSpec, ExecSpec, Healthcheck
from mcp_docker_server.specs.timewindow import parse_moment

Raw = dict[str, Any]


# --------------------------------------------------------------------------- read


def list_containers(
    client: docker.DockerClient,
    *,
    include_stopped: bool,
    status: str | None,
    labels: list[str],
    name: str | None,
    limit: int,
) -> ContainerList:
    """One ``GET /containers/json`` for the whole list."""
    filters: dict[str, Any] = {}
    if status:
        filters["status"] = [status]
    if labels:
        filters["label"] = labels
    if name:
        # The engine reads a name filter as a regular expression; the tool promises a substring.
        filters["name"] = [_literal_regex(name)]
    raw: list[Raw] = client.api.containers(all=include_stopped or bool(status), filters=filters)
    if name:
        raw = [item for item in raw if any(name in str(n).lstrip("/") for n in item.get("Names") or [])]
    rows = [_row(item) for item in raw[:limit]]
    return ContainerList(containers=rows, total=len(raw), truncated=len(raw) > limit)


def _literal_regex(text: str) -> str:
    """``text`` as a Go regular expression that matches it literally (a backslash before any
    ASCII punctuation or space is literal in Go's syntax)."""
    return re.sub(r"([ -/:-@\[-^`{-~])", r"\\\1", text)


def _row(item: Raw) -> ContainerRow:
    names = item.get("Names") or ["?"]
    status = str(item.get("Status") or "")
    image = str(item.get("Image") or "")
    return ContainerRow(
        id=shaping.short_id(str(item.get("Id", ""))),
        name=str(names[0]).lstrip("/"),
        image=shaping.short_id(image) if image.startswith("sha256:") else image,
        state=str(item.get("State") or ""),
        status=shaping.status_without_health(status),
        health=shaping.health_from_status(status),
        ports=shaping.format_ports(item.get("Ports") or []),
    )


def inspect_container(client: docker.DockerClient, ref: str, *, show_env: bool) -> ContainerDetail:
    """Compact inspect; environment values hidden unless ``show_env``."""
    raw: Raw = client.api.inspect_container(ref)
    config: Raw = raw.get("Config") or {}
    host: Raw = raw.get("HostConfig") or {}
    networks: Raw = (raw.get("NetworkSettings") or {}).get("Networks") or {}
    limits: dict[str, int | float] = {}
    if host.get("Memory"):
        limits["memory_bytes"] = int(host["Memory"])
    if host.get("NanoCpus"):
        limits["cpus"] = int(host["NanoCpus"]) / 1e9
    if host.get("PidsLimit"):
        limits["pids"] = int(host["PidsLimit"])
    restart: Raw = host.get("RestartPolicy") or {}
    labels = shaping.clean_labels(config.get("Labels"))
    return ContainerDetail(
        id=shaping.short_id(str(raw.get("Id", ""))),
        name=str(raw.get("Name", "")).lstrip("/"),
        image=str(config.get("Image") or ""),
        image_id=shaping.short_id(str(raw.get("Image", ""))),
        created=str(raw.get("Created", ""))[:19],
        state=_state(raw.get("State") or {}),
        # Command lines carry secrets as often as env does: cleaned and redacted like logs.
        command=[
            shaping.truncate(shaping.clean_text(str(a)), 500)[0]
            for a in [raw.get("Path", ""), *(raw.get("Args") or [])][:50]
        ],
        working_dir=config.get("WorkingDir") or None,
        user=config.get("User") or None,
        env=shaping.mask_env(config.get("Env") or [], show_values=show_env),
        labels=dict(list(labels.items())[:50]),
        ports=shaping.format_bound_ports((raw.get("NetworkSettings") or {}).get("Ports")),
        mounts=[
            MountRow(
                type=str(m.get("Type", "")),
                source=str(m.get("Name") or m.get("Source") or ""),
                target=str(m.get("Destination", "")),
                mode="rw" if m.get("RW", True) else "ro",
            )
            for m in raw.get("Mounts") or []
        ],
        networks={name: str(net.get("IPAddress") or "") for name, net in networks.items()},
        restart_policy=restart.get("Name") or None,
        limits=limits,
        privileged=bool(host.get("Privileged")),
    )


def _state(state: Raw) -> ContainerState:
    health_raw: Raw | None = state.get("Health")
    health = None
    if health_raw:
        log = health_raw.get("Log") or []
        last = shaping.clean_text(str(log[-1].get("Output", ""))).strip() if log else ""
        health = HealthState(
            status=str(health_raw.get("Status", "")),
            failing_streak=int(health_raw.get("FailingStreak") or 0),
            last_output=shaping.truncate(last, 300)[0] or None,
        )
    finished = str(state.get("FinishedAt") or "")
    return ContainerState(
        status=str(state.get("Status", "")),
        exit_code=state.get("ExitCode") if state.get("Status") in ("exited", "dead") else None,
        error=state.get("Error") or None,
        oom_killed=bool(state.get("OOMKilled")),
        restarts=int(state.get("RestartCount") or 0),
        started_at=str(state.get("StartedAt") or "")[:19] or None,
        finished_at=None if finished.startswith("0001") else finished[:19] or None,
        health=health,
    )


def container_logs(
    client: docker.DockerClient,
    ref: str,
    *,
    tail: int,
    since: str | None,
    until: str | None,
    timestamps: bool,
    pattern: regex.Pattern[str] | None,
    max_bytes: int,
) -> LogsResult:
    """A bounded slice of the logs in one request, newest lines kept. With ``pattern`` the
    whole log (within since/until) is searched, bounded by bytes read and time, and the
    newest ``tail`` matching lines are kept; the result says what was searched."""
    start, end = parse_time(since, "since"), parse_time(until, "until")
    scan = LogScan()
    if pattern is None:
        kept = BoundedLogs(max_bytes)
        params = log_params(tail, timestamps=timestamps, since=start, until=end)
        for payload in read_logs(client.api, "containers", ref, params, scan=scan):
            kept.add(payload)
        text, shown, dropped = kept.result()
        return LogsResult(
            container=ref, lines=shown, text=text, truncated=dropped or not scan.complete,
            note=_logs_note(kept, shown, dropped, max_bytes, scan),
        )  # fmt: skip
    # The engine's timestamps tell how far a search got, so a stopped one can say where to go on.
    kept = BoundedLogs(max_bytes, pattern, keep=tail, timestamped=True, show_timestamps=timestamps)
    params = log_params("all", timestamps=True, since=start, until=end)
    for payload in read_logs(client.api, "containers", ref, params, scan=scan, seconds=GREP_SECONDS):
        kept.add(payload)
    if not scan.complete:
        kept.drop_partial()  # searched again by a call that goes on from the last whole line
    text, shown, dropped = kept.result()
    return LogsResult(
        container=ref, lines=shown, text=text, truncated=dropped or not scan.complete,
        matched=kept.matched, searched=_searched(kept, scan, since, until),
        note=_grep_note(kept, shown, tail, max_bytes),
    )  # fmt: skip


def _logs_note(kept: BoundedLogs, shown: int, dropped: bool, max_bytes: int, scan: LogScan) -> str | None:
    if not scan.complete:
        return (
            f"Reading stopped at {shaping.human_size(scan.bytes_read)} (the limit) before the newest "
            "lines: lower tail, or narrow with since/until."
        )
    if kept.cut_line:
        return (
            f"The newest line is longer than max_bytes: only its last {max_bytes} bytes are shown, "
            f"after {shaping.CUT_MARKER.strip()}. Raise max_bytes to see more of it."
        )
    if dropped:
        return (
            f"Showing the newest {shown} lines ({max_bytes} bytes). For older lines, "
            "narrow with until/since or grep, or raise max_bytes."
        )
    return None


def _searched(kept: BoundedLogs, scan: LogScan, since: str | None, until: str | None) -> str:
    read = f"{kept.lines_searched} lines, {shaping.human_size(scan.bytes_read)}"
    start = f"the log since {since}" if since else "the log from its start"
    if scan.complete:
        whole = "the whole log" if not (since or until) else start + (f" until {until}" if until else "")
        return f"{whole} ({read})"
    limit = (
        f"the {LOG_SCAN_LIMIT // 2**20} MiB read limit"
        if scan.stopped_by == "bytes"
        else f"the {GREP_SECONDS:g} s time limit"
    )
    if kept.last_time is None:
        return f"{start}, partly ({read}): stopped at {limit}; narrow with since/until"
    return (
        f"{start} up to {kept.last_time} only ({read}): stopped at {limit}; "
        f"search on with since={kept.last_time}"
    )


def _grep_note(kept: BoundedLogs, shown: int, tail: int, max_bytes: int) -> str | None:
    if kept.cut_line:
        return (
            f"The newest matching line is longer than max_bytes: only its last {max_bytes} bytes are "
            f"shown, after {shaping.CUT_MARKER.strip()}."
        )
    if kept.matched > shown:
        return (
            f"{kept.matched} lines matched; showing the newest {shown} (tail={tail}, max_bytes={max_bytes}). "
            "For older matches, raise tail or max_bytes, or narrow with until."
        )
    return None


def parse_time(value: str | None, what: str) -> float | None:
    """Unix seconds for ``"10m"``, ``"2h"`` (ago), a unix timestamp, or an RFC 3339 time."""
    if value is None or not value.strip():
        return None
    return parse_moment(value, time.time(), what)


def container_stats(client: docker.DockerClient, ref: str) -> StatsResult:
    """One sample (the engine takes two readings about a second apart for CPU %). A container
    that is not running has none: its state, memory limit and a note instead of zeros."""
    # The engine answers a stopped container with an all-zero "sample" that looks live: the
    # state is read first (and a stopped container costs no sampling second).
    info: Raw = client.api.inspect_container(ref)
    status = str((info.get("State") or {}).get("Status") or "")
    if not (info.get("State") or {}).get("Running"):
        return _idle_stats(info)
    raw: Raw = client.api.stats(ref, stream=False)
    cpu: Raw = raw.get("cpu_stats") or {}
    pre: Raw = raw.get("precpu_stats") or {}
    cpu_delta = _usage(cpu) - _usage(pre)
    system_delta = int(cpu.get("system_cpu_usage") or 0) - int(pre.get("system_cpu_usage") or 0)
    online = int(cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1)
    cpu_percent = cpu_delta / system_delta * online * 100 if system_delta > 0 and cpu_delta > 0 else 0.0
    memory: Raw = raw.get("memory_stats") or {}
    mem_stats: Raw = memory.get("stats") or {}
    cache = int(mem_stats.get("total_inactive_file") or mem_stats.get("inactive_file") or 0)
    used = max(int(memory.get("usage") or 0) - cache, 0)
    limit = int(memory.get("limit") or 0)
    networks: Raw = raw.get("networks") or {}
    blkio = ((raw.get("blkio_stats") or {}).get("io_service_bytes_recursive")) or []
    return StatsResult(
        id=shaping.short_id(str(raw.get("id", ""))),
        name=str(raw.get("name", "")).lstrip("/"),
        state=status,
        cpu_percent=round(cpu_percent, 2),
        memory_bytes=used,
        memory_limit_bytes=limit,
        memory_percent=round(used / limit * 100, 2) if limit else 0.0,
        net_rx_bytes=sum(int(n.get("rx_bytes") or 0) for n in networks.values()),
        net_tx_bytes=sum(int(n.get("tx_bytes") or 0) for n in networks.values()),
        block_read_bytes=sum(int(b.get("value") or 0) for b in blkio if str(b.get("op")).lower() == "read"),
        block_write_bytes=sum(int(b.get("value") or 0) for b in blkio if str(b.get("op")).lower() == "write"),
        pids=int((raw.get("pids_stats") or {}).get("current") or 0),
    )


def _idle_stats(info: Raw) -> StatsResult:
    state = _state(info.get("State") or {})
    host: Raw = info.get("HostConfig") or {}
    since = f" since {state.finished_at}" if state.finished_at else ""
    code = f" (exit code {state.exit_code})" if state.exit_code is not None else ""
    return StatsResult(
        id=shaping.short_id(str(info.get("Id", ""))),
        name=str(info.get("Name", "")).lstrip("/"),
        state=state.status,
        memory_limit_bytes=int(host.get("Memory") or 0),
        note=f"The container is {state.status}{code}{since}: no CPU, memory, network or process "
        "figures exist until it runs again. Its logs are still there (container-logs).",
    )


def _usage(sample: Raw) -> int:
    return int((sample.get("cpu_usage") or {}).get("total_usage") or 0)


def container_top(client: docker.DockerClient, ref: str, *, ps_args: str | None, limit: int) -> ProcessTable:
    """The container's processes as the host's ps sees them."""
    raw: Raw = dict(client.api.top(ref, ps_args=ps_args) if ps_args else client.api.top(ref))
    processes = [[shaping.truncate(str(c), 200)[0] for c in row] for row in raw.get("Processes") or []]
    return ProcessTable(
        titles=[str(t) for t in raw.get("Titles") or []],
        processes=processes[:limit],
        truncated=len(processes) > limit,
    )


# --------------------------------------------------------------------------- lifecycle


def manage_container(
    client: docker.DockerClient,
    ref: str,
    *,
    action: str,
    force: bool,
    timeout: int | None,
    signal: str | None,
) -> ManageResult:
    """start, stop, restart, remove, kill, pause, unpause; then report the new state."""
    api = client.api
    before: Raw = api.inspect_container(ref)
    cid = str(before["Id"])
    name = str(before.get("Name", "")).lstrip("/")
    note = None
    if action == "start":
        api.start(cid)
    elif action == "stop":
        api.stop(cid, timeout=10 if timeout is None else timeout)
    elif action == "restart":
        api.restart(cid, timeout=10 if timeout is None else timeout)
    elif action == "kill":
        api.kill(cid, signal=signal) if signal else api.kill(cid)
    elif action == "pause":
        api.pause(cid)
    elif action == "unpause":
        api.unpause(cid)
    elif action == "remove":
        api.remove_container(cid, force=force)
        return ManageResult(id=shaping.short_id(cid), name=name, action=action, state="removed")
    else:  # the schema's Literal makes this unreachable; keep the engine safe anyway
        raise InvalidArgument(f"Unknown action {action!r}.")
    after: Raw = api.inspect_container(cid)
    state = str((after.get("State") or {}).get("Status", ""))
    if action == "kill" and state == "running" and signal:
        note = f"signal {signal} delivered; the process chose to keep running."
    return ManageResult(id=shaping.short_id(cid), name=name, action=action, state=state, note=note)


def run_container(
    client: docker.DockerClient,
    admitted: Admitted[ContainerSpec],
    *,
    detach: bool,
    pull: str,
    pull_deadline: float,
    wait_timeout: float,
    max_bytes: int,
    auth_config: Mapping[str, str] | None,
    judge: Callable[[ContainerDescription], None],
) -> RunResult:
    """Create, judge, then start a container; with ``detach=False`` wait for it and return its
    output. ``judge`` sees the engine's own description of the created container (its inspect)
    and raises to refuse it.

    Nothing is left behind on failure or refusal: a container that was created but was refused
    or could not start is removed, with the named volumes its creation made, before the error
    is raised.
    """
    spec = admitted.unwrap()
    api = client.api
    pulled = ensure_image(client, spec.image, pull=pull, deadline=pull_deadline, auth_config=auth_config)
    new_volumes = absent_volumes(client, [m.source for m in spec.mounts if m.kind == "volume"])
    created: Raw = api.create_container(**_create_kwargs(api, spec, detach=detach))
    cid = str(created["Id"])
    try:
        judge(describe_container(client, cid))
        api.start(cid)
    except BaseException:
        _discard(api, cid)
        remove_volumes(client, new_volumes)
        raise
    if detach:
        info: Raw = api.inspect_container(cid)
        return _run_result(info, spec, pulled=pulled)
    return _wait_for_exit(api, cid, spec, pulled=pulled, wait_timeout=wait_timeout, max_bytes=max_bytes)


def _wait_for_exit(
    api: docker.APIClient, cid: str, spec: ContainerSpec, *, pulled: bool, wait_timeout: float, max_bytes: int
) -> RunResult:
    try:
        exit_code: int | None = int(api.wait(cid, timeout=max(1, round(wait_timeout)))["StatusCode"])
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        exit_code = None
    kept = BoundedLogs(max_bytes)
    for payload in read_logs(api, "containers", cid, log_params(1000)):
        kept.add(payload)
    output, _, output_dropped = kept.result()
    info: Raw = api.inspect_container(cid)
    result = _run_result(info, spec, pulled=pulled)
    removed = False
    if spec.auto_remove and exit_code is not None:
        api.remove_container(cid, force=True)
        removed = True
    return result.model_copy(
        update={
            "exit_code": exit_code,
            "output": output,
            "output_truncated": output_dropped,
            "removed": removed,
            "note": None
            if exit_code is not None
            else f"Still running after {wait_timeout:g} s; it keeps running. Read its output with "
            "container-logs, or stop it with manage-container.",
        }
    )


def _run_result(info: Raw, spec: ContainerSpec, *, pulled: bool) -> RunResult:
    return RunResult(
        id=shaping.short_id(str(info["Id"])),
        name=str(info.get("Name", "")).lstrip("/"),
        image=spec.image,
        state=str((info.get("State") or {}).get("Status", "")),
        ports=shaping.format_bound_ports((info.get("NetworkSettings") or {}).get("Ports")),
        pulled=pulled,
    )


def _discard(api: docker.APIClient, cid: str) -> None:
    # Best effort: the original failure is what the caller needs to see.
    with contextlib.suppress(docker.errors.DockerException):
        api.remove_container(cid, force=True, v=True)


def ensure_image(
    client: docker.DockerClient,
    image: str,
    *,
    pull: str,
    deadline: float,
    auth_config: Mapping[str, str] | None,
) -> bool:
    """Make sure ``image`` is present, pulling it as ``pull`` says; True when pulled."""
    api = client.api
    if pull != "always":
        try:
            api.inspect_image(image)  # type: ignore[no-untyped-call]
            return False
        except docker.errors.ImageNotFound:
            if pull == "never":
                raise NotFound(
                    "image", image, hint="build or pull it first, or call again with pull='missing'."
                ) from None
    started = time.monotonic()
    try:
        for message in api.pull(image, stream=True, decode=True, auth_config=dict(auth_config or {}) or None):
            if isinstance(message, dict) and message.get("error"):
                raise _pull_failed(image, str(message["error"]))
            if time.monotonic() - started > deadline:
                raise EngineUnavailable(
                    f"Pulling {image} did not finish within {deadline:g} s.",
                    hint="pull it with image-operations (which reports progress), or raise DOCKER_TIMEOUT.",
                )
    except docker.errors.APIError as exc:
        raise _pull_failed(image, str(exc.explanation or exc)) from exc
    return True


def _pull_failed(image: str, reason: str) -> NotFound:
    reason = shaping.truncate(reason.strip(), 300)[0]
    return NotFound(
        "image",
        image,
        hint=f"it is not present locally and the pull failed ({reason}); check the name and tag, "
        "the registry's reachability and credentials, or build it with build-image.",
    )


def _create_kwargs(api: docker.APIClient, spec: ContainerSpec, *, detach: bool) -> Raw:
    binds = [
        _bind(m.source, m.target, m.read_only, m.propagation, m.selinux_label)
        for m in spec.mounts
        if m.kind != "tmpfs"
    ]
    tmpfs = {m.target: "ro" if m.read_only else "" for m in spec.mounts if m.kind == "tmpfs"}
    restart = (
        {"Name": spec.restart_policy.name, "MaximumRetryCount": spec.restart_policy.max_retries}
        if spec.restart_policy
        else None
    )
    device_requests = None
    if spec.gpus is not None:
        device_requests = [
            docker.types.DeviceRequest(count=spec.gpus.count, capabilities=[["gpu"]])
            if spec.gpus.count is not None
            else docker.types.DeviceRequest(device_ids=list(spec.gpus.device_ids), capabilities=[["gpu"]])
        ]
    host_config = api.create_host_config(
        binds=binds or None,
        tmpfs=tmpfs or None,
        network_mode=spec.network,
        restart_policy=restart,
        nano_cpus=spec.nano_cpus,
        mem_limit=spec.memory_bytes,
        pids_limit=spec.pids_limit,
        device_requests=device_requests,
        auto_remove=spec.auto_remove and detach,
        read_only=spec.read_only,
        privileged=spec.privileged,
        cap_add=list(spec.cap_add) or None,
        cap_drop=list(spec.cap_drop) or None,
        pid_mode=spec.pid_mode,
        ipc_mode=spec.ipc_mode,
        uts_mode=spec.uts_mode,
        userns_mode=spec.userns_mode,
        security_opt=list(spec.security_opt) or None,
        devices=list(spec.devices) or None,
        volumes_from=list(spec.volumes_from) or None,
    )
    # Built by hand: the engine wants HostPort as a string, and "" for "any free port".
    bindings: dict[str, list[Raw]] = {}
    for port in spec.ports:
        key = f"{port.container_port}/{port.protocol}"
        bindings.setdefault(key, []).append(
            {"HostIp": port.host_ip, "HostPort": "" if port.host_port is None else str(port.host_port)}
        )
    if bindings:
        host_config["PortBindings"] = bindings
    healthcheck = docker_healthcheck(spec.healthcheck)
    return {
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "entrypoint": list(spec.entrypoint) if spec.entrypoint is not None else None,
        "environment": dict(spec.environment) or None,
        "labels": dict(spec.labels) or None,
        "working_dir": spec.working_dir,
        "user": spec.user,
        "hostname": spec.hostname,
        "ports": [(p.container_port, p.protocol) for p in spec.ports] or None,
        "volumes": [m.target for m in spec.mounts if m.kind != "tmpfs"] or None,
        "host_config": host_config,
        "name": spec.name,
        "healthcheck": healthcheck,
        "tty": spec.tty,
        "detach": True,
    }


def _bind(source: str, target: str, read_only: bool, propagation: str | None, label: str | None) -> str:
    options = ["ro" if read_only else "rw", *(o for o in (propagation, label) if o)]
    return f"{source}:{target}:{','.join(options)}"


def docker_healthcheck(hc: Healthcheck | None) -> docker.types.Healthcheck | None:
    """A healthcheck in the engine's terms (durations in nanoseconds); containers and services."""
    if hc is None:
        return None
    return docker.types.Healthcheck(
        test=list(hc.test),
        interval=nanoseconds(hc.interval),
        timeout=nanoseconds(hc.timeout),
        retries=hc.retries,
        start_period=nanoseconds(hc.start_period),
    )


def nanoseconds(seconds: float | None) -> int | None:
    """Seconds as the engine's nanoseconds."""
    return None if seconds is None else int(seconds * 1_000_000_000)


# --------------------------------------------------------------------------- exec


def exec_in_container(
    client: docker.DockerClient, admitted: Admitted[ExecSpec], *, timeout: float, max_bytes: int
) -> ExecResult:
    """Run a process in a running container; bounded output, exit code, never past ``timeout``."""
    spec = admitted.unwrap()
    api = client.api
    check_running(client, spec.container)
    exec_id = api.exec_create(
        spec.container,
        list(spec.command),
        stdout=True,
        stderr=True,
        workdir=spec.workdir,
        user=spec.user or "",
        environment=dict(spec.environment) or None,
        privileged=spec.privileged,
    )["Id"]
    stream = api.exec_start(exec_id, stream=True, demux=True)
    stdout, stderr = shaping.BoundedTail(max_bytes), shaping.BoundedTail(max_bytes)
    chunks: queue.Queue[tuple[bytes | None, bytes | None] | None] = queue.Queue(maxsize=64)

    def pump() -> None:
        # A separate reader lets the caller stop waiting at the deadline even while the
        # process is silent; the reader ends when the process or the connection does.
        try:
            for pair in stream:
                chunks.put(pair)
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
            pass
        finally:
            chunks.put(None)

    threading.Thread(target=pump, name="exec-reader", daemon=True).start()
    ends_at = time.monotonic() + timeout
    finished = False
    while (remaining := ends_at - time.monotonic()) > 0:
        try:
            item = chunks.get(timeout=remaining)
        except queue.Empty:
            break
        if item is None:
            finished = True
            break
        out, err = item
        if out:
            stdout.add(out)
        if err:
            stderr.add(err)
    info: Raw = api.exec_inspect(exec_id)
    exit_code = None if info.get("Running") or not finished else info.get("ExitCode")
    if exit_code is None and not info.get("Running") and info.get("ExitCode") is not None:
        exit_code = int(info["ExitCode"])
    notes = [] if exit_code is not None else [f"Still running after {timeout:g} s; it keeps running."]
    if stdout.dropped or stderr.dropped:
        notes.append(
            f"The output was longer than max_bytes ({max_bytes}): the newest part of each stream is "
            f"shown (a line cut short starts with {shaping.CUT_MARKER.strip()})."
        )
    return ExecResult(
        exit_code=exit_code,
        stdout=stdout.text(),
        stderr=stderr.text(),
        truncated=stdout.dropped or stderr.dropped,
        note=" ".join(notes) or None,
    )


def container_user(client: docker.DockerClient, ref: str) -> str:
    """The container's configured user ("" means root)."""
    config: Raw = client.api.inspect_container(ref).get("Config") or {}
    return str(config.get("User") or "")


def check_running(client: docker.DockerClient, ref: str) -> None:
    """Exec needs a running container; say so plainly instead of the engine's 409."""
    state: Raw = client.api.inspect_container(ref).get("State") or {}
    if not state.get("Running"):
        raise EngineAPIError(
            f"Container {ref} is {state.get('Status', 'not running')}, so nothing can run in it.",
            hint="start it with manage-container (action=start) first.",
        )

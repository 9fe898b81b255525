"""Blocking system operations on docker-py's low-level API (run in worker threads)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import docker
import docker.errors

from mcp_docker_server.engine._volumes_sync import volume_kind
from mcp_docker_server.policy import label_matches
from mcp_docker_server.results import shaping
from mcp_docker_server.results.system import (
    DiskUsage,
    DiskUsageRow,
    EventRow,
    PruneCandidate,
    PrunePlan,
)

Raw = dict[str, Any]
PRUNE_TARGETS = ("containers", "images", "networks", "volumes", "build-cache")
_PREDEFINED_NETWORKS = frozenset({"bridge", "host", "none", "ingress", "docker_gwbridge"})
_STOPPED = frozenset({"exited", "created", "dead"})
# Event attributes worth the model's tokens; the rest (labels, mostly) are dropped.
_EVENT_ATTRIBUTES = ("name", "image", "exitCode", "signal", "container", "type", "driver", "replicas")


def version(client: docker.DockerClient) -> dict[str, str]:
    """Engine, API and component versions."""
    raw: Raw = client.api.version()
    out = {
        "version": str(raw.get("Version", "")),
        "api_version": str(raw.get("ApiVersion", "")),
        "min_api_version": str(raw.get("MinAPIVersion", "")),
        "os_arch": f"{raw.get('Os', '')}/{raw.get('Arch', '')}",
        "kernel": str(raw.get("KernelVersion", "")),
        "go": str(raw.get("GoVersion", "")),
    }
    for component in raw.get("Components") or []:
        name = str(component.get("Name", "")).lower()
        if name in ("containerd", "runc", "docker-init"):
            out[name] = str(component.get("Version", ""))
    return out


def data_root(client: docker.DockerClient) -> str:
    """`docker info`'s DockerRootDir (empty when the engine does not say)."""
    raw: Raw = client.api.info()
    return str(raw.get("DockerRootDir") or "")


def info(client: docker.DockerClient) -> dict[str, str | int | bool | list[str]]:
    """The parts of `docker info` people look at: counts, resources, drivers, swarm state."""
    raw: Raw = client.api.info()
    swarm = raw.get("Swarm") or {}
    out: dict[str, str | int | bool | list[str]] = {
        "name": shaping.clean_text(str(raw.get("Name", ""))),
        "server_version": str(raw.get("ServerVersion", "")),
        "os": str(raw.get("OperatingSystem", "")),
        "kernel": str(raw.get("KernelVersion", "")),
        "arch": str(raw.get("Architecture", "")),
        "cpus": int(raw.get("NCPU") or 0),
        "memory": shaping.human_size(int(raw.get("MemTotal") or 0)),
        "containers_running": int(raw.get("ContainersRunning") or 0),
        "containers_paused": int(raw.get("ContainersPaused") or 0),
        "containers_stopped": int(raw.get("ContainersStopped") or 0),
        "images": int(raw.get("Images") or 0),
        "storage_driver": str(raw.get("Driver", "")),
        "cgroup": f"{raw.get('CgroupDriver', '')} v{raw.get('CgroupVersion', '1')}",
        "logging_driver": str(raw.get("LoggingDriver", "")),
        "swarm": str(swarm.get("LocalNodeState", "inactive")),
    }
    if swarm.get("LocalNodeState") == "active":
        out["swarm_manager"] = bool(swarm.get("ControlAvailable"))
        out["swarm_nodes"] = int(swarm.get("Nodes") or 0)
    warnings = [shaping.truncate(shaping.clean_text(str(w)), 200)[0] for w in raw.get("Warnings") or []]
    if warnings:
        out["warnings"] = warnings[:10]
    return out


def disk_usage(client: docker.DockerClient) -> DiskUsage:
    """`docker system df`: one request; sizes in bytes and human units, the largest named."""
    raw: Raw = client.api.df()
    images = raw.get("Images") or []
    containers = raw.get("Containers") or []
    volumes = raw.get("Volumes") or []
    cache = raw.get("BuildCache") or []
    image_sizes = [int(i.get("Size") or 0) for i in images]
    unused_images = sum(
        int(i.get("Size") or 0) - max(int(i.get("SharedSize") or 0), 0)
        for i in images
        if int(i.get("Containers") or 0) <= 0
    )
    rows = [
        _row("images", len(images), sum(1 for i in images if int(i.get("Containers") or 0) > 0),
             _layers_size(raw, image_sizes), unused_images),
        _row("containers", len(containers), sum(1 for c in containers if c.get("State") == "running"),
             sum(int(c.get("SizeRw") or 0) for c in containers),
             sum(int(c.get("SizeRw") or 0) for c in containers if c.get("State") in _STOPPED)),
        _row("volumes", len(volumes), sum(1 for v in volumes if _volume_refs(v) > 0),
             sum(_volume_size(v) for v in volumes),
             sum(_volume_size(v) for v in volumes if _volume_refs(v) == 0)),
        _row("build-cache", len(cache), sum(1 for b in cache if b.get("InUse")),
             sum(int(b.get("Size") or 0) for b in cache),
             sum(int(b.get("Size") or 0) for b in cache if not b.get("InUse") and not b.get("Shared"))),
    ]  # fmt: skip
    named = [(_image_name(i), int(i.get("Size") or 0)) for i in images]
    named += [(f"volume {v.get('Name', '')}", _volume_size(v)) for v in volumes]
    largest = sorted((n for n in named if n[1] > 0), key=lambda n: -n[1])[:5]
    return DiskUsage(rows=rows, largest=[f"{name} {shaping.human_size(size)}" for name, size in largest])


def events(
    client: docker.DockerClient, since: int, until: int, filters: dict[str, list[str]], limit: int
) -> tuple[list[EventRow], bool]:
    """Events between two unix times: the stream ends at ``until``; the latest ``limit`` are kept."""
    rows: list[EventRow] = []
    total = 0
    stream = client.api.events(since=since, until=until, filters=filters or None, decode=True)
    try:
        for raw in stream:
            total += 1
            rows.append(_event(raw))
            if len(rows) > limit:
                rows.pop(0)
    finally:
        with contextlib.suppress(Exception):
            stream.close()
    return rows, total > limit


def prune_plan(
    client: docker.DockerClient, targets: list[str], scope_label: str | None, *, named_volumes: bool = False
) -> PrunePlan:
    """What a prune of ``targets`` would remove now, with sizes. Volumes: anonymous ones only,
    as ``docker volume prune`` since API 1.42 (on every engine), named ones too when asked."""
    raw: Raw = client.api.df()
    candidates: list[PruneCandidate] = []
    if "containers" in targets:
        candidates += [
            PruneCandidate(type="container", name=_container_name(c), size_bytes=int(c.get("SizeRw") or 0))
            for c in raw.get("Containers") or []
            if c.get("State") in _STOPPED and _in_scope(c.get("Labels"), scope_label)
        ]
    if "images" in targets:
        candidates += [
            PruneCandidate(
                type="image", name=_short(str(i.get("Id", ""))), size_bytes=int(i.get("Size") or 0)
            )
            for i in raw.get("Images") or []
            if _dangling(i) and int(i.get("Containers") or 0) <= 0 and _in_scope(i.get("Labels"), scope_label)
        ]
    if "volumes" in targets:
        candidates += [
            PruneCandidate(type="volume", name=str(v.get("Name", "")), size_bytes=_volume_size(v), kind=kind)
            for v in raw.get("Volumes") or []
            if (kind := volume_kind(v, client.api.api_version)) == "anonymous" or named_volumes
            if _volume_refs(v) == 0 and _in_scope(v.get("Labels"), scope_label)
        ]
    if "networks" in targets:
        # The list endpoint leaves Containers empty: each user network is inspected.
        user_networks = [
            n for n in client.api.networks() if str(n.get("Name", "")) not in _PREDEFINED_NETWORKS
        ]
        candidates += [
            PruneCandidate(type="network", name=str(n.get("Name", "")))
            for n in (client.api.inspect_network(n["Id"]) for n in user_networks)
            if not n.get("Containers") and _in_scope(n.get("Labels"), scope_label)
        ]
    cache = 0
    if "build-cache" in targets and scope_label is None:
        cache = sum(
            int(b.get("Size") or 0)
            for b in raw.get("BuildCache") or []
            if not b.get("InUse") and not b.get("Shared")
        )
    total = sum(c.size_bytes for c in candidates) + cache
    return PrunePlan(
        candidates=candidates, total_bytes=total, total=shaping.human_size(total), build_cache_bytes=cache
    )


def prune(
    client: docker.DockerClient, targets: list[str], scope_label: str | None, *, named_volumes: bool = False
) -> PrunePlan:
    """Remove exactly what :func:`prune_plan` finds now; what could not go is listed, not fatal."""
    plan = prune_plan(client, targets, scope_label, named_volumes=named_volumes)
    failed: list[str] = []
    removers: dict[str, Callable[[str], object]] = {
        "container": lambda name: client.api.remove_container(name, v=False),
        "image": lambda name: client.api.remove_image(name, noprune=False),
        "volume": lambda name: client.api.remove_volume(name),
        "network": lambda name: client.api.remove_network(name),
    }
    for candidate in plan.candidates:
        try:
            removers[candidate.type](candidate.name)
        except docker.errors.NotFound:
            continue  # already gone: the goal is met
        except docker.errors.APIError as exc:
            reason = shaping.clean_text(str(exc.explanation or exc))
            failed.append(f"{candidate.type} {candidate.name}: {shaping.truncate(reason, 160)[0]}")
    if plan.build_cache_bytes:
        client.api.prune_builds()
    return plan.model_copy(update={"removed": True, "failed": failed})


def _row(kind: str, total: int, active: int, size: int, reclaimable: int) -> DiskUsageRow:
    reclaimable = max(min(reclaimable, size), 0)
    return DiskUsageRow(
        type=kind,
        total=total,
        active=active,
        size=shaping.human_size(size),
        size_bytes=size,
        reclaimable=shaping.human_size(reclaimable),
        reclaimable_bytes=reclaimable,
    )


def _layers_size(raw: Raw, image_sizes: list[int]) -> int:
    # LayersSize counts shared layers once; the sum of image sizes would count them per image.
    return int(raw.get("LayersSize") or sum(image_sizes))


def _in_scope(labels: object, scope_label: str | None) -> bool:
    return scope_label is None or label_matches(scope_label, labels)


def _short(identifier: str) -> str:
    """A full (sha256:)hex id cut to the 12 digits people use; anything else unchanged."""
    bare = identifier.removeprefix("sha256:")
    return bare[:12] if len(bare) == 64 and all(c in "0123456789abcdef" for c in bare) else identifier


def _volume_size(volume: Raw) -> int:
    return max(int((volume.get("UsageData") or {}).get("Size") or 0), 0)


def _volume_refs(volume: Raw) -> int:
    return int((volume.get("UsageData") or {}).get("RefCount") or 0)


def _dangling(image: Raw) -> bool:
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    return not tags


def _image_name(image: Raw) -> str:
    tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
    return tags[0] if tags else shaping.short_id(str(image.get("Id", "")).removeprefix("sha256:"))


def _container_name(container: Raw) -> str:
    names = container.get("Names") or []
    return str(names[0]).lstrip("/") if names else shaping.short_id(str(container.get("Id", "")))


def _event(raw: Raw) -> EventRow:
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    stamp = raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000
    when = datetime.fromtimestamp(int(stamp) / 1e9, tz=UTC).isoformat(timespec="milliseconds")
    name = attributes.get("name") or shaping.short_id(str(actor.get("ID", "")))
    return EventRow(
        time=when.replace("+00:00", "Z"),
        type=str(raw.get("Type", "")),
        action=shaping.truncate(shaping.clean_text(str(raw.get("Action", ""))), 80)[0],
        actor=shaping.truncate(shaping.clean_text(str(name)), 120)[0],
        attributes={
            k: _short(shaping.truncate(shaping.clean_text(str(attributes[k])), 120)[0])
            for k in _EVENT_ATTRIBUTES
            if k in attributes and k != "name"
        },
    )


def labels_of(client: docker.DockerClient, kind: str, ref: str) -> dict[str, str]:
    """The labels a container, network, volume, image or service carries (one request)."""
    api: Any = client.api
    if kind == "container":
        labels = (api.inspect_container(ref).get("Config") or {}).get("Labels")
    elif kind == "network":
        labels = api.inspect_network(ref).get("Labels")
    elif kind == "volume":
        labels = api.inspect_volume(ref).get("Labels")
    elif kind == "image":
        labels = (api.inspect_image(ref).get("Config") or {}).get("Labels")
    else:
        labels = (api.inspect_service(ref).get("Spec") or {}).get("Labels")
    return {str(k): str(v) for k, v in (labels or {}).items()}


def labelled_names(client: docker.DockerClient, kind: str, label: str) -> frozenset[str]:
    """The names of the networks, volumes or services carrying ``label`` (``key`` or
    ``key=value``), as the engine's own label filter finds them (one request)."""
    api: Any = client.api
    if kind == "network":
        rows = api.networks(filters={"label": [label]})
        return frozenset(str(n.get("Name", "")) for n in rows)
    if kind == "volume":
        rows = api.volumes(filters={"label": [label]}).get("Volumes") or []
        return frozenset(str(v.get("Name", "")) for v in rows)
    rows = api.services(filters={"label": [label]})
    return frozenset(str((s.get("Spec") or {}).get("Name", "")) for s in rows)

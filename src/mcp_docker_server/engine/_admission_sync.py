"""The engine's own description of a container or service, for the policy to judge (blocking).

What is judged is what the engine reports it will run (an inspect after create, before start),
not the request that led there: fields a request model does not know still show up here.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import docker
import docker.errors

from mcp_docker_server.policy.admission import (
    Bind,
    ContainerDescription,
    NetworkInfo,
    VolumeInfo,
    listed_binds,
    service_binds,
)

__all__ = [
    "ProjectResources",
    "absent_volumes",
    "cgroup_version",
    "describe_container",
    "describe_project",
    "describe_service",
    "project_resources",
    "remove_resources",
    "remove_volumes",
]

Raw = dict[str, Any]


_CGROUP_VERSIONS: weakref.WeakKeyDictionary[docker.DockerClient, str] = weakref.WeakKeyDictionary()


def cgroup_version(client: docker.DockerClient) -> str:
    """The engine's cgroup version, "1" or "2" (API 1.40+ reports it; older engines ran v1).
    Asked once per connection: an engine does not change it while running."""
    if client not in _CGROUP_VERSIONS:
        info: Raw = client.api.info()
        _CGROUP_VERSIONS[client] = str(info.get("CgroupVersion") or "1")
    return _CGROUP_VERSIONS[client]


def describe_container(
    client: docker.DockerClient, ref: str, *, built_images: frozenset[str] = frozenset()
) -> ContainerDescription:
    """Inspect ``ref`` and the named volumes it mounts: the description the policy judges."""
    raw: Raw = client.api.inspect_container(ref)
    networks: Raw = (raw.get("NetworkSettings") or {}).get("Networks") or {}
    names = {str(m["Name"]) for m in raw.get("Mounts") or [] if m.get("Type") == "volume" and m.get("Name")}
    return ContainerDescription(
        name=str(raw.get("Name") or ref).lstrip("/"),
        config=raw.get("Config") or {},
        host_config=raw.get("HostConfig") or {},
        networks=networks,
        volumes=volume_infos(client, names),
        cgroup_version=cgroup_version(client),
        built_images=built_images,
        network_infos=network_infos(
            client, {n: str((v or {}).get("NetworkID") or n) for n, v in networks.items()}
        ),
        other_binds=bind_sources(client, exclude=str(raw.get("Id") or "")),
    )


def bind_sources(client: docker.DockerClient, *, exclude: str = "") -> tuple[Bind, ...]:
    """Every container's host folders on the engine, but ``exclude``'s (the container being
    judged): its bind mounts, and the folders its ``local`` volumes mount like binds (a bind
    device, overlay layers); on a swarm manager, every service's too. One container listing,
    one service listing, and one volume listing when something mounts a named volume:
    (source, read-write, name)."""
    rows: list[Raw] = client.api.containers(all=True)
    services = swarm_services(client)
    mounted = any(m.get("Type") == "volume" for row in rows for m in row.get("Mounts") or []) or any(
        m.get("Type") == "volume"
        for s in services
        for m in (((s.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Mounts")
        or []
    )
    volumes = listed_volumes(client) if mounted else {}
    return listed_binds(rows, volumes, exclude=exclude) + service_binds(services, volumes)


def swarm_services(client: docker.DockerClient) -> list[Raw]:
    """The swarm's services, when the engine is a manager (its tasks may run on any node,
    this host included); none otherwise (the engine answers 503: not a manager)."""
    try:
        return list(client.api.services())  # type: ignore[no-untyped-call]
    except docker.errors.APIError as exc:
        if exc.status_code == 503:
            return []
        raise


def listed_volumes(client: docker.DockerClient) -> dict[str, VolumeInfo]:
    """Every volume's driver and options, in one listing (the list carries the options)."""
    listing: Raw = client.api.volumes() or {}
    return {
        str(v["Name"]): VolumeInfo(
            driver=str(v.get("Driver") or "local"),
            options={str(k): str(o) for k, o in (v.get("Options") or {}).items()},
        )
        for v in listing.get("Volumes") or []
        if v.get("Name")
    }


def network_infos(client: docker.DockerClient, refs: dict[str, str]) -> dict[str, NetworkInfo]:
    """Driver and options of each network (name -> id or name) that exists."""
    infos: dict[str, NetworkInfo] = {}
    for name, ref in refs.items():
        try:
            raw: Raw = client.api.inspect_network(ref)
        except docker.errors.NotFound:
            continue
        infos[name] = NetworkInfo(
            driver=str(raw.get("Driver") or ""),
            options={str(k): str(v) for k, v in (raw.get("Options") or {}).items()},
        )
    return infos


def volume_infos(client: docker.DockerClient, names: Iterable[str]) -> dict[str, VolumeInfo]:
    """Driver and options of each named volume that exists (absent ones are left out)."""
    infos: dict[str, VolumeInfo] = {}
    for name in sorted(set(names)):
        try:
            raw: Raw = client.api.inspect_volume(name)
        except docker.errors.NotFound:
            continue
        infos[name] = VolumeInfo(
            driver=str(raw.get("Driver") or "local"),
            options={str(k): str(v) for k, v in (raw.get("Options") or {}).items()},
        )
    return infos


def describe_service(
    client: docker.DockerClient, ref: str, *, previous: bool = False
) -> tuple[str, Raw, list[str], dict[str, VolumeInfo], dict[str, NetworkInfo]]:
    """A service as the swarm stores it: (name, task template, its networks' names, the named
    volumes its mounts use, its networks' drivers and options). Network ids are resolved to
    names (``host`` matters). ``previous``: the spec a rollback would restore (``PreviousSpec``;
    the current one when there is none, and the engine then refuses the rollback itself)."""
    raw: Raw = client.api.inspect_service(ref)  # type: ignore[no-untyped-call]
    spec: Raw = (raw.get("PreviousSpec") if previous else None) or raw.get("Spec") or {}
    template: Raw = spec.get("TaskTemplate") or {}
    network_names = []
    targets: dict[str, str] = {}
    for attachment in template.get("Networks") or spec.get("Networks") or []:
        target = str(attachment.get("Target") or "")
        try:
            name = str(client.api.inspect_network(target).get("Name") or target)
        except docker.errors.NotFound:
            name = target
        network_names.append(name)
        targets[name] = target
    mounts = (template.get("ContainerSpec") or {}).get("Mounts") or []
    names = [str(m["Source"]) for m in mounts if m.get("Type") == "volume" and m.get("Source")]
    infos = network_infos(client, targets)
    return str(spec.get("Name") or ref), template, network_names, volume_infos(client, names), infos


def absent_volumes(client: docker.DockerClient, names: Iterable[str]) -> list[str]:
    """The named volumes in ``names`` that do not exist yet (a create would make them)."""
    return [n for n in sorted(set(names)) if n not in volume_infos(client, [n])]


def remove_volumes(client: docker.DockerClient, names: Iterable[str]) -> None:
    """Remove volumes a refused call made; best effort, the refusal is what the caller needs."""
    for name in names:
        with contextlib.suppress(docker.errors.DockerException):
            client.api.remove_volume(name)


_PROJECT = "com.docker.compose.project"
_SERVICE = "com.docker.compose.service"


@dataclass(frozen=True)
class ProjectResources:
    """What a Compose project has on the engine: container ids, network and volume names."""

    containers: frozenset[str] = frozenset()
    networks: frozenset[str] = frozenset()
    volumes: frozenset[str] = frozenset()

    def minus(self, before: ProjectResources) -> ProjectResources:
        """What exists now and did not exist ``before``."""
        return ProjectResources(
            self.containers - before.containers,
            self.networks - before.networks,
            self.volumes - before.volumes,
        )


def project_resources(client: docker.DockerClient, project: str) -> ProjectResources:
    """The project's containers, networks and volumes, found by Compose's own labels."""
    label = {"label": [f"{_PROJECT}={project}"]}
    api = client.api
    volumes: Raw = api.volumes(filters=label) or {}
    return ProjectResources(
        containers=frozenset(str(c["Id"]) for c in api.containers(all=True, filters=label)),
        networks=frozenset(str(n["Name"]) for n in api.networks(filters=label)),
        volumes=frozenset(str(v["Name"]) for v in volumes.get("Volumes") or []),
    )


def describe_project(
    client: docker.DockerClient, project: str, services: Iterable[str], built_images: frozenset[str]
) -> list[ContainerDescription]:
    """Descriptions of the project's containers that belong to ``services``, each named as
    "container NAME of service SERVICE" so a refusal says which service it was."""
    wanted = set(services)
    label = {"label": [f"{_PROJECT}={project}"]}
    descriptions = []
    for item in client.api.containers(all=True, filters=label):
        service = str((item.get("Labels") or {}).get(_SERVICE) or "")
        if service not in wanted:
            continue
        desc = describe_container(client, str(item["Id"]), built_images=built_images)
        descriptions.append(replace(desc, name=f"{desc.name} of service {service}"))
    return descriptions


def remove_resources(client: docker.DockerClient, made: ProjectResources) -> None:
    """Remove what a refused call made: containers (with anonymous volumes), then networks and
    volumes. Best effort: the refusal is what the caller needs to see."""
    api = client.api
    for cid in made.containers:
        with contextlib.suppress(docker.errors.DockerException):
            api.remove_container(cid, force=True, v=True)
    for network in made.networks:
        with contextlib.suppress(docker.errors.DockerException):
            api.remove_network(network)
    remove_volumes(client, made.volumes)

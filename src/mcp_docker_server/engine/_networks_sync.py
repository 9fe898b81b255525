"""Blocking network operations on docker-py's low-level API (run in worker threads)."""

from __future__ import annotations

import time
from typing import Any

import docker
import docker.errors
import docker.types
import docker.utils

from mcp_docker_server.engine._names import matches as _matches
from mcp_docker_server.errors import Conflict, EngineAPIError, InvalidArgument, NotFound
from mcp_docker_server.results import shaping
from mcp_docker_server.results.networks import NetworkDetail, NetworkResult, NetworkRow
from mcp_docker_server.specs.networks import NetworkSpec

Raw = dict[str, Any]
_PREDEFINED = frozenset({"bridge", "host", "none"})

# --------------------------------------------------------------------------- networks


def _network_row(raw: Raw) -> NetworkRow:
    ipam = (raw.get("IPAM") or {}).get("Config") or []
    return NetworkRow(
        id=shaping.short_id(str(raw.get("Id", ""))),
        name=str(raw.get("Name", "")),
        driver=str(raw.get("Driver", "")),
        scope=str(raw.get("Scope", "")),
        internal=bool(raw.get("Internal")),
        subnets=[str(c["Subnet"]) for c in ipam if c.get("Subnet")],
    )


def _network_detail(raw: Raw) -> NetworkDetail:
    ipam = (raw.get("IPAM") or {}).get("Config") or []
    row = _network_row(raw)
    return NetworkDetail(
        **row.model_dump(),
        attachable=bool(raw.get("Attachable")),
        gateways=[str(c["Gateway"]) for c in ipam if c.get("Gateway")],
        options={str(k): str(v) for k, v in (raw.get("Options") or {}).items()},
        labels=shaping.clean_labels(raw.get("Labels")),
        containers={
            str(c.get("Name", cid[:12])): str(c.get("IPv4Address", "")).split("/")[0]
            for cid, c in (raw.get("Containers") or {}).items()
        },
    )


def list_networks(client: docker.DockerClient, pattern: str) -> NetworkResult:
    """All networks whose name matches the glob ``pattern`` (one request)."""
    raw: list[Raw] = client.api.networks()
    rows = [_network_row(n) for n in raw if _matches(str(n.get("Name", "")), pattern)]
    return NetworkResult(action="list", networks=sorted(rows, key=lambda r: r.name))


def inspect_network(client: docker.DockerClient, name: str) -> NetworkResult:
    """One network in detail."""
    return NetworkResult(action="inspect", network=_network_detail(client.api.inspect_network(name)))


def create_network(client: docker.DockerClient, spec: NetworkSpec) -> NetworkResult:
    """Create a network; an overlapping subnet or a missing swarm gets a clear error."""
    ipam = None
    if spec.subnet or spec.gateway or spec.ip_range:
        pool = docker.types.IPAMPool(subnet=spec.subnet, gateway=spec.gateway, iprange=spec.ip_range)
        ipam = docker.types.IPAMConfig(pool_configs=[pool])
    try:
        created: Raw = client.api.create_network(
            spec.name,
            driver=spec.driver,
            options=dict(spec.driver_opts) or None,
            ipam=ipam,
            check_duplicate=True,
            internal=spec.internal,
            labels=dict(spec.labels) or None,
            enable_ipv6=spec.ipv6,
            attachable=spec.attachable or None,
        )
    except docker.errors.APIError as exc:
        raise _network_create_error(spec, str(exc.explanation or exc)) from exc
    detail = _network_detail(client.api.inspect_network(str(created["Id"])))
    for _ in range(20):
        # A swarm network is allocated after the call returns: until then the manager reports it
        # without a driver. Wait a little (at most 2 s) rather than report a driver of "".
        if detail.driver and detail.scope:
            break
        time.sleep(0.1)
        detail = _network_detail(client.api.inspect_network(str(created["Id"])))
    if not (detail.driver and detail.scope):
        scope = "swarm" if spec.driver == "overlay" else "local"
        detail = detail.model_copy(
            update={"driver": detail.driver or spec.driver, "scope": detail.scope or scope}
        )
    note = str(created.get("Warning") or "") or None
    return NetworkResult(action="create", network=detail, note=note)


def _network_create_error(spec: NetworkSpec, detail: str) -> Exception:
    lowered = detail.lower()
    if "overlaps" in lowered:
        return Conflict(
            f"Subnet {spec.subnet or '(auto)'} overlaps an existing network: {detail}.",
            hint="choose a free subnet; network-management with action=list shows the subnets in use.",
        )
    if "already exists" in lowered:
        return Conflict(f"A network named {spec.name} already exists.", hint="pick another name or reuse it.")
    if "not a swarm manager" in lowered or "swarm" in lowered:
        return EngineAPIError(
            f"The {spec.driver} driver needs swarm mode: {detail}.",
            hint="initialise swarm first, or use the bridge driver on a single host.",
        )
    if "plugin" in lowered and "not found" in lowered:
        return InvalidArgument(
            f"Unknown network driver {spec.driver!r}: {detail}.",
            hint="use bridge, overlay, macvlan or ipvlan.",
        )
    return EngineAPIError(
        f"The engine refused to create network {spec.name}: {detail}.", hint="check the options."
    )


def remove_network(client: docker.DockerClient, name: str) -> NetworkResult:
    """Remove a network; one still in use says which containers hold it."""
    raw: Raw = client.api.inspect_network(name)
    if str(raw.get("Name")) in _PREDEFINED:
        raise InvalidArgument(f"{raw.get('Name')} is a predefined network and cannot be removed.")
    users = [str(c.get("Name")) for c in (raw.get("Containers") or {}).values()]
    if users:
        raise Conflict(
            f"Network {name} is still in use by {', '.join(sorted(users))}.",
            hint="disconnect them (action=disconnect) or remove those containers first.",
        )
    client.api.remove_network(str(raw["Id"]))
    return NetworkResult(action="remove", removed=[str(raw.get("Name"))])


def connect_network(
    client: docker.DockerClient, name: str, containers: list[str], *, connect: bool, force: bool
) -> NetworkResult:
    """Connect or disconnect each container; stops at the first failure, naming it."""
    network = str(client.api.inspect_network(name)["Id"])
    done: list[str] = []
    for container in containers:
        try:
            if connect:
                client.api.connect_container_to_network(container, network)
            else:
                client.api.disconnect_container_from_network(container, network, force=force)
        except docker.errors.NotFound as exc:
            raise NotFound("container", container, hint=_partial(done, connect)) from exc
        except docker.errors.APIError as exc:
            raise EngineAPIError(
                f"Could not {'connect' if connect else 'disconnect'} {container}: {exc.explanation or exc}.",
                hint=_partial(done, connect),
            ) from exc
        done.append(container)
    detail = _network_detail(client.api.inspect_network(network))
    if connect:
        return NetworkResult(action="connect", network=detail, connected=done)
    return NetworkResult(action="disconnect", network=detail, disconnected=done)


def _partial(done: list[str], connect: bool) -> str:
    if not done:
        return "check the container names with list-containers."
    return f"{', '.join(done)} {'were connected' if connect else 'were disconnected'} before this failure."


def prune_networks(client: docker.DockerClient, pattern: str) -> NetworkResult:
    """Remove unused user-defined networks whose name matches ``pattern``."""
    in_use: set[str] = set()
    for container in client.api.containers(all=True):
        in_use.update(((container.get("NetworkSettings") or {}).get("Networks") or {}).keys())
    removed = []
    for network in client.api.networks():
        name = str(network.get("Name", ""))
        if name in _PREDEFINED or name in in_use or not _matches(name, pattern, substring=False):
            continue
        try:
            client.api.remove_network(str(network["Id"]))
            removed.append(name)
        except docker.errors.APIError:
            continue  # attached meanwhile, or swarm-managed: not unused after all
    return NetworkResult(action="prune", removed=sorted(removed))

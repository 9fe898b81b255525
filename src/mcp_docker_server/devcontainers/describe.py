"""The engine's description of a container, from the docker CLI's inspect output (pure).

`docker container inspect` prints the Engine API's own inspect body, so the description built
here is the one the engine layer builds from docker-py (``engine/_admission_sync.py``): the
same ``Config`` and ``HostConfig``, the networks it joins and the named volumes it mounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_docker_server.policy.admission import ContainerDescription, NetworkInfo, VolumeInfo

__all__ = ["description", "mounted_volume_names", "network_refs", "volume_info"]

Raw = Mapping[str, Any]


def mounted_volume_names(raw: Raw) -> list[str]:
    """The named volumes an inspected container mounts."""
    return sorted(
        {str(m["Name"]) for m in raw.get("Mounts") or [] if m.get("Type") == "volume" and m.get("Name")}
    )


def network_refs(raw: Raw) -> dict[str, str]:
    """The networks an inspected container joins: name -> id (or the name, before it runs)."""
    networks: Raw = (raw.get("NetworkSettings") or {}).get("Networks") or {}
    return {str(n): str((v or {}).get("NetworkID") or n) for n, v in networks.items()}


def volume_info(raw: Raw) -> VolumeInfo:
    """A volume's driver and options, from its inspect body."""
    return VolumeInfo(
        driver=str(raw.get("Driver") or "local"),
        options={str(k): str(o) for k, o in (raw.get("Options") or {}).items()},
    )


def description(
    raw: Raw,
    volumes: Mapping[str, Raw],
    networks: Mapping[str, Raw],
    cgroup_version: str,
    other_binds: tuple[tuple[str, bool, str], ...] = (),
) -> ContainerDescription:
    """The description the policy judges, from an inspected container, the inspect bodies of
    the volumes it mounts (by name) and of its networks (by name), the engine's cgroup
    version ("1" or "2") and the other containers' host folders
    (:func:`~mcp_docker_server.policy.admission.listed_binds`)."""
    return ContainerDescription(
        other_binds=other_binds,
        name=str(raw.get("Name") or raw.get("Id") or "?").lstrip("/"),
        config=raw.get("Config") or {},
        host_config=raw.get("HostConfig") or {},
        networks=(raw.get("NetworkSettings") or {}).get("Networks") or {},
        volumes={name: volume_info(v) for name, v in volumes.items()},
        cgroup_version=cgroup_version or "1",
        network_infos={
            name: NetworkInfo(
                driver=str(n.get("Driver") or ""),
                options={str(k): str(o) for k, o in (n.get("Options") or {}).items()},
            )
            for name, n in networks.items()
        },
    )

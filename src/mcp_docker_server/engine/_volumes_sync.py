"""Blocking volume operations on docker-py's low-level API (run in worker threads)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import docker
import docker.errors
import docker.utils

from mcp_docker_server.engine._names import matches as _matches
from mcp_docker_server.errors import Conflict
from mcp_docker_server.results import shaping
from mcp_docker_server.results.volumes import VolumeDetail, VolumeResult, VolumeRow
from mcp_docker_server.specs.volumes import VolumeSpec

Raw = dict[str, Any]
# Engines from API 1.42 mark the volumes they create without a name (`docker run -v /data`);
# their `volume prune` removes only those unless asked for all. Older engines mark nothing:
# there an anonymous volume is known by its generated name, 64 hex digits.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_GENERATED_NAME = re.compile(r"[0-9a-f]{64}")

# --------------------------------------------------------------------------- volumes


def _volume_detail(raw: Raw, users: list[str]) -> VolumeDetail:
    return VolumeDetail(
        name=str(raw.get("Name", "")),
        driver=str(raw.get("Driver", "")),
        in_use=bool(users),
        mountpoint=str(raw.get("Mountpoint", "")),
        created=str(raw.get("CreatedAt") or "")[:19] or None,
        scope=str(raw.get("Scope") or "local"),
        options={str(k): str(v) for k, v in (raw.get("Options") or {}).items()},
        labels=shaping.clean_labels(raw.get("Labels")),
        containers=users,
    )


def _volumes_in_use(client: docker.DockerClient) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for container in client.api.containers(all=True):
        name = str((container.get("Names") or ["?"])[0]).lstrip("/")
        for mount in container.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                users.setdefault(str(mount["Name"]), []).append(name)
    return users


def list_volumes(client: docker.DockerClient, pattern: str) -> VolumeResult:
    """Volumes whose name matches ``pattern``, with whether any container mounts them (2 requests)."""
    raw: list[Raw] = client.api.volumes().get("Volumes") or []
    users = _volumes_in_use(client)
    rows = [
        VolumeRow(name=str(v["Name"]), driver=str(v.get("Driver", "")), in_use=str(v["Name"]) in users)
        for v in raw
        if _matches(str(v.get("Name", "")), pattern)
    ]
    return VolumeResult(action="list", volumes=sorted(rows, key=lambda r: r.name))


def inspect_volume(client: docker.DockerClient, name: str) -> VolumeResult:
    """One volume with the containers that mount it."""
    raw: Raw = client.api.inspect_volume(name)
    users = client.api.containers(all=True, filters={"volume": name})
    names = [str((c.get("Names") or ["?"])[0]).lstrip("/") for c in users]
    return VolumeResult(action="inspect", volume=_volume_detail(raw, names))


def volume_options(client: docker.DockerClient, names: list[str]) -> dict[str, Mapping[str, str]]:
    """Driver options of the named volumes that exist (for the policy's bind-in-disguise check)."""
    found: dict[str, Mapping[str, str]] = {}
    for name in names:
        try:
            raw: Raw = client.api.inspect_volume(name)
        except docker.errors.NotFound:
            continue
        found[name] = {str(k): str(v) for k, v in (raw.get("Options") or {}).items()}
    return found


def create_volume(client: docker.DockerClient, spec: VolumeSpec) -> VolumeResult:
    """Create a volume (the policy has already judged its driver options)."""
    try:
        client.api.inspect_volume(spec.name)
    except docker.errors.NotFound:
        pass
    else:
        raise Conflict(f"A volume named {spec.name} already exists.", hint="pick another name or reuse it.")
    raw: Raw = client.api.create_volume(
        spec.name,
        driver=spec.driver,
        driver_opts=dict(spec.driver_opts) or None,
        labels=dict(spec.labels) or None,
    )
    return VolumeResult(action="create", volume=_volume_detail(raw, []))


def remove_volume(client: docker.DockerClient, name: str, *, force: bool) -> VolumeResult:
    """Remove a volume; one in use says which containers mount it."""
    users = client.api.containers(all=True, filters={"volume": name})
    client.api.inspect_volume(name)
    if users and not force:
        names = sorted(str((c.get("Names") or ["?"])[0]).lstrip("/") for c in users)
        raise Conflict(
            f"Volume {name} is in use by {', '.join(names)}.",
            hint="remove those containers first (force=true cannot free a volume a container still mounts).",
        )
    client.api.remove_volume(name, force=force)
    return VolumeResult(action="remove", removed=[name])


def volume_kind(volume: Mapping[str, Any], api_version: str) -> Literal["anonymous", "named"]:
    """Whether a volume (a row of ``GET /volumes`` or ``/system/df``) is anonymous, as the
    engine's own prune decides on API 1.42 and later, or by its generated name on older ones."""
    if ANONYMOUS_LABEL in (volume.get("Labels") or {}):
        return "anonymous"
    legacy = docker.utils.version_lt(api_version, "1.42")
    if legacy and _GENERATED_NAME.fullmatch(str(volume.get("Name", ""))):
        return "anonymous"
    return "named"


def prune_volumes(client: docker.DockerClient, pattern: str, *, include_named: bool) -> VolumeResult:
    """Remove volumes no container mounts whose name matches ``pattern``: anonymous ones only,
    as ``docker volume prune`` does since API 1.42 on every engine, named ones too when
    ``include_named`` (``docker volume prune --all``)."""
    users = _volumes_in_use(client)
    removed: list[str] = []
    kept_named: list[str] = []
    for volume in client.api.volumes().get("Volumes") or []:
        name = str(volume.get("Name", ""))
        if name in users or not _matches(name, pattern, substring=False):
            continue
        if not include_named and volume_kind(volume, client.api.api_version) == "named":
            kept_named.append(name)
            continue
        try:
            client.api.remove_volume(name)
            removed.append(name)
        except docker.errors.APIError:
            continue  # mounted meanwhile: not unused after all
    note = None
    if kept_named:
        shown = ", ".join(sorted(kept_named)[:10]) + (", ..." if len(kept_named) > 10 else "")
        note = (
            f"Only anonymous volumes are pruned by default; {len(kept_named)} unused named volume(s) "
            f"kept: {shown}. all=true removes named ones too (their data is lost)."
        )
    return VolumeResult(action="prune", removed=sorted(removed), note=note)

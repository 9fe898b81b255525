"""Blocking reads of what an image holds, without running it.

Files come from the engine's image export (``GET /images/{name}/get``, what `docker save`
streams): an outer tar of layer tars plus ``manifest.json``. It is read once, as a stream,
keeping only the files a caller wants; each layer's whiteouts are applied in the manifest's
layer order, so a file deleted by a later layer is gone, as it would be in a container.
Nothing is created on the engine and no container starts.
"""

from __future__ import annotations

import json
import posixpath
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import docker
import docker.auth
import docker.utils

from mcp_docker_server.engine._images_sync import StreamHandle, _protected
from mcp_docker_server.errors import EngineAPIError, InvalidArgument
from mcp_docker_server.results.security import HistoryEntry, ImageFacts

Raw = dict[str, Any]
_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


def image_facts(client: docker.DockerClient, ref: str) -> ImageFacts:
    """Inspect and history of an image, as plain values."""
    raw: Raw = client.api.inspect_image(ref)  # type: ignore[no-untyped-call]
    history: list[Raw] = client.api.history(ref)  # type: ignore[no-untyped-call]
    config: Raw = raw.get("Config") or {}
    health = (config.get("Healthcheck") or {}).get("Test")
    labels = config.get("Labels") or {}
    return ImageFacts(
        id=str(raw.get("Id", "")),
        tags=tuple(str(t) for t in raw.get("RepoTags") or []),
        digests=tuple(str(d) for d in raw.get("RepoDigests") or []),
        created=str(raw.get("Created") or ""),
        size_bytes=int(raw.get("Size") or 0),
        user=str(config.get("User") or ""),
        env=tuple(str(e) for e in config.get("Env") or []),
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {},
        exposed_ports=tuple(sorted(str(p) for p in config.get("ExposedPorts") or {})),
        healthcheck=tuple(str(t) for t in health) if health else None,
        layers=len((raw.get("RootFS") or {}).get("Layers") or []),
        history=tuple(
            HistoryEntry(
                created_by=str(item.get("CreatedBy") or ""),
                size_bytes=int(item.get("Size") or 0),
                created=int(item.get("Created") or 0),
                layer_id=None if str(item.get("Id")) == "<missing>" else str(item.get("Id") or ""),
            )
            for item in history
        ),
    )


def local_digest(client: docker.DockerClient, ref: str) -> str | None:
    """The registry digest the engine recorded for ``ref`` when it pulled or pushed it."""
    raw: Raw = client.api.inspect_image(ref)  # type: ignore[no-untyped-call]
    wanted = _repository(ref)
    for item in raw.get("RepoDigests") or []:
        name, _, digest = str(item).partition("@")
        if _repository(name) == wanted and digest:
            return digest
    return None


def registry_digest(client: docker.DockerClient, ref: str, auth: Mapping[str, str] | None) -> str:
    """The digest the registry serves for ``ref`` now (the engine asks it: no pull)."""
    try:
        raw: Raw = client.api.inspect_distribution(  # type: ignore[no-untyped-call]
            ref, auth_config=dict(auth) if auth else None
        )
    except docker.errors.APIError as exc:
        said = str(exc.explanation or exc)[:300]
        raise EngineAPIError(
            f"The registry could not resolve {ref}: {said}.",
            hint="check the name and tag, the registry's address and credentials; images built "
            "locally have no registry digest until pushed.",
        ) from exc
    digest = (raw.get("Descriptor") or {}).get("digest")
    if not digest:
        raise EngineAPIError(f"The registry gave no digest for {ref}.")
    return str(digest)


def _repository(ref: str) -> str:
    """``ref``'s repository, fully qualified (busybox -> docker.io/library/busybox)."""
    repository, _ = docker.utils.parse_repository_tag(ref.split("@", 1)[0])
    registry, name = docker.auth.resolve_repository_name(repository)
    if registry in ("index.docker.io", "docker.io") and "/" not in name:
        name = f"library/{name}"
    return f"{registry}/{name}"


@dataclass
class _Layer:
    files: dict[str, bytes] = field(default_factory=dict)
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)


@dataclass
class ImageFiles:
    """The wanted files of an image's final filesystem, and what was left out."""

    files: dict[str, bytes]
    skipped: list[str]
    bytes_read: int


class _Counting:
    """A read-only file object that counts what passes and stops past a budget."""

    def __init__(self, raw: IO[bytes], budget: int) -> None:
        self._raw = raw
        self.read_bytes = 0
        self._budget = budget

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self.read_bytes += len(chunk)
        if self.read_bytes > self._budget:
            raise InvalidArgument(
                f"The image export passed {self._budget // 1024**3} GiB and was stopped.",
                hint="this image is too big to inventory here; use a scanner (action=scan).",
            )
        return chunk


def read_image_files(
    client: docker.DockerClient,
    ref: str,
    wanted: Callable[[str], bool],
    handle: StreamHandle,
    *,
    max_file: int,
    max_kept: int,
    max_export: int,
) -> ImageFiles:
    """The files ``wanted`` selects (paths without a leading slash) from the image's layers."""
    api = _protected(client)
    response = api._get(api._url("/images/{0}/get", ref), stream=True, timeout=None)
    handle.attach(response)
    api._raise_for_status(response)
    stream = _Counting(response.raw, max_export)
    layers: dict[str, _Layer] = {}
    aliases: dict[str, str] = {}
    order: list[str] = []
    skipped: list[str] = []
    kept = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|") as outer:  # type: ignore[call-overload]
            for member in outer:
                if member.name == "manifest.json" and member.isfile():
                    order = _layer_order(outer.extractfile(member))
                elif member.issym() or member.islnk():
                    # Identical layers are stored once; the others link to it.
                    target = (
                        member.linkname
                        if member.islnk()
                        else posixpath.normpath(
                            posixpath.join(posixpath.dirname(member.name), member.linkname)
                        )
                    )
                    aliases[member.name] = target
                elif member.isfile() and (member.name.endswith(".tar") or member.name.startswith("blobs/")):
                    layer, kept = _read_layer(
                        outer.extractfile(member), wanted, max_file, max_kept, kept, skipped
                    )
                    if layer is not None:
                        layers[member.name] = layer
    finally:
        response.close()
    files: dict[str, bytes] = {}
    for name in order:
        layer = layers.get(aliases.get(name, name))
        if layer is None:
            continue
        for folder in layer.opaque:
            for path in [p for p in files if p.startswith(folder + "/")]:
                del files[path]
        for gone in layer.whiteouts:
            for path in [p for p in files if p == gone or p.startswith(gone + "/")]:
                del files[path]
        files.update(layer.files)
    return ImageFiles(files, skipped[:20], stream.read_bytes)


def _layer_order(handle: IO[bytes] | None) -> list[str]:
    if handle is None:
        return []
    manifest = json.loads(handle.read(16 * 1024 * 1024) or b"[]")
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        return []
    return [str(layer) for layer in manifest[0].get("Layers") or []]


def _read_layer(
    handle: IO[bytes] | None,
    wanted: Callable[[str], bool],
    max_file: int,
    max_kept: int,
    kept: int,
    skipped: list[str],
) -> tuple[_Layer | None, int]:
    if handle is None:
        return None, kept
    layer = _Layer()
    try:
        with tarfile.open(fileobj=handle, mode="r|*") as inner:
            for entry in inner:
                name = entry.name.removeprefix("./").lstrip("/")
                path = posixpath.normpath(name) if name else ""
                base = posixpath.basename(path)
                folder = posixpath.dirname(path)
                if base == _OPAQUE:
                    layer.opaque.append(folder)
                elif base.startswith(_WHITEOUT):
                    layer.whiteouts.append(posixpath.join(folder, base.removeprefix(_WHITEOUT)))
                elif entry.isfile() and wanted(path):
                    if entry.size > max_file or kept + entry.size > max_kept:
                        skipped.append(f"{path} ({entry.size} bytes)")
                        continue
                    data = inner.extractfile(entry)
                    if data is not None:
                        layer.files[path] = data.read()
                        kept += entry.size
    except tarfile.ReadError:
        return None, kept  # a config or index blob, not a layer
    return layer, kept

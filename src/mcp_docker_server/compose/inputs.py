"""The host files Compose reads of its own accord, found before Compose runs (blocking I/O).

Loading a project makes Compose read more than the files it is given: the project folder's
``.env`` (interpolated into the project), ``include`` entries with their ``env_file`` and
``project_directory``, and ``extends.file`` of services, recursively. Their values can end up
in containers and their text in Compose's error messages, so each must pass the host-path rule
first. Remote includes (git, OCI) would run host programs and reach the network: they are named
so the caller can refuse them. Follows compose-go's loader (``loader/include.go``,
``loader/extends.go``) and ``docker compose``'s ``.env`` lookup in the project directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ComposeInput", "compose_inputs"]

_MAX_FILES = 64
_MAX_BYTES = 4 * 1024 * 1024
_REMOTE = ("http://", "https://", "git://", "git@", "ssh://", "oci://")


@dataclass(frozen=True)
class ComposeInput:
    """A host file Compose would read: what it is for, and its path (absolute), or a remote
    resource (``remote`` true) that Compose would fetch."""

    purpose: str
    path: str
    remote: bool = False


def compose_inputs(files: Sequence[Path]) -> list[ComposeInput]:
    """Every file Compose reads to load ``files`` (the given files first), deduplicated; at
    most 64 compose files are followed. Unreadable or malformed files are listed but not
    followed: Compose itself will report them."""
    found: dict[tuple[str, str], ComposeInput] = {}
    for item in _walk(files):
        found.setdefault((item.purpose, item.path), item)
    return list(found.values())


def _walk(files: Sequence[Path]) -> Iterator[ComposeInput]:
    pending: list[tuple[Path, str]] = [(f, "compose file") for f in files]
    if files:
        yield from _dotenv(files[0].parent)
    seen: set[Path] = set()
    while pending and len(seen) < _MAX_FILES:
        file, purpose = pending.pop(0)
        yield ComposeInput(purpose, str(file))
        if file in seen:
            continue
        seen.add(file)
        document = _load(file)
        for item in _includes(document, file.parent):
            yield item
            if not item.remote and item.purpose == "included compose file":
                pending.append((Path(item.path), item.purpose))
        for item in _extends(document, file.parent):
            yield item
            if not item.remote:
                pending.append((Path(item.path), item.purpose))


def _load(file: Path) -> Any:
    import yaml  # PyYAML costs ~9 ms of start-up: imported at the first Compose call

    try:
        with file.open("rb") as stream:
            text = stream.read(_MAX_BYTES + 1)
        if len(text) > _MAX_BYTES:
            return None
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError):
        return None


def _dotenv(folder: Path) -> Iterator[ComposeInput]:
    candidate = folder / ".env"
    if os.path.lexists(candidate):
        yield ComposeInput(".env file", str(candidate))


def _paths(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value] if value else []
    return [str(i) for i in items if isinstance(i, str | int | float)]


def _resolve(base: Path, raw: str) -> tuple[str, bool]:
    """(absolute path, False), or (the reference, True) for a remote resource."""
    if raw.startswith(_REMOTE) or "://" in raw:
        return raw, True
    expanded = os.path.expanduser(raw)
    return (expanded if os.path.isabs(expanded) else str(base / expanded)), False


def _includes(document: Any, base: Path) -> Iterator[ComposeInput]:
    entries = document.get("include") if isinstance(document, Mapping) else None
    for entry in entries if isinstance(entries, list) else []:
        spec = entry if isinstance(entry, Mapping) else {"path": entry}
        local = []
        for raw in _paths(spec.get("path")):
            path, remote = _resolve(base, raw)
            yield ComposeInput("include" if remote else "included compose file", path, remote=remote)
            if not remote:
                local.append(path)
        for raw in _paths(spec.get("env_file")):
            path, remote = _resolve(base, raw)
            yield ComposeInput("include env_file", path, remote=remote)
        directory = spec.get("project_directory")
        if isinstance(directory, str):
            folder, remote = _resolve(base, directory)
            if not remote:
                yield from _dotenv(Path(folder))
        elif local:
            yield from _dotenv(Path(local[0]).parent)


def _extends(document: Any, base: Path) -> Iterator[ComposeInput]:
    services = document.get("services") if isinstance(document, Mapping) else None
    for service in services.values() if isinstance(services, Mapping) else []:
        extends = service.get("extends") if isinstance(service, Mapping) else None
        if isinstance(extends, Mapping) and isinstance(extends.get("file"), str):
            path, remote = _resolve(base, extends["file"])
            yield ComposeInput("extends file", path, remote=remote)

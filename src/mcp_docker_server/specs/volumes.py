"""Volumes as a tool asks for them, and what their driver options mount (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["VolumeSpec", "bind_device", "tmpfs_only", "volume_host_paths"]


@dataclass(frozen=True)
class VolumeSpec:
    """A volume to create."""

    name: str
    driver: str = "local"
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


def bind_device(driver_opts: Mapping[str, str]) -> str | None:
    """The host path a ``local`` volume really mounts when its options make it a bind mount
    (``type: none, o: bind, device: /path``): a host mount in disguise."""
    if {"bind", "rbind"} & set(_mount_flags(driver_opts)):
        return driver_opts.get("device") or "/"
    return None


# Options of a local tmpfs volume that mount nothing of the host's (moby's mount flags and
# tmpfs's own keys). Anything else (bind, remount, propagation, suid, dev...) is not "tmpfs only".
_TMPFS_FLAGS = frozenset(
    {
        "defaults", "ro", "rw", "nosuid", "nodev", "exec", "noexec", "sync", "async", "dirsync",
        "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime",
        "nostrictatime",
    }
)  # fmt: skip


_TMPFS_KEYS = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "huge", "mpol"})


def tmpfs_only(driver_opts: Mapping[str, str]) -> bool:
    """Whether ``local`` driver options make a plain tmpfs: memory, no host path or device."""
    if driver_opts.get("type", "").strip().lower() != "tmpfs" or set(driver_opts) - {"type", "o", "device"}:
        return False
    if driver_opts.get("device", "").strip().startswith("/"):
        return False
    return all(
        flag in _TMPFS_FLAGS or ("=" in flag and flag.partition("=")[0] in _TMPFS_KEYS)
        for flag in _mount_flags(driver_opts)
    )


def volume_host_paths(driver_opts: Mapping[str, str]) -> list[tuple[str, str]]:
    """The host folders ``local`` driver options mount, with what each is: a bind's device, an
    overlay's layers. Block devices and network shares are not folders and are not listed."""
    found: list[tuple[str, str]] = []
    if (device := bind_device(driver_opts)) is not None:
        found.append((device, "bind device"))
    if driver_opts.get("type", "").strip().lower() == "overlay":
        for flag in _mount_flags(driver_opts):
            key, _, value = flag.partition("=")
            if key in ("lowerdir", "upperdir", "workdir"):
                found.extend((path, f"overlay {key}") for path in value.split(":") if path)
    return found


def _mount_flags(driver_opts: Mapping[str, str]) -> list[str]:
    """The comma-separated ``o`` option, each trimmed, flags lower-cased (keys' values kept)."""
    flags = []
    for raw in driver_opts.get("o", "").split(","):
        key, sep, value = raw.strip().partition("=")
        if key:
            flags.append(f"{key.lower()}{sep}{value}")
    return flags

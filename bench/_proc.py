"""Process facts from /proc: which child is the spawned server, and its peak resident memory."""

from __future__ import annotations

import os
from pathlib import Path


def child_pids() -> set[int]:
    """Pids whose parent is this process (scans /proc; needs no kernel option)."""
    me = os.getpid()
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited while we looked
        # The command name is in parentheses and may hold spaces; the parent pid follows it.
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[1]) == me:
            found.add(int(stat.parent.name))
    return found


def new_child(before: set[int]) -> int:
    """The one child started since ``before`` was taken (the stdio client's server process)."""
    started = child_pids() - before
    if len(started) != 1:
        raise RuntimeError(f"expected one new child process, found {sorted(started)}")
    return started.pop()


def peak_rss_kib(pid: int) -> int:
    """VmHWM (peak resident set) of a live process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")

"""What the event feed hands out, shared by the feed and its blocking reader (so neither
imports the other)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LIFECYCLE_ACTIONS", "ContainerEvent"]

LIFECYCLE_ACTIONS = frozenset({"start", "restart", "stop", "die", "oom", "health_status", "destroy"})


@dataclass(frozen=True)
class ContainerEvent:
    """One lifecycle change of a container (``resync``: noticed after a reconnect)."""

    id: str
    name: str
    action: str
    project: str | None
    time_nano: int

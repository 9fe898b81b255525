"""Progress shared between a worker thread (which reads the engine's stream) and the event loop
(which reports it to the client). Pure: a lock and a few numbers."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

__all__ = ["Progress", "ProgressSnapshot"]


@dataclass(frozen=True)
class ProgressSnapshot:
    """What a progress notification says."""

    done: float
    total: float | None
    message: str
    version: int


class Progress:
    """Thread-safe progress: the worker updates it, the loop samples it."""

    def __init__(self, message: str = "starting") -> None:
        self._lock = threading.Lock()
        self._done = 0.0
        self._total: float | None = None
        self._message = message
        self._version = 0
        self.started = time.monotonic()

    def update(self, done: float, total: float | None, message: str) -> None:
        """Record new progress (called from any thread)."""
        with self._lock:
            self._done, self._total, self._message = done, total, message[:200]
            self._version += 1

    def snapshot(self) -> ProgressSnapshot:
        """The latest state."""
        with self._lock:
            return ProgressSnapshot(self._done, self._total, self._message, self._version)

"""A live feed of container lifecycle events from one engine, that survives the engine.

The feed holds one ``GET /events`` stream on a client of its own (a long stream must not hold
a connection of the pool the tools share). When the stream ends or fails (the engine stopped,
the network dropped, an idle read timed out), it reconnects with backoff and asks for events
``since`` the last one it saw, so the engine replays what happened in between; duplicates at
that instant are dropped. An engine that restarted has lost its old events, so on every
reconnect the watched containers and projects are also compared with how they looked before,
and each that changed is reported as a ``resync`` event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from mcp_docker_server.config.settings import EngineTarget
from mcp_docker_server.engine.core import lazy_module
from mcp_docker_server.engine.event_types import LIFECYCLE_ACTIONS, ContainerEvent
from mcp_docker_server.errors import DockerServerError

if TYPE_CHECKING:
    from mcp_docker_server.engine import _events_sync as ops
else:
    ops = lazy_module("mcp_docker_server.engine._events_sync")

__all__ = ["LIFECYCLE_ACTIONS", "ContainerEvent", "EventFeed", "Watched"]

log = logging.getLogger(__name__)

# What a subscriber hears about: the engine's own names (health changes arrive as
# "health_status: unhealthy", filtered by their prefix).
BACKOFF_FIRST = 0.25
BACKOFF_MAX = 4.0
# The first stream asks for events from a little before the feed was made: a change made just
# after a client subscribed, while the stream was still opening, is replayed, not lost (and
# a clock a little apart from the engine's costs at most a spurious update, never a miss).
FIRST_LOOKBACK_NS = 1_000_000_000


@dataclass(frozen=True)
class Watched:
    """The container references and project names someone subscribed to on this engine."""

    containers: frozenset[str]
    projects: frozenset[str]


class EventFeed:
    """Container events of one engine, delivered to an async callback until cancelled."""

    def __init__(self, target: EngineTarget, scope_label: str | None) -> None:
        self.target = target
        self.scope_label = scope_label
        self.connected = anyio.Event()  # set at the first successful connection
        self.reconnects = 0
        self._last_nano = time.time_ns() - FIRST_LOOKBACK_NS
        self._seen_at_last: set[tuple[str, str]] = set()
        self._prints: dict[str, str] = {}
        self._limiter = anyio.CapacityLimiter(2)

    async def run(
        self, watched: Callable[[], Watched], deliver: Callable[[ContainerEvent], Awaitable[None]]
    ) -> None:
        """Deliver events until cancelled; never raises for engine trouble (it retries)."""
        delay = BACKOFF_FIRST
        lost_at = time.monotonic()  # when the last stream ended
        outage = False  # a reconnect failed: the engine is away, not just an idle stream ending
        while True:
            try:
                stream = await self._open()
            except DockerServerError as exc:
                if not outage:
                    outage = True
                    log.warning("event watcher for %s: %s; retrying", self.target.display, exc.message)
                await anyio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_FIRST
            if outage:
                outage = False
                down = time.monotonic() - lost_at
                log.info("event watcher for %s resumed after %.1f s", self.target.display, down)
            try:
                await self._resync(stream, watched(), deliver, first=not self.connected.is_set())
                self.connected.set()
                await self._pump(stream, deliver)
                log.debug("event stream of %s ended; reconnecting", self.target.display)
            except DockerServerError as exc:
                log.warning("event watcher for %s lost the engine: %s", self.target.display, exc.message)
            finally:
                stream.close()
            lost_at = time.monotonic()
            self.reconnects += 1

    async def _open(self) -> ops.Stream:
        since = None
        if self._last_nano:
            seconds, nanos = divmod(self._last_nano, 1_000_000_000)
            since = f"{seconds}.{nanos:09d}"
        return await anyio.to_thread.run_sync(
            lambda: ops.Stream(self.target, since, self.scope_label), limiter=self._limiter
        )

    async def _pump(self, stream: ops.Stream, deliver: Callable[[ContainerEvent], Awaitable[None]]) -> None:
        while True:
            try:
                event = await anyio.to_thread.run_sync(
                    stream.next, limiter=self._limiter, abandon_on_cancel=True
                )
            except anyio.get_cancelled_exc_class():
                stream.close()  # unblocks the abandoned read
                raise
            if event is None:
                return
            if self._duplicate(event):
                continue
            await deliver(event)

    def _duplicate(self, event: ContainerEvent) -> bool:
        """Events replayed by ``since`` (it is inclusive) are the ones already delivered."""
        key = (event.id, event.action)
        if event.time_nano < self._last_nano or (
            event.time_nano == self._last_nano and key in self._seen_at_last
        ):
            return True
        if event.time_nano > self._last_nano:
            self._last_nano, self._seen_at_last = event.time_nano, set()
        self._seen_at_last.add(key)
        return False

    async def _resync(
        self,
        stream: ops.Stream,
        now_watched: Watched,
        deliver: Callable[[ContainerEvent], Awaitable[None]],
        *,
        first: bool,
    ) -> None:
        prints = await anyio.to_thread.run_sync(
            lambda: stream.fingerprints(now_watched.containers, now_watched.projects), limiter=self._limiter
        )
        if not first:
            for key in _changed(self._prints, prints):
                kind, ref = key.split(":", 1)
                await deliver(
                    ContainerEvent(
                        id=ref if kind == "c" else "",
                        name=ref if kind == "c" else "",
                        action="resync",
                        project=ref if kind == "p" else None,
                        time_nano=time.time_ns(),
                    )
                )
        self._prints = prints


def _changed(before: dict[str, str], after: dict[str, str]) -> Iterable[str]:
    """Keys watched both times whose fingerprint differs (a new key is only a baseline)."""
    return [key for key, value in after.items() if key in before and before[key] != value]

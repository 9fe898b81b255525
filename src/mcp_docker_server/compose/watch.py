"""`docker compose watch`, owned by the server: one process per project and engine.

A watch belongs to the server, not to the MCP session that started it: it runs in a task group
the server's lifespan owns (a client that reconnects over HTTP finds it still running, and any
session can read its status), and it is stopped when asked, when its project goes down, and when
the server exits (every process of its group: the docker CLI runs Compose as a plugin, a child
process of its own). What Compose reports (files synced, services rebuilt or restarted, errors)
is kept as a bounded ring of short events and handed to listeners (MCP log notifications).

The project file Compose watches is the judged private copy the tool wrote; the folder holding
it lives as long as the watch.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from pathlib import Path

import anyio
from anyio.abc import TaskGroup

from mcp_docker_server.compose.runner import ComposeRunner
from mcp_docker_server.errors import ComposeError, ProcessError
from mcp_docker_server.processes.runner import LongProcess, open_long_process
from mcp_docker_server.results.compose import WatchEvent, WatchStatus

__all__ = ["ComposeWatch", "EventListener", "Rejudge", "WatchManager", "parse_watch_line"]

log = logging.getLogger(__name__)

EventListener = Callable[[str, WatchEvent], Awaitable[None]]
# Judges the project's containers again after Compose recreated some; returns the refusal (and
# has removed the refused containers) or None.
Rejudge = Callable[[], Awaitable[str | None]]

_KEPT_EVENTS = 50
_EVENT_CHARS = 160
_READY_TIMEOUT = 120.0  # an initial_sync of a big folder happens before "Watch enabled"
_NOTIFY_TIMEOUT = 1.0
# Compose recreates and starts the containers right after it says "built": judged twice, in
# case the first look came before the new container existed.
_REJUDGE_DELAYS = (1.0, 4.0)

_SERVICES = re.compile(r'\["?([^\]]*?)"?\]')
_LOGRUS = re.compile(r'level=(\w+) msg="(.*)"$')


def parse_watch_line(line: str) -> tuple[str, str] | None:
    """What one line of `docker compose watch` output reports, as ``(kind, text)``, or None for
    noise (BuildKit's step lines, blank lines). Kinds: sync, rebuild, built, restart, error,
    warning, info, output (a ``sync+exec`` command's or an unknown line)."""
    text = line.strip()
    if not text:
        return None
    if match := _LOGRUS.search(text):
        level, message = match.groups()
        text = message.replace('\\"', '"')
        return ("error" if level in ("error", "fatal") else "warning"), _short(text)
    if text.startswith("#") and re.match(r"#\d+ ", text):
        # BuildKit's plain progress: only its failures say something the status needs.
        return ("error", _short(text)) if "ERROR" in text else None
    lowered = text.lower()
    if text.startswith("Syncing service"):
        return "sync", _short(text)
    if text.startswith("Rebuilding service"):
        return "rebuild", _short(text)
    if "successfully built" in lowered:
        return "built", _short(text)
    if lowered.endswith("restarted"):
        return "restart", _short(text)
    if text in ("Watch enabled", "Watch disabled") or "large batch" in lowered:
        return "info", text
    if any(word in lowered for word in ("error", "failed", "cannot", "can't")):
        return "error", _short(text)
    if "warn" in lowered:
        return "warning", _short(text)
    return "output", _short(text)


def _short(text: str) -> str:
    return text if len(text) <= _EVENT_CHARS else text[: _EVENT_CHARS - 1] + "…"


def _now() -> str:
    return time.strftime("%H:%M:%S", time.gmtime())


class ComposeWatch:
    """One running (or finished) `docker compose watch` of a project."""

    def __init__(
        self,
        project: str,
        files: tuple[Path, ...],
        services: Sequence[str],
        folder: Path,
        process: LongProcess,
        rejudge: Rejudge | None,
    ) -> None:
        self.project = project
        self.synced: tuple[str, ...] = ()  # the host folders it syncs into containers
        self.files = files
        self.services = list(services)
        self.folder = folder
        self.process = process
        self.rejudge = rejudge
        self.since = _now()
        self.state = "running"
        self.reason: str | None = None
        self.events: deque[WatchEvent] = deque(maxlen=_KEPT_EVENTS)
        self.seen = 0
        self.listeners: dict[Hashable, EventListener] = {}
        self.ready = anyio.Event()
        self.finished = anyio.Event()

    def status(self) -> WatchStatus:
        """The watch as a tool returns it."""
        return WatchStatus(
            project=self.project,
            state=self.state,
            services=self.services,
            since=self.since,
            reason=self.reason,
            events=list(self.events),
            dropped=self.seen - len(self.events),
        )

    async def record(self, kind: str, text: str) -> None:
        """Keep an event and tell every listener (best effort, briefly: a slow client must not
        stall the watch's output)."""
        event = WatchEvent(at=_now(), kind=kind, text=text)
        self.events.append(event)
        self.seen += 1
        for listener in list(self.listeners.values()):
            with anyio.move_on_after(_NOTIFY_TIMEOUT), contextlib.suppress(Exception):
                await listener(self.project, event)


class WatchManager:
    """The watches of one engine, by project name: never two for one project."""

    def __init__(self, runner: ComposeRunner, env: Mapping[str, str]) -> None:
        self._runner = runner
        self._env = dict(env)
        self._watches: dict[str, ComposeWatch] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._group: TaskGroup | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Host the watches for the server's lifespan; on exit every watch is stopped (a nested
        lifespan leaves them where they are)."""
        if self._group is not None:
            yield
            return
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                self._group = None
                with anyio.CancelScope(shield=True):
                    await self.stop_all("the server is shutting down")
                group.cancel_scope.cancel()

    def lock(self, project: str) -> anyio.Lock:
        """Held while a watch of ``project`` starts or stops: concurrent calls wait their turn."""
        return self._locks.setdefault(project, anyio.Lock())

    def get(self, project: str) -> ComposeWatch | None:
        """The watch of ``project`` (running or finished), if any."""
        return self._watches.get(project)

    def synced_folders(self) -> list[tuple[str, str]]:
        """The host folders running watches sync into containers: (folder, project)."""
        return [
            (folder, watch.project)
            for watch in self._watches.values()
            if watch.state == "running"
            for folder in watch.synced
        ]

    def find(self, project: str | None, files: tuple[Path, ...]) -> ComposeWatch | None:
        """The watch of ``project``, or (with no project named) the one started from ``files``."""
        if project is not None:
            return self._watches.get(project)
        return next((w for w in self._watches.values() if w.files == files), None)

    async def start(
        self,
        project: str,
        argv: Sequence[str],
        *,
        files: tuple[Path, ...],
        services: Sequence[str],
        folder: Path,
        rejudge: Rejudge | None = None,
        listener: tuple[Hashable, EventListener] | None = None,
        synced: Sequence[str] = (),
    ) -> ComposeWatch:
        """Start `docker compose <argv>` (a watch) for ``project`` and wait until Compose says it
        watches. The caller holds :meth:`lock` and made sure none runs; ``folder`` (the judged
        private copy) is removed when the watch ends.

        Raises:
            ComposeError: Compose is missing, the server is not running (no lifespan), or the
                watch ended before it started watching (with what Compose said).
        """
        if self._group is None:
            raise ComposeError(
                "The server is not running its lifespan, so it cannot own a watch.",
                hint="start the server normally (python -m mcp_docker_server).",
            )
        prefix = await self._runner.prefix()
        try:
            process = await open_long_process([*prefix, *argv], env=self._env, cwd=folder)
        except ProcessError as exc:
            raise ComposeError(exc.message, hint=exc.hint) from exc
        watch = ComposeWatch(project, files, services, folder, process, rejudge)
        watch.synced = tuple(synced)
        if listener is not None:
            watch.listeners[listener[0]] = listener[1]
        self._watches[project] = watch
        self._group.start_soon(self._follow, watch)
        log.info("compose watch of %s started (pid %d)", project, process.pid)
        try:
            with anyio.move_on_after(_READY_TIMEOUT):
                await watch.ready.wait()
        except BaseException:  # the call was cancelled (its client went away): no half-started watch
            with anyio.CancelScope(shield=True):
                await self.stop(project, "the call that started it was cancelled")
            raise
        if watch.state != "running" or not watch.ready.is_set():
            said = "; ".join(e.text for e in list(watch.events)[-5:]) or "(nothing)"
            await self.stop(project, "it did not start watching")
            self._watches.pop(project, None)
            raise ComposeError(
                f"`docker compose watch` for {project} did not start watching: {said}",
                hint="fix what Compose says; the project's containers keep running (action=down stops them).",
            )
        return watch

    async def _follow(self, watch: ComposeWatch) -> None:
        async def on_line(line: str) -> None:
            parsed = parse_watch_line(line)
            if parsed is None:
                return
            kind, text = parsed
            if kind == "info" and text == "Watch enabled":
                watch.ready.set()
            await watch.record(kind, text)
            if kind == "built" and watch.rejudge is not None and self._group is not None:
                self._group.start_soon(self._rejudge, watch)

        code: int | None = None
        try:
            code = await watch.process.follow(on_line, on_line)
        except Exception:  # a task of the server's lifespan: a failure here must not end the server
            log.exception("compose watch of %s: reading its output failed", watch.project)
        finally:
            with anyio.CancelScope(shield=True):
                if watch.state == "running":
                    watch.state = "exited"
                    watch.reason = f"Compose exited with code {code}" if code is not None else "cancelled"
                    await watch.record("error" if code else "info", watch.reason)
                await watch.process.stop()
                shutil.rmtree(watch.folder, ignore_errors=True)
                watch.ready.set()
                watch.finished.set()
                log.info("compose watch of %s ended: %s", watch.project, watch.reason)

    async def _rejudge(self, watch: ComposeWatch) -> None:
        """After a rebuild Compose recreates the service's containers from the same judged file;
        they are judged again as the engine describes them, and a refusal stops the watch."""
        assert watch.rejudge is not None
        for delay in _REJUDGE_DELAYS:
            await anyio.sleep(delay)
            if watch.state != "running":
                return
            try:
                refusal = await watch.rejudge()
            except Exception as exc:  # noqa: BLE001 - the watch must outlive a failed check
                refusal = None
                await watch.record("warning", _short(f"could not judge the recreated containers: {exc}"))
            if refusal is not None:
                await watch.record("error", _short(refusal))
                await self.stop(watch.project, f"a recreated container was refused: {refusal}", forget=False)
                return

    async def stop(self, project: str, reason: str, *, forget: bool = True) -> ComposeWatch | None:
        """Stop the watch of ``project`` (every process of its group) and return it, or None
        when there is none; ``forget`` drops it from the status too."""
        watch = self._watches.get(project)
        if watch is None:
            return None
        if watch.state == "running":
            watch.state = "stopped"
            watch.reason = reason
            await watch.record("info", _short(f"watch stopped: {reason}"))
        await watch.process.stop()
        with anyio.move_on_after(10):
            await watch.finished.wait()
        shutil.rmtree(watch.folder, ignore_errors=True)
        if forget:
            self._watches.pop(project, None)
        return watch

    async def stop_all(self, reason: str) -> None:
        """Stop every watch (the server is exiting)."""
        for project in list(self._watches):
            await self.stop(project, reason)

    def statuses(self) -> list[WatchStatus]:
        """Every watch's status."""
        return [w.status() for w in self._watches.values()]

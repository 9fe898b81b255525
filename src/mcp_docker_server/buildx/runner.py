"""buildx, found once per engine and run through the one process runner.

`docker buildx` runs with the same engine settings as Compose (the server's DOCKER_HOST, TLS
material or docker context) and on that engine's own builder (``BUILDX_BUILDER``): a builder the
user selected for their shell (a docker-container or remote one) would build somewhere else.
A deadline or a cancellation interrupts it (SIGINT, as Ctrl-C: buildx then cancels the solve on
the engine), then terminates it.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio

from mcp_docker_server.buildx.argv import build_argv
from mcp_docker_server.buildx.solve import SolveState
from mcp_docker_server.errors import ProcessError
from mcp_docker_server.processes import run_process
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.specs.images import BuildSpec

__all__ = ["BUILDX_MIN", "Buildx", "BuildxInfo", "BuildxRun"]

# Compose 2.40 refuses to build with an older buildx ("compose build requires buildx 0.17 or
# later"), and 0.17 is where rawjson progress is one object a line.
BUILDX_MIN = (0, 17)
_VERSION = re.compile(r"\bv?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class BuildxInfo:
    """What was found: ``version`` ("0.29.1"; "" when none), whether builds may use it, and
    why not when they may not."""

    version: str
    usable: bool
    reason: str = ""


@dataclass(frozen=True)
class BuildxRun:
    """A finished buildx build: its exit code, the image id it wrote (None on failure) and
    what the progress stream said."""

    returncode: int
    image_id: str | None
    solve: SolveState


class Buildx:
    """The buildx plugin of the docker CLI, for one engine."""

    def __init__(self, env: Mapping[str, str], builder: str) -> None:
        self._env = {**env, "BUILDX_BUILDER": builder}
        self._lock = anyio.Lock()
        self._info: BuildxInfo | None = None

    async def info(self) -> BuildxInfo:
        """Whether `docker buildx` is installed and new enough, found once."""
        async with self._lock:
            if self._info is None:
                self._info = await self._find()
            return self._info

    async def _find(self) -> BuildxInfo:
        if shutil.which("docker", path=self._env.get("PATH")) is None:
            return BuildxInfo("", False, "the docker CLI is not on PATH")
        try:
            done = await run_process(["docker", "buildx", "version"], env=self._env, timeout=30)
        except ProcessError as exc:
            return BuildxInfo("", False, exc.message)
        match = _VERSION.search(done.stdout)
        if done.returncode != 0 or match is None:
            return BuildxInfo("", False, "the docker CLI has no buildx plugin")
        version = ".".join(g for g in match.groups() if g is not None)
        if (int(match[1]), int(match[2])) < BUILDX_MIN:
            needed = ".".join(map(str, BUILDX_MIN))
            return BuildxInfo(version, False, f"buildx {version} is older than {needed}")
        return BuildxInfo(version, True)

    async def build(self, spec: BuildSpec, progress: Progress, timeout: float) -> BuildxRun:
        """Run the build, feeding ``progress`` from the solver's stream as it comes.

        Raises:
            ProcessError: buildx could not start, or did not finish within ``timeout`` (it was
                interrupted, so the engine cancelled the build).
        """
        solve = SolveState()

        async def on_line(line: str) -> None:
            if solve.feed(line):
                progress.update(*solve.progress())

        with tempfile.TemporaryDirectory(prefix="mcpd-buildx-") as folder:
            iidfile = Path(folder) / "iid"
            done = await run_process(
                build_argv(spec, iidfile),
                env=self._env,
                timeout=timeout,
                on_stderr_raw_line=on_line,
                stderr_cap=64 * 1024,
                interrupt_first=True,
                timeout_hint="raise timeout; cached steps make the next try faster.",
            )
            image_id = iidfile.read_text().strip() if iidfile.is_file() else None
        return BuildxRun(done.returncode, image_id or None, solve)

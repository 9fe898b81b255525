"""buildx, found once per engine and run through the one process runner.

`docker buildx` runs with the same engine settings as Compose (the server's DOCKER_HOST, TLS
material or docker context) and on that engine's own builder (``BUILDX_BUILDER``): a builder the
user selected for their shell (a docker-container or remote one) would build somewhere else.
A deadline or a cancellation interrupts it (SIGINT, as Ctrl-C: buildx then cancels the solve on
the engine), then terminates it.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import anyio

from mcp_docker_server.buildx.argv import build_argv
from mcp_docker_server.buildx.solve import SolveState
from mcp_docker_server.errors import InvalidArgument, PolicyDenied, ProcessError
from mcp_docker_server.processes import run_process
from mcp_docker_server.results.progress import Progress
from mcp_docker_server.specs.images import BuildSecret, BuildSpec

__all__ = ["BUILDX_MIN", "Buildx", "BuildxInfo", "BuildxRun"]

# Compose 2.40 refuses to build with an older buildx ("compose build requires buildx 0.17 or
# later"), and 0.17 is where rawjson progress is one object a line.
BUILDX_MIN = (0, 17)
_SECRET_MAX = 512 * 1024
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


def _private_secrets(spec: BuildSpec, folder: Path) -> BuildSpec:
    """``spec`` with each secret file replaced by a private copy (0600, in ``folder``) of the
    file that was judged. buildx reads a secret only when a step mounts it, following links,
    so the file as judged is read here, once, without following a link: a folder a container
    can write to cannot swap it for a link to something else in the meantime.

    Raises:
        PolicyDenied: the file no longer is the one judged (a link now, or elsewhere).
        InvalidArgument: it is not a regular file, or is over 512 KiB (BuildKit's limit).
    """
    secrets = []
    for number, secret in enumerate(spec.secrets):
        if secret.kind != "file":
            secrets.append(secret)
            continue
        copy = folder / f"secret-{number}"
        copy.write_bytes(_read_judged(secret.id, secret.source))
        copy.chmod(0o600)
        secrets.append(BuildSecret(secret.id, "file", str(copy)))
    return replace(spec, secrets=tuple(secrets))


def _read_judged(secret_id: str, path: str) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise PolicyDenied(
            "host-path",
            f"secret {secret_id}: {path} changed after it was judged ({exc.strerror})",
            hint="give the secret again once nothing rewrites that folder.",
        ) from exc
    try:
        opened = os.path.realpath(f"/proc/self/fd/{fd}")
        if opened != path:
            raise PolicyDenied(
                "host-path",
                f"secret {secret_id}: {path} now leads to {opened}, not the file judged",
                hint="give the secret again once nothing rewrites that folder.",
            )
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _SECRET_MAX:
            raise InvalidArgument(
                f"secret {secret_id}: {path} is not a regular file of at most 512 KiB.",
                hint="BuildKit takes secrets of at most 512 KiB; name a file.",
            )
        with os.fdopen(os.dup(fd), "rb") as stream:
            return stream.read(_SECRET_MAX + 1)
    finally:
        os.close(fd)


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
            spec = await anyio.to_thread.run_sync(_private_secrets, spec, Path(folder))
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

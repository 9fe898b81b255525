"""Docker Compose v2 (and the docker CLI, for stacks), run through the one process runner.

Compose reaches the same engine as every other tool: its environment carries the server's
engine address (host, TLS material or docker context). Its progress lines are handed to a
callback as they arrive; a deadline or a cancellation terminates it, then kills it.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

import anyio
import anyio.abc

from mcp_docker_server.config.settings import EngineTarget
from mcp_docker_server.errors import ComposeError, ProcessError
from mcp_docker_server.policy.builds import PRIVATE_VARIABLES
from mcp_docker_server.processes import Completed, run_process
from mcp_docker_server.results.shaping import clean_text

__all__ = ["CompletedCompose", "ComposeRunner", "compose_env"]

ProgressCallback = Callable[[str], Awaitable[None]]

_INSTALL_HINT = (
    "install Compose v2: the docker-compose-plugin package (then `docker compose version` works), "
    "or a v2 `docker-compose` binary on PATH."
)
# What the server keeps of Compose's output: enough for `config --format json` of a big project.
_STDOUT_CAP = 8 * 1024 * 1024
_STDERR_CAP = 64 * 1024


# A finished compose command is a finished process.
CompletedCompose = Completed


def compose_env(target: EngineTarget, docker_config: Path, base: Mapping[str, str]) -> dict[str, str]:
    """The environment Compose runs with: the caller's, pointed at the server's engine."""
    env = {k: v for k, v in base.items() if not k.startswith("DOCKER_") and k not in PRIVATE_VARIABLES}
    env["DOCKER_CONFIG"] = str(docker_config)
    # Remote includes and extends would run the host's git (with its keys) or pull from a
    # registry while loading a project; the server judges local files only.
    env["COMPOSE_EXPERIMENTAL_GIT_REMOTE"] = "0"
    env["COMPOSE_EXPERIMENTAL_OCI_REMOTE"] = "0"
    if target.source.startswith("context "):
        env["DOCKER_CONTEXT"] = target.source.removeprefix("context ")
        return env
    env["DOCKER_HOST"] = target.host
    if target.tls is not None and target.tls.cert is not None:
        env["DOCKER_CERT_PATH"] = str(target.tls.cert.parent)
        env["DOCKER_TLS_VERIFY" if target.tls.verify else "DOCKER_TLS"] = "1"
    return env


class ComposeRunner:
    """Runs `docker compose` (or a v2 `docker-compose`) for one engine."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._lock = anyio.Lock()
        self._prefix: tuple[str, ...] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment Compose runs with (a copy)."""
        return dict(self._env)

    async def prefix(self) -> tuple[str, ...]:
        """The argv that starts Compose v2, found once.

        Raises:
            ComposeError: no Compose v2 is installed.
        """
        async with self._lock:
            if self._prefix is None:
                self._prefix = await self._find()
            return self._prefix

    async def version(self) -> str:
        """The version of the Compose v2 that :meth:`prefix` found, such as "2.40.3" (`doctor`).

        Raises:
            ComposeError: no Compose v2 is installed.
        """
        done = await run_process([*await self.prefix(), "version", "--short"], env=self._env, timeout=30)
        return clean_text(done.stdout).strip().lstrip("v")[:40]

    async def _find(self) -> tuple[str, ...]:
        for candidate in (("docker", "compose"), ("docker-compose",)):
            if shutil.which(candidate[0], path=self._env.get("PATH")) is None:
                continue
            try:
                done = await run_process([*candidate, "version", "--short"], env=self._env, timeout=30)
            except ProcessError:
                continue
            version = done.stdout.strip().lstrip("v")
            if done.returncode == 0 and version[:1].isdigit() and int(version.split(".")[0]) >= 2:
                return candidate
        raise ComposeError("Docker Compose v2 was not found.", hint=_INSTALL_HINT)

    async def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        timeout: float,
        on_progress: ProgressCallback | None = None,
    ) -> CompletedCompose:
        """Run compose with ``args``; stderr lines go to ``on_progress`` as they come.

        Raises:
            ComposeError: Compose is missing, or it did not finish within ``timeout``.
        """
        return await self._run(
            (*await self.prefix(), *args), cwd=cwd, timeout=timeout, on_progress=on_progress
        )

    async def run_docker(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        timeout: float,
        on_progress: ProgressCallback | None = None,
    ) -> CompletedCompose:
        """Run the docker CLI itself (`docker stack ...`, which has no Engine API equivalent).

        Raises:
            ComposeError: the docker CLI is missing, or it did not finish within ``timeout``.
        """
        if shutil.which("docker", path=self._env.get("PATH")) is None:
            raise ComposeError(
                "The docker CLI was not found on PATH.",
                hint="install it (Debian: docker.io or docker-ce-cli); stacks are deployed through it.",
            )
        return await self._run(("docker", *args), cwd=cwd, timeout=timeout, on_progress=on_progress)

    async def _run(
        self,
        argv: tuple[str, ...],
        *,
        cwd: Path,
        timeout: float,
        on_progress: ProgressCallback | None,
    ) -> CompletedCompose:
        try:
            done = await run_process(
                argv,
                cwd=cwd,
                env=self._env,
                timeout=timeout,
                on_stderr_line=on_progress,
                stdout_cap=_STDOUT_CAP,
                stderr_cap=_STDERR_CAP,
                timeout_hint="raise timeout for long builds or pulls; check progress with action=ps.",
            )
        except ProcessError as exc:
            raise ComposeError(exc.message, hint=exc.hint) from exc
        return done

"""Running the Dev Containers CLI for one call: read the configuration, judge it, bring the
container up through the judging shim, run commands in it.

The tool (``tools/devcontainers.py``) finds the containers and judges existing ones through
the guard; this module runs the CLI and turns its output into results and readable errors.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_docker_server.devcontainers.cli import (
    DevContainerError,
    cli_argv,
    failure,
    outcome,
    without_probe_noise,
)
from mcp_docker_server.devcontainers.gate import judge_configuration
from mcp_docker_server.devcontainers.shim import Shim
from mcp_docker_server.devcontainers.workdir import Workdir, workdir
from mcp_docker_server.errors import ProcessError
from mcp_docker_server.policy.model import PathResolver, Policy
from mcp_docker_server.processes import run_process
from mcp_docker_server.processes.runner import LineCallback
from mcp_docker_server.results.containers import ExecResult
from mcp_docker_server.results.shaping import clean_text

__all__ = ["DevContainerRunner", "ReadConfiguration"]

# Options every command gets: the workspace folder is mounted as it is (not its git root, which
# would be a folder the caller did not name).
_COMMON = ("--mount-workspace-git-root", "false")


@dataclass(frozen=True)
class ReadConfiguration:
    """What `devcontainer read-configuration` says about a folder."""

    configuration: dict[str, Any]
    workspace_folder: str | None
    workspace_mount: str | None

    @property
    def config_file(self) -> str | None:
        """The devcontainer.json read."""
        return _config_file(self.configuration) or None

    def compact(self) -> dict[str, Any]:
        """The configuration without the CLI's own bookkeeping."""
        return {k: v for k, v in self.configuration.items() if k != "configFilePath"}


def _config_file(configuration: Mapping[str, Any]) -> str:
    """The path of the devcontainer.json the CLI read ("" when it does not say)."""
    where = configuration.get("configFilePath")
    return str(where.get("fsPath") or where.get("path") or "") if isinstance(where, Mapping) else ""


def judged_copy(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration as judged, to be read from a private file: the paths it names relative
    to its devcontainer.json made absolute (the copy lives elsewhere), ``initializeCommand``
    (a host command, refused by the judge anyway) and the CLI's own bookkeeping left out."""
    config = {k: v for k, v in configuration.items() if k not in ("configFilePath", "initializeCommand")}
    path = _config_file(configuration)
    base = posixpath.dirname(path) if path.startswith("/") else ""

    def absolute(value: object) -> object:
        text = str(value)
        return text if not base or text.startswith("/") else posixpath.normpath(posixpath.join(base, text))

    build = dict(config.get("build") or {})
    for key in ("dockerfile", "context"):
        if key in build:
            build[key] = absolute(build[key])
    if build:
        config["build"] = build
    for key in ("dockerFile", "context"):
        if key in config:
            config[key] = absolute(config[key])
    compose = config.get("dockerComposeFile")
    if isinstance(compose, list):
        config["dockerComposeFile"] = [absolute(c) for c in compose]
    elif compose:
        config["dockerComposeFile"] = absolute(compose)
    return config


def local_features(configuration: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The local Features a configuration names (``./name``, beside its devcontainer.json):
    (key, folder on this host). The CLI takes them only relative to the file it reads, so they
    are copied beside the private copy.

    Raises:
        DevContainerError: a local Feature outside the devcontainer.json's folder (``../``).
    """
    path = _config_file(configuration)
    features = configuration.get("features")
    found = []
    for key in features if isinstance(features, Mapping) else {}:
        name = str(key)
        if name.startswith("../") or (name.startswith("./") and ".." in name.split("/")):
            raise DevContainerError(
                f"the local Feature {name} lies outside the folder of devcontainer.json.",
                hint="move it under .devcontainer/ and name it ./<folder>.",
            )
        if name.startswith("./") and path.startswith("/"):
            found.append((name, posixpath.normpath(posixpath.join(posixpath.dirname(path), name))))
    return found


@dataclass(frozen=True)
class DevContainerRunner:
    """The CLI, the real docker CLI, the engine environment and the policy of one call."""

    cli: str
    docker: str
    env: Mapping[str, str]
    policy: Policy
    resolve: PathResolver
    local_paths: bool
    publish_address: str = "127.0.0.1"

    async def read_configuration(self, folder: str, timeout: float) -> ReadConfiguration:
        """The folder's configuration as the CLI reads it (no network: Features are not resolved).

        Raises:
            DevContainerError: no devcontainer.json, or the CLI failed.
        """
        with self._workdir(folder) as work:
            argv = cli_argv(self.cli, "read-configuration", folder, work, _COMMON)
            done = await self._run(argv, timeout)
        result = outcome(done.stdout)
        if done.returncode != 0 or result is None or "configuration" not in result:
            raise failure("read-configuration", result, done.stderr)
        workspace = result.get("workspace") or {}
        return ReadConfiguration(
            configuration=dict(result["configuration"]),
            workspace_folder=workspace.get("workspaceFolder"),
            workspace_mount=workspace.get("workspaceMount"),
        )

    def judge(self, read: ReadConfiguration) -> None:
        """The early check of what the configuration asks of the engine.

        Raises:
            PolicyDenied: naming the devcontainer.json key, the field and the policy key.
        """
        judge_configuration(self.policy, read.configuration, read.workspace_mount, self.resolve)

    async def up(
        self,
        folder: str,
        timeout: float,
        on_progress: LineCallback | None = None,
        judged: ReadConfiguration | None = None,
    ) -> dict[str, Any]:
        """Bring the folder's dev container up; the CLI's result (containerId, remoteUser,
        remoteWorkspaceFolder). ``judged``: the configuration that was judged, which the CLI is
        then given (``--override-config``, a private copy) instead of reading devcontainer.json
        again: a file rewritten in between (with an ``initializeCommand``, which runs on this
        host) changes nothing.

        Raises:
            PolicyDenied: the shim refused a container or a command (it removed what it made).
            DevContainerError: the CLI failed (offline Features, a missing user...).
        """
        with self._workdir(folder) as work:
            extra: list[str] = []
            if judged is not None:
                override = work.path / "judged-devcontainer.json"
                override.write_text(json.dumps(judged_copy(judged.configuration)))
                override.chmod(0o600)
                for key, source in local_features(judged.configuration):
                    # Links are copied as links (never followed): a Feature reads its own files.
                    shutil.copytree(source, work.path / key, symlinks=True)
                extra = ["--override-config", str(override)]
            argv = cli_argv(self.cli, "up", folder, work, [*_COMMON, *extra], log_format="text")
            try:
                done = await self._run(argv, timeout, on_progress)
            except DevContainerError:
                await self._undo(work, folder)  # the deadline passed: what the call made goes
                raise
            refusal = work.refusal()
            result = outcome(done.stdout)
            failed = done.returncode != 0 or result is None or result.get("outcome") != "success"
            if failed and refusal is None:
                await self._undo(work, folder)  # the shim undid a refusal itself
        if refusal is not None:
            raise refusal
        if failed or result is None:
            raise failure("up", result, done.stderr, removed=True)
        return result

    async def exec(
        self, folder: str, command: Sequence[str], timeout: float, max_bytes: int, container_id: str = ""
    ) -> ExecResult:
        """Run ``command`` in the folder's dev container as the CLI does (its remote user,
        remoteEnv and probed environment, in the workspace folder); bounded output.

        Raises:
            PolicyDenied: the shim refused the exec.
        """
        with self._workdir(folder) as work:
            # The container judged, named; "--" ends the CLI's options: a command that starts with
            # --container-id or --id-label is the command, not an option naming another container.
            target = ["--container-id", container_id] if container_id else []
            argv = [
                self.cli, "exec", "--workspace-folder", folder, *target, "--docker-path", str(work.docker),
                "--docker-compose-path", str(work.compose), *_COMMON, "--", *command,
            ]  # fmt: skip
            try:
                done = await run_process(
                    argv, timeout=timeout, env=self.env, stdout_cap=max_bytes, stderr_cap=max_bytes
                )
            except ProcessError:
                return ExecResult(
                    exit_code=None,
                    stdout="",
                    stderr="",
                    note=f"still running after {timeout:g} s: stopped, its output is lost; "
                    "raise timeout, or run it in the background (nohup ... &).",
                )
            refusal = work.refusal()
        if refusal is not None:
            raise refusal
        return ExecResult(
            exit_code=done.returncode,
            stdout=clean_text(done.stdout),
            stderr=without_probe_noise(done.stderr),
            truncated=done.truncated,
        )

    def _workdir(self, folder: str) -> contextlib.AbstractContextManager[Workdir]:
        return workdir(
            self.policy, self.docker, local_paths=self.local_paths, publish_address=self.publish_address,
            folder=folder,
        )  # fmt: skip

    async def _undo(self, work: Workdir, folder: str) -> None:
        """Remove what the shim recorded as made by this call (containers, their new volumes
        and networks, images it built)."""
        shim = Shim(self.docker, work.path, self.policy, self.resolve, self.publish_address, folder, self.env)
        await shim.undo()

    async def _run(self, argv: Sequence[str], timeout: float, on_progress: LineCallback | None = None) -> Any:
        try:
            return await run_process(
                argv,
                timeout=timeout,
                env=self.env,
                on_stderr_line=on_progress,
                timeout_hint="raise timeout (a first build takes longest), then call again.",
            )
        except ProcessError as exc:
            raise DevContainerError(exc.message, hint=exc.hint) from exc

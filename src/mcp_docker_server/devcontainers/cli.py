"""The Dev Containers CLI (`@devcontainers/cli`): where it is, its command lines, its output.

Found, in order: the ``MCP_DOCKER_DEVCONTAINER_CLI`` setting, ``devcontainer`` beside this
interpreter or on PATH, then the project's pinned install (``devcontainers/`` at the
repository's root, ``npm ci`` there). It runs through the one process runner, as an argv
list, with the server's engine environment and the generated docker wrappers
(:mod:`.workdir`) as its ``--docker-path`` and ``--docker-compose-path``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mcp_docker_server.devcontainers.workdir import Workdir
from mcp_docker_server.errors import ProcessError
from mcp_docker_server.processes import find_tool
from mcp_docker_server.results.shaping import clean_text

__all__ = [
    "PINNED_CLI",
    "PINNED_VERSION",
    "DevContainerError",
    "attach_uri",
    "cli_argv",
    "failure",
    "find_cli",
    "outcome",
    "without_probe_noise",
]

PINNED_VERSION = "0.89.0"
# src/mcp_docker_server/devcontainers/cli.py -> the repository's devcontainers/ folder.
PINNED_CLI = Path(__file__).resolve().parents[3] / "devcontainers" / "node_modules" / ".bin" / "devcontainer"
_INSTALL_HINT = (
    f"install the pinned CLI (npm ci in {PINNED_CLI.parents[2]}, @devcontainers/cli {PINNED_VERSION}; "
    "scripts/test.sh does it), or `npm install -g @devcontainers/cli`, or name it with "
    "MCP_DOCKER_DEVCONTAINER_CLI."
)
# What the CLI says when something had to come from the network (a Feature, an image that is
# not on the engine, a registry's manifest).
_OFFLINE_MARKS = (
    "enotfound", "eai_again", "econnrefused", "etimedout", "enetunreach", "getaddrinfo",
    "fetch failed", "failed to fetch", "pull access denied", "manifest unknown",
    "failed to resolve source metadata", "dial tcp", "no such host", "tls handshake timeout",
    "could not resolve", "failed to download",
)  # fmt: skip
_OFFLINE_HINT = (
    "remove the Features from devcontainer.json (install those tools in a Dockerfile FROM an image "
    "the engine has), or build the image where a registry is reachable and load it on this engine "
    "(docker save | docker load), then call up again."
)


# The CLI logs its failed probes of the container (Node's inspect of the error) on the stderr of
# `devcontainer exec`, e.g. reading /etc/os-release from an image that has none.
_PROBE_NOISE = re.compile(
    r"\{\n  message: 'Command in container failed: [^\n]*',\n  code: -?\d+,\n"
    r"  stdout: '[^\n]*',\n  stderr: '[^\n]*'\n\}\n?"
)


# "Command failed: docker buildx build --load ... /very/long/path": the program and its
# subcommand are kept, the rest of the line (often 500+ characters) is not.
_COMMAND_LINE = re.compile(r"(Command failed:(?:\s+[^\s-]\S*){1,3})\s[^\n|]*")
# How buildx and the docker CLI start the line that says why a build or a run failed.
_REASON_STARTS = ("error:", "error response", "failed to solve", "error ", "docker: error")


def without_probe_noise(stderr: str) -> str:
    """The stderr of `devcontainer exec` without the CLI's own probe failures."""
    return _PROBE_NOISE.sub("", stderr)


class DevContainerError(ProcessError):
    """The Dev Containers CLI is missing, or it failed (its own words, and what to do next)."""


def find_cli(setting: str | None, env: Mapping[str, str]) -> str:
    """The CLI's executable.

    Raises:
        DevContainerError: it is not installed where this server looks.
    """
    if setting:
        path = Path(setting).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise DevContainerError(
            f"MCP_DOCKER_DEVCONTAINER_CLI names {setting}, which is not an executable file.",
            hint=_INSTALL_HINT,
        )
    found = find_tool("devcontainer", env)
    if found:
        return found
    if PINNED_CLI.is_file():
        return str(PINNED_CLI)
    raise DevContainerError("The Dev Containers CLI (devcontainer) was not found.", hint=_INSTALL_HINT)


def cli_argv(
    cli: str, command: str, folder: str, work: Workdir, extra: Sequence[str] = (), *, log_format: str = "json"
) -> list[str]:
    """A CLI command line for the workspace ``folder``, through the wrappers. Its result is a
    JSON line on stdout either way; ``log_format`` is for its log on stderr ("text" reads well
    as progress)."""
    return [
        cli,
        command,
        "--workspace-folder",
        folder,
        "--docker-path",
        str(work.docker),
        "--docker-compose-path",
        str(work.compose),
        "--log-format",
        log_format,
        *extra,
    ]


def outcome(stdout: str) -> dict[str, Any] | None:
    """The CLI's result object (the last JSON object on its stdout), or None."""
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    return None


def _log_texts(stderr: str, limit: int = 6) -> list[str]:
    """The last lines the CLI logged (its JSON log entries' text), cleaned."""
    texts: list[str] = []
    for line in stderr.splitlines():
        line = line.strip()
        text = line
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                if entry.get("type") in ("start", "stop", "progress"):
                    continue
                text = str(entry.get("text") or "")
        text = clean_text(text).strip()
        if text and not text.startswith(("at ", "{", "}")):
            texts.append(text[:300])
    return texts[-limit:]


def failure(
    action: str, result: Mapping[str, Any] | None, stderr: str, *, removed: bool = False
) -> DevContainerError:
    """The CLI's failure as a readable error: what failed, why, what to do next (``removed``:
    and that what the call had made is gone)."""
    found = _failure(action, result, stderr)
    if not removed:
        return found
    return DevContainerError(
        f"{found.message} What this call had created (containers, their volumes and networks, "
        "images) was removed.",
        hint=found.hint,
    )


def _failure(action: str, result: Mapping[str, Any] | None, stderr: str) -> DevContainerError:
    message = str((result or {}).get("message") or "").strip()
    description = str((result or {}).get("description") or "").strip()
    logged = _log_texts(stderr, limit=400)
    # The CLI quotes whole command lines (a buildx build's runs to 500+ characters): cut.
    said = _COMMAND_LINE.sub(r"\1", message).rstrip(".") or (logged[-1] if logged else "")
    if description and description.rstrip(".") not in said:
        said = f"{said} ({description.rstrip('.')})" if said else description.rstrip(".")
    blob = " ".join([message, description, *logged]).lower()
    pulled = re.search(r"docker pull (\S+)", message)
    if pulled:
        return DevContainerError(
            f"devcontainer {action} needs the image {pulled.group(1)}, which is not on the engine and "
            "could not be pulled (no registry is reachable from the engine, or the name is wrong).",
            hint="use an image the engine has (image-operations action=list), or load it on this engine "
            "(docker save | docker load), then call up again.",
        )
    if any(mark in blob for mark in _OFFLINE_MARKS):
        return DevContainerError(
            f"devcontainer {action} needs the network, which the engine cannot reach from here: {said}. "
            "Features and images that are not on the engine are downloaded from registries.",
            hint=_OFFLINE_HINT,
        )
    if "unable to find user" in blob or "no matching entries in passwd" in blob:
        return DevContainerError(
            f"devcontainer {action} failed: the image has no such user ({said}).",
            hint='set "containerUser" and "remoteUser" to a numeric uid such as "0" in devcontainer.json, '
            "or create the user in a Dockerfile.",
        )
    if "dev container config" in blob and "not found" in blob:
        return DevContainerError(
            f"No devcontainer.json was found for this folder ({said}).",
            hint="add .devcontainer/devcontainer.json (or .devcontainer.json) to the folder.",
        )
    reasons = [t for t in logged if t.lower().startswith(_REASON_STARTS)][-2:]
    last = [_COMMAND_LINE.sub(r"\1", t) for t in (reasons or logged[-3:])]
    last = [t for t in dict.fromkeys(last) if t not in said]
    detail = f" {'Reason' if reasons else 'Last lines'}: {' | '.join(last)}" if last else ""
    return DevContainerError(
        f"devcontainer {action} failed: {said or 'no reason given'}.{detail}",
        hint="fix devcontainer.json as the message says, then call again (action=config shows it as read).",
    )


def attach_uri(container_name: str, workspace_folder: str) -> str:
    """The VS Code URI that opens ``workspace_folder`` in the running container (the Dev
    Containers extension's attached-container authority: the hex of the JSON
    ``{"containerName": "/<name>"}``)."""
    name = "/" + container_name.lstrip("/")
    authority = json.dumps({"containerName": name}, separators=(",", ":")).encode().hex()
    return f"vscode-remote://attached-container+{authority}{workspace_folder}"

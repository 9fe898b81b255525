"""The admission gate for development containers (pure).

Two checks, both with the rules every other container passes:

- Before anything is created, the configuration the Dev Containers CLI read
  (`devcontainer read-configuration`) is turned into the Engine API fields it asks for
  (``privileged``, ``capAdd``, ``securityOpt``, ``mounts``, the workspace mount and what
  ``runArgs`` says) and judged by :func:`~mcp_docker_server.policy.admission.judge_container`:
  an early, readable refusal naming the devcontainer.json key.
- While the CLI runs, the docker shim judges each container on the engine's own description
  (:mod:`.describe`), so what the CLI adds and what this pre-check cannot read is judged too.

The policy travels to the shim as JSON (:func:`policy_to_json`, :func:`policy_from_json`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any

from mcp_docker_server.devcontainers.names import (
    folder_image_name,
    is_folder_image,
)
from mcp_docker_server.devcontainers.runargs import RunCall, parse_run
from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.admission import ContainerDescription, judge_container
from mcp_docker_server.policy.containers import security_option
from mcp_docker_server.policy.model import PathResolver, Policy
from mcp_docker_server.policy.paths import check_host_path

__all__ = [
    "HOST_COMMAND_KEYS",
    "check_profile_files",
    "check_build_tag",
    "judge_configuration",
    "mount_fields",
    "policy_from_json",
    "policy_to_json",
    "run_args_fields",
]

# devcontainer.json keys whose commands run on the server's host, outside any container.
HOST_COMMAND_KEYS = ("initializeCommand",)
# runArgs flags read here, as the Engine API field they set (the rest is judged on the engine's
# description of the created container).
_NAMESPACE_FLAGS = {
    "--network": "NetworkMode",
    "--net": "NetworkMode",
    "--pid": "PidMode",
    "--ipc": "IpcMode",
    "--uts": "UTSMode",
    "--userns": "UsernsMode",
    "--cgroupns": "CgroupnsMode",
}
_BUILTIN_PROFILES = ("unconfined", "builtin")  # the only seccomp values the docker CLI reads no file for
_LIST_FLAGS = {"--cap-add": "CapAdd", "--security-opt": "SecurityOpt", "--device": "Devices"}


def policy_to_json(policy: Policy) -> str:
    """The policy as JSON (sets as sorted lists), for the shim."""
    values = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(policy).items()}
    return json.dumps(values, sort_keys=True)


def policy_from_json(text: str) -> Policy:
    """The policy :func:`policy_to_json` wrote.

    Raises:
        ValueError: not such a JSON object.
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a policy is a JSON object")
    values: dict[str, Any] = {}
    for f in fields(Policy):
        if f.name not in data:
            continue
        value = data[f.name]
        default = getattr(Policy(), f.name)
        if isinstance(default, frozenset):
            value = frozenset(value)
        elif isinstance(default, tuple):
            value = tuple(value)
        values[f.name] = value
    return Policy(**values)


def mount_fields(mount: str | Mapping[str, Any]) -> dict[str, str]:
    """A devcontainer.json mount (``"source=/a,target=/b,type=bind"`` or an object) as an
    Engine API mount: Type, Source, Target (bind when no type is given, as the CLI does)."""
    if isinstance(mount, Mapping):
        raw = {str(k).lower(): str(v) for k, v in mount.items()}
    else:
        raw = {}
        for part in str(mount).split(","):
            key, _, value = part.partition("=")
            raw[key.strip().lower()] = value.strip()
    source = raw.get("source") or raw.get("src") or ""
    target = raw.get("target") or raw.get("dst") or raw.get("destination") or ""
    return {"Type": raw.get("type") or "bind", "Source": source, "Target": target}


def run_args_fields(run_args: Sequence[str]) -> dict[str, Any]:
    """What ``runArgs`` asks of the engine, as Engine API HostConfig fields (the options read
    here: privileged, capabilities, security options, devices, namespaces, -v and --mount),
    read as the docker CLI reads the command line (:func:`.runargs.parse_run`).

    Raises:
        PolicyDenied: runArgs the docker CLI would not read as options (``--``, an option
            without its value, an unknown short option).
    """
    try:
        call = parse_run([*run_args, "image"])
    except ValueError as exc:
        raise PolicyDenied(
            "devcontainer-run-option", f"runArgs: {exc}", hint="fix runArgs in devcontainer.json."
        ) from exc
    host: dict[str, Any] = {}
    if any(name == "--privileged" for name, _ in call.options):
        host["Privileged"] = call.switch("--privileged")
    for name, value in call.options:
        if value is None:
            continue
        elif name in _NAMESPACE_FLAGS:
            host[_NAMESPACE_FLAGS[name]] = value
        elif name in _LIST_FLAGS:
            host.setdefault(_LIST_FLAGS[name], []).append(value)
        elif name == "--volume":
            host.setdefault("Binds", []).append(value)
        elif name == "--mount":
            host.setdefault("Mounts", []).append(mount_fields(value))
    return host


def judge_run_options(policy: Policy, call: RunCall) -> None:
    """What the docker CLI itself does with a run command line, on this host, before the engine
    (and the judge of its description) sees anything: it reads ``--env-file``/``--label-file``
    (any file the server can read, into the container) and seccomp profile files, writes
    ``--cidfile`` (anywhere), and ``-P`` publishes every exposed port on every interface.

    Raises:
        PolicyDenied: naming the option.
    """
    files = {"--env-file", "--label-file", "--cidfile"} & call.options_given
    if files:
        raise PolicyDenied(
            "devcontainer-run-option",
            f"runArgs {', '.join(sorted(files))}: the docker CLI would read or write that host file "
            "itself, outside what the engine describes",
            hint="set variables and labels in containerEnv and runArgs --label instead.",
        )
    if "--publish-all" in call.options_given:
        raise PolicyDenied(
            "devcontainer-run-option",
            "runArgs -P/--publish-all publishes every exposed port on every interface",
            hint="publish the ports you need with forwardPorts or appPort (they bind to the publish "
            "address).",
        )
    check_profile_files(policy, call.values("--security-opt"), "runArgs")


def check_profile_files(policy: Policy, options: Sequence[str], where: str) -> None:
    """``seccomp=<file>`` security options: the docker CLI reads that host file (from its
    working folder, this process's, when relative) into the container's configuration before
    the engine (or the judge) sees anything, so the path passes the host-path rule first, as
    this machine resolves it (the profile itself is then judged as unconfined unless the
    operator allows custom profiles). Only ``unconfined`` and ``builtin`` name no file: for the
    docker CLI, ``default`` and ``{...}`` are file names too.

    Raises:
        PolicyDenied: the host-path rule refuses the file.
    """
    from mcp_docker_server.state import local_read_resolver  # not paid by every shim start

    for option in options:
        key, value = security_option(str(option))
        if key == "seccomp" and value not in _BUILTIN_PROFILES:
            path = os.path.abspath(value)
            check_host_path(
                policy, path, local_read_resolver, purpose=f"{where} seccomp profile", mounted=False
            )


def judge_configuration(
    policy: Policy,
    configuration: Mapping[str, Any],
    workspace_mount: str | None,
    resolve: PathResolver,
) -> None:
    """Judge what a devcontainer.json asks of the engine, before anything is created.

    Raises:
        PolicyDenied: naming the devcontainer.json key, the field and the policy key.
    """
    for key in HOST_COMMAND_KEYS:
        if configuration.get(key):
            raise PolicyDenied(
                "host-command",
                f"devcontainer.json {key}: it runs a command on the server's host, outside any container",
                hint=f"remove {key} (run that step yourself), then call up again.",
            )
    parts: list[tuple[str, dict[str, Any]]] = []
    if workspace_mount:
        parts.append(("the workspace mount", {"Mounts": [mount_fields(workspace_mount)]}))
    if configuration.get("privileged"):
        parts.append(("privileged", {"Privileged": True}))
    run_args = configuration.get("runArgs")
    options = [str(o) for o in configuration.get("securityOpt") or [] if isinstance(o, str)]
    if isinstance(run_args, list):
        options += run_args_fields([str(a) for a in run_args]).get("SecurityOpt", [])
    check_profile_files(policy, options, "devcontainer.json")
    for key, field_name in (("capAdd", "CapAdd"), ("securityOpt", "SecurityOpt")):
        values = configuration.get(key)
        if isinstance(values, list) and values:
            parts.append((key, {field_name: [str(v) for v in values]}))
    mounts = configuration.get("mounts")
    if isinstance(mounts, list) and mounts:
        parts.append(
            ("mounts", {"Mounts": [mount_fields(m) for m in mounts if isinstance(m, str | Mapping)]})
        )
    if isinstance(run_args, list) and run_args:
        parts.append(("runArgs", run_args_fields([str(a) for a in run_args])))
    for key, host_config in parts:
        desc = ContainerDescription(name=f"devcontainer.json {key}", config={}, host_config=host_config)
        judge_container(policy, desc, resolve)


def check_build_tag(tag: str, folder: str) -> None:
    """A dev container build names only the CLI's own images for its folder: another name
    (``build.options -t``) would move a tag other containers, folders or the image allowlist
    trust to what this project's Dockerfile made.

    Raises:
        PolicyDenied: naming the tag and the names allowed.
    """
    if folder and is_folder_image(folder, tag):
        return
    own = f"{folder_image_name(folder)}*" if folder else "none: the call named no folder"
    raise PolicyDenied(
        "devcontainer-image-name",
        f"a dev container build may not tag {tag!r}: it names only the images of its own folder ({own})",
        hint="remove -t/--tag from devcontainer.json build.options; tag the image afterwards with "
        "image-operations if you need another name.",
    )

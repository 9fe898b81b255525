"""Compose, in pure terms: argv for each action, the resolved config as policy requests, and
`ps --format json` as service rows. No I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_docker_server.errors import ComposeError, InvalidArgument
from mcp_docker_server.policy import Admitted
from mcp_docker_server.results.compose import ComposeService
from mcp_docker_server.results.shaping import format_ports
from mcp_docker_server.specs.containers import ContainerSpec, MountSpec
from mcp_docker_server.specs.volumes import VolumeSpec

__all__ = [
    "ComposePlan",
    "compose_argv",
    "create_argv",
    "raw_config_argv",
    "stack_config",
    "parse_ps",
    "project_requests",
    "validate_project_name",
    "watch_argv",
]

_PROJECT = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SERVICE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")


@dataclass(frozen=True)
class ComposePlan:
    """One compose invocation: which files (merged in order, as repeated ``-f``), which
    project, which profiles, what to do. ``project_directory`` is given when the files are a
    rendered copy in a private folder, so no ``.env`` of the user's folder is read again."""

    files: tuple[Path, ...]
    project: str | None
    action: str
    services: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    build: bool = False
    wait: bool = True
    remove_volumes: bool = False
    tail: int = 100
    timeout: float = 300
    project_directory: Path | None = None

    @property
    def file(self) -> Path:
        """The first (main) compose file."""
        return self.files[0]


@dataclass(frozen=True)
class ProjectRequests:
    """What a resolved compose project would create, as the policy sees it."""

    containers: tuple[ContainerSpec, ...]
    volumes: tuple[VolumeSpec, ...]
    external_volumes: tuple[str, ...] = field(default=())


def validate_project_name(name: str) -> str:
    """Compose's own rule for project names."""
    if not _PROJECT.fullmatch(name):
        raise InvalidArgument(
            f"Invalid project name {name!r}.", hint="use lower-case letters, digits, '_' and '-'."
        )
    return name


def compose_argv(plan: ComposePlan) -> list[str]:
    """The compose arguments (after `docker compose`) for ``plan``. ``--`` never needed: every
    service name is validated not to start with '-'."""
    base = _global_args(plan)
    services = list(plan.services)
    action = plan.action
    if action in ("config", "validate"):
        return [*base, "config", "--format", "json", *services]
    if action in ("up", "create", "watch"):
        # Only an admitted plan may create or start containers: see up_argv.
        raise RuntimeError("compose up needs a plan admitted by the policy guard")
    if action == "down":
        return [*base, "down", "--remove-orphans", *(["--volumes"] if plan.remove_volumes else [])]
    if action == "ps":
        return [*base, "ps", "--all", "--format", "json", *services]
    if action == "logs":
        return [*base, "logs", "--no-color", "--tail", str(plan.tail), *services]
    if action in ("start", "stop", "restart", "pull", "build"):
        return [*base, action, *services]
    raise InvalidArgument(f"Unknown compose action {action!r}.")


def _global_args(plan: ComposePlan) -> list[str]:
    for service in plan.services:
        if not _SERVICE.fullmatch(service):
            raise InvalidArgument(
                f"Invalid service name {service!r}.", hint="use the names in the compose file."
            )
    for profile in plan.profiles:
        if not _SERVICE.fullmatch(profile) and profile != "*":
            raise InvalidArgument(
                f"Invalid profile name {profile!r}.", hint="use the profile names in the compose file."
            )
    args = ["--ansi", "never"]
    for file in plan.files:
        args += ["-f", str(file)]
    if plan.project_directory is not None:
        args += ["--project-directory", str(plan.project_directory)]
    for profile in plan.profiles:
        args += ["--profile", profile]
    return [*args, "-p", plan.project] if plan.project else args


def raw_config_argv(plan: ComposePlan) -> list[str]:
    """`config` without interpolation or env-file resolution: shows the env files the project
    reads (the interpolated render has their contents inlined already)."""
    return [*_global_args(plan), "config", "--format", "json", "--no-interpolate", "--no-env-resolution",
            *plan.services]  # fmt: skip


def create_argv(admitted: Admitted[ComposePlan]) -> list[str]:
    """`up --no-start`: create (and build) what the plan needs, start nothing, so the created
    containers can be judged before anything runs."""
    plan = admitted.unwrap()
    return [*_global_args(plan), "up", "--no-start", *(["--build"] if plan.build else []), *plan.services]


def up_argv(admitted: Admitted[ComposePlan]) -> list[str]:
    """`up --detach` for a plan whose resolved configuration passed the policy guard (after
    :func:`create_argv` the containers exist and are not recreated: the file is the same)."""
    plan = admitted.unwrap()
    extra = ["--build"] if plan.build else []
    if plan.wait:
        extra += ["--wait", "--wait-timeout", str(int(plan.timeout))]
    return [*_global_args(plan), "up", "--detach", *extra, *plan.services]


def watch_argv(admitted: Admitted[ComposePlan]) -> list[str]:
    """`watch --no-up`: watch the services of a plan whose containers were created, judged and
    started already (by :func:`create_argv` then :func:`up_argv`), from the same file; without
    ``--no-up`` Compose would build and start them again outside that judgement."""
    plan = admitted.unwrap()
    return [*_global_args(plan), "watch", "--no-up", *plan.services]


def stack_config(config: Mapping[str, Any], stack: str) -> dict[str, Any]:
    """A project Compose rendered under the project name ``stack``, as `docker stack deploy`'s
    loader reads it: no nulls (its schema wants strings), no top-level ``name``, and no names
    Compose generated (``<stack>_<key>``), so the stack namespaces its networks, volumes,
    secrets and configs itself, as it does for the same file given directly."""

    def strip(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    services = {
        name: {**service, "networks": {n: v or {} for n, v in service["networks"].items()}}
        if isinstance(service, Mapping) and isinstance(service.get("networks"), Mapping)
        else service
        for name, service in (config.get("services") or {}).items()
    }
    # A service's networks map names to null when the file gives no options: kept as empty
    # options, or the service would silently join only the stack's default network.
    out: dict[str, Any] = strip({**config, "services": services})
    out.pop("name", None)
    for kind in ("networks", "volumes", "secrets", "configs"):
        for key, entry in (out.get(kind) or {}).items():
            if isinstance(entry, dict) and entry.get("name") == f"{stack}_{key}":
                del entry["name"]
    return out


def parse_ps(stdout: str) -> list[ComposeService]:
    """`ps --format json`: an array (older v2) or one object per line (v2.21+)."""
    text = stdout.strip()
    if not text:
        return []
    try:
        items = (
            json.loads(text)
            if text.startswith("[")
            else [json.loads(line) for line in text.splitlines() if line]
        )
    except ValueError as exc:
        raise ComposeError(f"Could not read `compose ps` output: {exc}.") from exc
    rows = []
    for item in items:
        publishers = item.get("Publishers") or []
        ports = format_ports(
            {
                "IP": p.get("URL"),
                "PublicPort": p.get("PublishedPort"),
                "PrivatePort": p.get("TargetPort"),
                "Type": p.get("Protocol", "tcp"),
            }
            for p in publishers
            if p.get("PublishedPort")
        )
        rows.append(
            ComposeService(
                service=str(item.get("Service", "")),
                name=str(item.get("Name", "")),
                state=str(item.get("State", "")),
                health=str(item.get("Health") or "") or None,
                exit_code=int(item["ExitCode"])
                if item.get("State") == "exited" and "ExitCode" in item
                else None,
                ports=ports,
            )
        )
    return sorted(rows, key=lambda r: (r.service, r.name))


def project_requests(config: Mapping[str, Any]) -> ProjectRequests:
    """Turn `config --format json` into the requests the policy judges: every service as a
    container spec, every declared volume with its driver options."""
    containers = tuple(
        _service_spec(name, service) for name, service in (config.get("services") or {}).items()
    )
    volumes: list[VolumeSpec] = []
    external: list[str] = []
    for key, volume in (config.get("volumes") or {}).items():
        volume = volume or {}
        real_name = str(volume.get("name") or key)
        if volume.get("external"):
            external.append(real_name)
        else:
            opts = {str(k): str(v) for k, v in (volume.get("driver_opts") or {}).items()}
            volumes.append(
                VolumeSpec(name=real_name, driver=str(volume.get("driver") or "local"), driver_opts=opts)
            )
    return ProjectRequests(containers=containers, volumes=tuple(volumes), external_volumes=tuple(external))


def _service_spec(name: str, service: Mapping[str, Any]) -> ContainerSpec:
    mounts = []
    for volume in service.get("volumes") or []:
        kind = str(volume.get("type") or "volume")
        if kind == "npipe":
            continue
        mounts.append(
            MountSpec(
                kind="bind" if kind == "bind" else "tmpfs" if kind == "tmpfs" else "volume",
                source=str(volume.get("source") or ""),
                target=str(volume.get("target") or ""),
                read_only=bool(volume.get("read_only")),
                propagation=(volume.get("bind") or {}).get("propagation"),
            )
        )
    return ContainerSpec(
        image=str(service.get("image") or f"(build of {name})"),
        name=name,
        privileged=bool(service.get("privileged")),
        network=_namespace(service.get("network_mode")),
        pid_mode=_namespace(service.get("pid")),
        ipc_mode=_namespace(service.get("ipc")),
        uts_mode=_namespace(service.get("uts")),
        userns_mode=_namespace(service.get("userns_mode")),
        cap_add=tuple(str(c) for c in service.get("cap_add") or []),
        devices=tuple(_device(d) for d in service.get("devices") or []),
        security_opt=tuple(str(o) for o in service.get("security_opt") or []),
        volumes_from=tuple(str(v) for v in service.get("volumes_from") or []),
        mounts=tuple(mounts),
    )


def _namespace(value: object) -> str | None:
    """Compose's ``service:x`` shares another container's namespace, like ``container:x``."""
    if value is None:
        return None
    text = str(value)
    return "container:" + text.removeprefix("service:") if text.startswith("service:") else text


def _device(device: object) -> str:
    if isinstance(device, Mapping):
        return f"{device.get('source')}:{device.get('target')}"
    return str(device)


def tail_lines(text: str, lines: int = 15) -> str:
    """The last lines of Compose's stderr, for error messages."""
    return "\n".join(text.strip().splitlines()[-lines:])


def compose_failure(plan: ComposePlan, argv: Sequence[str], returncode: int, stderr: str) -> ComposeError:
    """A failed compose command as a readable error: which file, what Compose said."""
    said = tail_lines(stderr) or "(no output)"
    hint = "fix the compose file or the arguments as the message says."
    if "no such service" in said.lower():
        hint = "use a service name from the compose file (action=config lists them)."
    elif "yaml" in said.lower():
        hint = f"fix the YAML in {plan.file} at the line given."
    return ComposeError(
        f"`docker compose {plan.action}` failed for {plan.file} (exit {returncode}): {said}", hint=hint
    )

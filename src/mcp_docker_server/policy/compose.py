"""Compose, as rendered by Compose itself, judged key by key (pure).

The input is `docker compose config --format json`: the project after Compose merged its files,
applied profiles, interpolated variables and made paths absolute. Every key is known to be
harmless, judged, or refused unless the operator opens it (``allow_compose_keys``): keys that
run host programs (providers), run commands at lifecycle points (hooks), hand out the engine
(``use_api_socket``) or are unknown to this code (a newer Compose's) are refused, naming the key.
What the containers will get is judged again later on the engine's own description of each
created container (``policy.admission``); this pass covers what never reaches a container's
configuration: host files read into the project, build inputs, volume and network drivers.

The key lists follow the Compose specification (compose-spec ``schema/compose-spec.json``) and
Compose v2.40's additions.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.builds import (
    check_build_network,
    check_build_ssh,
    check_secret_env,
    judge_cache,
)
from mcp_docker_server.policy.containers import admit_volume, security_option
from mcp_docker_server.policy.model import PathResolver, Policy
from mcp_docker_server.policy.networks import judge_network
from mcp_docker_server.policy.paths import check_host_path
from mcp_docker_server.specs.volumes import VolumeSpec

__all__ = [
    "HARMLESS_SERVICE_KEYS",
    "REFUSED_SERVICE_KEYS",
    "env_file_paths",
    "env_files_of",
    "judge_compose_config",
    "judge_compose_inputs",
    "pin_paths",
    "publish_on",
]

# Service keys whose effect on the host is nothing, or is judged on the created container.
HARMLESS_SERVICE_KEYS = frozenset(
    {
        "annotations", "attach", "blkio_config", "cap_add", "cap_drop", "cgroup", "cgroup_parent",
        "command", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota",
        "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "depends_on", "deploy",
        "develop", "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname",
        "entrypoint", "environment", "expose", "external_links", "extra_hosts", "gpus", "group_add",
        "healthcheck", "hostname", "image", "init", "ipc", "isolation", "labels", "links", "logging",
        "mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit", "network_mode",
        "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports",
        "privileged", "profiles", "pull_policy", "pull_refresh_after", "read_only", "restart",
        "runtime", "scale", "security_opt", "shm_size", "stdin_open", "stop_grace_period",
        "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "user", "userns_mode",
        "uts", "volumes_from", "working_dir",
        # judged below
        "build", "configs", "secrets", "volumes", "env_file", "label_file",
    }
)  # fmt: skip

# Refused unless the operator opens them, with the reason the refusal gives.
REFUSED_SERVICE_KEYS = {
    "provider": "runs a program on the server's host (a Compose provider) on up and down",
    "post_start": "runs a command at a lifecycle point, possibly privileged, outside what is judged",
    "pre_stop": "runs a command at a lifecycle point, possibly privileged, outside what is judged",
    "use_api_socket": "hands the container the Docker socket and the server's registry credentials",
    "models": "starts a model runner outside the container's configuration",
    "credential_spec": "gives a Windows container the host's credentials",
}

_SECRET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TOP_LEVEL = frozenset({"name", "services", "networks", "volumes", "secrets", "configs", "version"})
_HARMLESS_BUILD = frozenset(
    {
        "context", "dockerfile", "dockerfile_inline", "args", "labels", "target", "tags", "platforms",
        "shm_size", "extra_hosts", "isolation", "no_cache", "pull", "provenance", "sbom", "ulimits",
        "cache_from", "cache_to", "additional_contexts", "secrets", "network", "ssh",
    }
)  # fmt: skip
_REFUSED_BUILD = {
    "privileged": "runs build steps privileged",
    "entitlements": "grants build steps host privileges",
}
_REMOTE = (
    "http://",
    "https://",
    "git://",
    "git@",
    "ssh://",
    "docker-image://",
    "service:",
    "target:",
    "oci-layout://",
)


def judge_compose_config(
    policy: Policy,
    config: Mapping[str, Any],
    resolve: PathResolver,
    *,
    env_files: Mapping[str, list[str]] | None = None,
) -> None:
    """Admit a rendered Compose project's keys and the host paths it reads, or raise.

    ``env_files`` maps services to the env files they read (a render without interpolation and
    env resolution shows them; the rendered project has them inlined already).

    Raises:
        PolicyDenied: naming the service or top-level entry, the key and the policy key.
    """
    for key in config:
        if key not in _TOP_LEVEL and not str(key).startswith("x-"):
            _refuse(policy, str(key), f"top-level key {key!r} is not known to this server", key)
    for name, service in (config.get("services") or {}).items():
        _service(policy, str(name), service or {}, resolve)
    for service, files in (env_files or {}).items():
        for path in files:
            _path(policy, path, resolve, f"service {service}: env_file")
    _volumes(policy, config.get("volumes") or {}, resolve)
    _external_host_network(policy, config.get("networks") or {})
    _networks(policy, config.get("networks") or {})
    for kind in ("secrets", "configs"):
        for name, entry in (config.get(kind) or {}).items():
            if not isinstance(entry, Mapping) or entry.get("external"):
                continue
            if entry.get("file"):
                _unquoted_field(str(entry["file"]), f"{kind} {name}: file")
                _path(policy, str(entry["file"]), resolve, f"{kind} {name}: file")
            if entry.get("environment"):
                # A variable of the process that runs Compose: this server's.
                check_secret_env(policy, str(entry["environment"]), f"{kind} {name}")


def _external_host_network(policy: Policy, networks: Mapping[str, Any]) -> None:
    """An external network named ``host`` is the host's network namespace. Judged here, before
    Compose creates or recreates anything, so a refusal leaves a running project as it was."""
    for key, network in networks.items():
        network = network or {}
        host = network.get("external") and str(network.get("name") or key).lower() == "host"
        if host and not policy.allow_host_namespaces:
            raise PolicyDenied(
                "host-network",
                f"network {key}: the external network host shares the host's network namespace",
                hint="use a user-defined network.",
                setting="allow_host_namespaces = true",
            )


def _volumes(policy: Policy, volumes: Mapping[str, Any], resolve: PathResolver) -> None:
    for name, volume in volumes.items():
        volume = volume or {}
        if volume.get("external"):
            continue
        spec = VolumeSpec(
            name=str(volume.get("name") or name),
            driver=str(volume.get("driver") or "local"),
            driver_opts={str(k): str(v) for k, v in (volume.get("driver_opts") or {}).items()},
        )
        _where(f"volume {name}", lambda spec=spec: admit_volume(policy, spec, resolve))


def _networks(policy: Policy, networks: Mapping[str, Any]) -> None:
    # External networks exist already: they are judged on the engine's values where joined.
    for name, network in networks.items():
        network = network or {}
        if not network.get("external"):
            engine_name = str(network.get("name") or name)
            judge_network(policy, engine_name, network.get("driver"), network.get("driver_opts"))


def _service(policy: Policy, name: str, service: Mapping[str, Any], resolve: PathResolver) -> None:
    for key in service:
        key = str(key)
        if key.startswith("x-"):
            continue
        if key in REFUSED_SERVICE_KEYS:
            _refuse(policy, key, f"service {name}: {key} {REFUSED_SERVICE_KEYS[key]}", key)
        elif key not in HARMLESS_SERVICE_KEYS:
            _refuse(policy, key, f"service {name}: key {key!r} is not known to this server", key)
    for key in ("env_file", "label_file"):
        for path in env_file_paths(service.get(key)):
            _path(policy, path, resolve, f"service {name}: {key}")
    for option in service.get("security_opt") or []:
        _seccomp_profile(policy, name, str(option), resolve)
    for volume in service.get("volumes") or []:
        if isinstance(volume, Mapping) and volume.get("type") == "bind" and volume.get("source"):
            _path(policy, str(volume["source"]), resolve, f"service {name}: bind")
    build = service.get("build")
    if isinstance(build, Mapping):
        _build(policy, name, build, resolve)


def _seccomp_profile(policy: Policy, service: str, option: str, resolve: PathResolver) -> None:
    """``seccomp=<file>``: Compose reads that host file into the container's configuration.
    The path is judged before anything reads it, and a custom profile is unconfined unless the
    operator allows it (the created container would be refused anyway, after the read)."""
    key, value = security_option(option)
    if key != "seccomp" or value in ("", "unconfined", "default", "builtin"):
        return
    if not value.startswith("{"):
        _path(policy, value, resolve, f"service {service}: seccomp profile")
    if not policy.allow_unconfined:
        raise PolicyDenied(
            "unconfined",
            f"service {service}: a custom seccomp profile replaces the engine's confinement",
            hint="drop the seccomp security_opt.",
            setting="allow_unconfined = true",
        )


def _build(policy: Policy, service: str, build: Mapping[str, Any], resolve: PathResolver) -> None:
    _build_keys(policy, service, build)
    _build_secrets(service, build)
    # The same rules as build-image (policy/builds.py): ssh, the host's network, caches.
    if build.get("ssh"):
        check_build_ssh(policy, f"service {service}: build.ssh")
    if str(build.get("network") or "").strip().lower() == "host":
        check_build_network(policy, "host", f"service {service}: build.network")
    context = str(build.get("context") or "")
    local_context = bool(context) and not context.startswith(_REMOTE)
    if local_context:
        _path(policy, context, resolve, f"service {service}: build context")
    dockerfile = str(build.get("dockerfile") or "")
    if dockerfile and local_context and not build.get("dockerfile_inline"):
        _path(policy, posixpath.join(context, dockerfile), resolve, f"service {service}: Dockerfile")
    for name, source in (build.get("additional_contexts") or {}).items():
        if (local := _local_context(str(source))) is not None:
            _path(policy, local, resolve, f"service {service}: build additional_contexts {name}")
    for key in ("cache_from", "cache_to"):
        where = f"service {service}: build.{key}"
        for entry in build.get(key) or []:
            if "$" in str(entry):
                _path(policy, str(entry), resolve, f"{where}: build cache")  # refused: a variable
            (judged,) = judge_cache(policy, [str(entry)], resolve, where, export=key == "cache_to")
            if key == "cache_to" and judged.type == "registry":
                # A push of the build's layers (the project's files) to any registry, with no
                # question to the user: build-image's cache_to asks first, naming the registry.
                raise PolicyDenied(
                    "build-cache-push",
                    f"{where}: type=registry pushes the build cache (the files the build copied) "
                    f"to {judged.get('ref') or 'a registry'} without asking",
                    hint="drop it; push a cache with build-image cache_to (it asks first), or use "
                    "type=local or type=inline.",
                )


def _build_secrets(service: str, build: Mapping[str, Any]) -> None:
    """Compose hands each build secret to buildx as ``id=<target>,type=file,src=<file>`` (or
    ``env=``), unquoted: a name with a comma would add a field of its own (``t,env=VAR`` reads
    any variable of the server)."""
    for entry in build.get("secrets") or []:
        names = [entry] if isinstance(entry, str) else [entry.get("source"), entry.get("target")]
        for value in names:
            if value is not None and not _SECRET_NAME.fullmatch(str(value)):
                raise PolicyDenied(
                    "build-secret",
                    f"service {service}: build secret name {str(value)!r} is not a plain name",
                    hint="use letters, digits, '.', '_' and '-'.",
                )


def _unquoted_field(value: str, where: str) -> None:
    """A path Compose passes on inside a CSV field, unquoted (a build secret's ``src=``)."""
    if any(c in value for c in ',"=\r\n'):
        raise PolicyDenied(
            "host-path",
            f'{where}: {value!r} holds a character (, " = or a line break) that Compose passes '
            "to buildx unquoted, where it would add an option of its own",
            hint="rename the file.",
        )


def _build_keys(policy: Policy, service: str, build: Mapping[str, Any]) -> None:
    for key in build:
        key = str(key)
        if key in _REFUSED_BUILD:
            _refuse(
                policy,
                f"build.{key}",
                f"service {service}: build.{key} {_REFUSED_BUILD[key]}",
                f"build.{key}",
            )
        elif key not in _HARMLESS_BUILD and not key.startswith("x-"):
            _refuse(
                policy,
                f"build.{key}",
                f"service {service}: build key {key!r} is not known here",
                f"build.{key}",
            )


def _local_context(source: str) -> str | None:
    """The host folder a build context source reads, or None for a remote one.

    ``oci-layout://<path>[:tag][@digest]`` is a folder on this host, which
    buildx reads (build/build.go cuts the path at "@" then ":"), not a remote source.
    """
    if source.startswith("oci-layout://"):
        return source.removeprefix("oci-layout://").partition("@")[0].partition(":")[0]
    return None if source.startswith(_REMOTE) else source


def env_files_of(raw: Mapping[str, Any]) -> dict[str, list[str]]:
    """The env and label files each service reads, from a render without env resolution."""
    files: dict[str, list[str]] = {}
    for service, spec in (raw.get("services") or {}).items():
        for key in ("env_file", "label_file"):
            if paths := env_file_paths((spec or {}).get(key)):
                files.setdefault(str(service), []).extend(paths)
    return files


def env_file_paths(value: object) -> list[str]:
    """The paths of a service's ``env_file`` or ``label_file`` entry in any of its shapes: a
    path, a list of paths, or a list of ``{path, required}``."""
    items = value if isinstance(value, list) else [value] if value else []
    return [str(p) for p in (i.get("path") if isinstance(i, Mapping) else i for i in items) if p]


def _path(policy: Policy, path: str, resolve: PathResolver, where: str) -> None:
    if "$" in path:
        raise PolicyDenied(
            "host-path",
            f"{where}: {path!r} still names a variable, so the file read cannot be judged",
            hint="write the path out in the compose file.",
        )
    owner, _, purpose = where.rpartition(": ")
    # Binds and secret/config files are mounted into containers; the rest is only read.
    mounted = purpose == "bind" or purpose == "file"
    _where(
        owner, lambda: check_host_path(policy, path, resolve, purpose=purpose or "host path", mounted=mounted)
    )


def _where(where: str, check: Any) -> None:
    try:
        check()
    except PolicyDenied as exc:
        reason = exc.reason if exc.reason.startswith(where) else f"{where}: {exc.reason}"
        raise PolicyDenied(exc.rule, reason, hint=exc.hint, setting=exc.setting) from exc


def _refuse(policy: Policy, key: str, reason: str, setting_key: str) -> None:
    if setting_key in policy.allow_compose_keys:
        return
    raise PolicyDenied(
        "compose-key",
        reason,
        hint=f"remove {key} from the compose file.",
        setting=f'allow_compose_keys = ["{setting_key}"]',
    )


def pin_paths(config: Mapping[str, Any], resolve: PathResolver) -> dict[str, Any]:
    """``config`` with every host path it reads replaced by the resolved real path that was
    judged, so a symlink swapped after the check changes nothing (local engines only: a remote
    engine's paths cannot be resolved from here)."""
    pinned: dict[str, Any] = {**config}
    pinned["services"] = {
        name: _pin_service(dict(service or {}), resolve)
        for name, service in (config.get("services") or {}).items()
    }
    if config.get("volumes"):
        pinned["volumes"] = {name: _pin_volume(volume, resolve) for name, volume in config["volumes"].items()}
    for kind in ("secrets", "configs"):
        if config.get(kind):
            pinned[kind] = {
                name: {**entry, "file": resolve(str(entry["file"])).real_path}
                if isinstance(entry, Mapping) and entry.get("file") and not entry.get("external")
                else entry
                for name, entry in config[kind].items()
            }
    return pinned


def _pin_volume(volume: Any, resolve: PathResolver) -> Any:
    """A bind-style local volume's device, resolved (the engine mounts what it names)."""
    options = (volume or {}).get("driver_opts") if isinstance(volume, Mapping) else None
    if not isinstance(options, Mapping) or not options.get("device"):
        return volume
    if not {o.strip() for o in str(options.get("o") or "").split(",")} & {"bind", "rbind"}:
        return volume
    return {**volume, "driver_opts": {**options, "device": resolve(str(options["device"])).real_path}}


def _pin_service(service: dict[str, Any], resolve: PathResolver) -> dict[str, Any]:
    def real(path: object) -> str:
        return resolve(str(path)).real_path

    if service.get("volumes"):
        service["volumes"] = [
            {**v, "source": real(v["source"])}
            if isinstance(v, Mapping) and v.get("type") == "bind" and v.get("source")
            else v
            for v in service["volumes"]
        ]
    build = service.get("build")
    if isinstance(build, Mapping):
        build = dict(build)
        context = str(build.get("context") or "")
        if context and not context.startswith(_REMOTE):
            build["context"] = real(context)
            dockerfile = str(build.get("dockerfile") or "")
            if dockerfile and not build.get("dockerfile_inline"):
                # A Dockerfile symlinked elsewhere is named where it really is (what was judged);
                # a plain one keeps its relative name.
                written = posixpath.normpath(posixpath.join(context, dockerfile))
                if real(written) != posixpath.join(build["context"], posixpath.relpath(written, context)):
                    build["dockerfile"] = real(written)
        if build.get("additional_contexts"):
            build["additional_contexts"] = {
                k: v if str(v).startswith(_REMOTE) else real(v)
                for k, v in build["additional_contexts"].items()
            }
        service["build"] = build
    return service


def publish_on(config: Mapping[str, Any], address: str) -> dict[str, Any]:
    """``config`` (rendered: ports in the long syntax) with every published port that names no
    host address bound to ``address``, as run-container binds ports given without one (Compose
    itself would listen on every interface)."""
    out: dict[str, Any] = {**config}
    services: dict[str, Any] = {}
    for name, service in (config.get("services") or {}).items():
        service = dict(service or {})
        ports = service.get("ports")
        if isinstance(ports, list):
            service["ports"] = [
                {**port, "host_ip": address}
                if isinstance(port, Mapping) and not port.get("host_ip")
                else port
                for port in ports
            ]
        services[name] = service
    out["services"] = services
    return out


def judge_compose_inputs(
    policy: Policy, inputs: Iterable[tuple[str, str, bool]], resolve: PathResolver
) -> None:
    """Judge the host files Compose reads to load a project, before it reads them: (purpose,
    path, remote) as ``compose.inputs.compose_inputs`` lists them (the files, the project
    folder's ``.env``, ``include`` and ``extends`` files). Their values could reach containers,
    and their text Compose's error messages.

    Raises:
        PolicyDenied: a remote resource (Compose would fetch it with the host's git or registry
            credentials), a path naming a variable, or a file the host-path rule refuses.
    """
    for purpose, path, remote in inputs:
        if remote:
            raise PolicyDenied(
                "remote-compose-resource",
                f"{purpose} {path} is remote: Compose would fetch it with the host's git or registry "
                "credentials",
                hint="fetch it yourself and name the local copy.",
            )
        if "$" in path:
            raise PolicyDenied(
                "host-path",
                f"{purpose} {path!r} names a variable, so the file read cannot be judged",
                hint="write the path out in the compose file.",
            )
        check_host_path(policy, path, resolve, purpose=purpose, mounted=False)

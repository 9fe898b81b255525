"""The doctor's local checks: registry credential sources, the docker CLI, HTTP, the policy.

None of these contacts an engine or starts a process. They read files the operator owns
(config.json, the audit log's folder) and show names, paths and "set"/"not set" only: a
password, token, ``auth`` or ``identitytoken`` value never reaches a :class:`Line`.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path

from mcp_docker_server.config.engines_file import EngineConfig
from mcp_docker_server.config.settings import HttpSettings, RegistrySettings, Settings
from mcp_docker_server.doctor.report import Line
from mcp_docker_server.policy import Policy
from mcp_docker_server.policy.model import CREDENTIAL_DIRS, DEFAULT_CAPABILITIES, SENSITIVE_PATHS
from mcp_docker_server.results.shaping import clean_text, truncate

__all__ = [
    "docker_cli_lines",
    "http_lines",
    "policy_data",
    "policy_lines",
    "registry_lines",
    "warning_lines",
]

_NAMES_SHOWN = 8
_REGISTRY = "registry credentials"


def warning_lines(warnings: Iterable[str]) -> list[Line]:
    """Start-up warnings the server would log (the settings still load; each names its setting)."""
    return [Line("settings", "warn", w) for w in warnings]


def docker_cli_lines(path_env: str | None) -> list[Line]:
    """The docker CLI: only `docker stack` needs it (the Engine API has no stacks)."""
    found = shutil.which("docker", path=path_env)
    if found:
        return [Line("compose", "ok", f"docker CLI {found} (swarm stacks use it)")]
    return [
        Line(
            "compose",
            "warn",
            "docker CLI not on PATH: swarm-stack deploy/remove will fail; everything else works",
            "install it (Debian: docker.io or docker-ce-cli) if you deploy stacks.",
        )
    ]


# --------------------------------------------------------------------------- registry


def registry_lines(registry: RegistrySettings, docker_config: Path, path_env: str | None) -> list[Line]:
    """Where pull/push credentials would come from, in the order the server tries them.

    Only names are shown: registries, credential helpers, the credential store.
    """
    lines = [
        Line(
            _REGISTRY,
            "ok",
            "REGISTRY_USERNAME/REGISTRY_PASSWORD: "
            + (
                f"set, for {registry.server} only (REGISTRY_SERVER)"
                if registry.username and registry.password
                else "not set"
            ),
        )
    ]
    if registry.auth_config is not None:
        config, setting = registry.auth_config, "REGISTRY_AUTH_CONFIG"
        if not os.access(config, os.R_OK):
            fix = "point REGISTRY_AUTH_CONFIG at a readable docker config.json, or unset it."
            return [*lines, Line(_REGISTRY, "fail", f"{setting} {config}: not readable", fix)]
    else:
        config, setting = docker_config / "config.json", "docker config"
        if not config.exists():
            text = f"{setting} {config}: absent (anonymous pulls unless the variables above are set)"
            return [*lines, Line(_REGISTRY, "ok", text)]
    try:
        data = json.loads(config.read_text())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        fix = "fix the file (`docker login` rewrites it), or remove it."
        return [*lines, Line(_REGISTRY, "fail", f"{setting} {config}: unreadable ({reason})", fix)]
    return [*lines, *_config_lines(data, config, setting, path_env)]


def _config_lines(data: dict[str, object], config: Path, setting: str, path_env: str | None) -> list[Line]:
    auths = data.get("auths")
    helpers = data.get("credHelpers")
    store = data.get("credsStore")
    names = sorted(auths) if isinstance(auths, dict) else []
    lines = [Line(_REGISTRY, "ok", f"{setting} {config}: auths for {_names(names)}")]
    helper_map = {str(k): str(v) for k, v in helpers.items()} if isinstance(helpers, dict) else {}
    if helper_map:
        pairs = [f"{registry} ({helper})" for registry, helper in sorted(helper_map.items())]
        lines.append(Line(_REGISTRY, "ok", f"credHelpers: {_names(pairs)}"))
    if isinstance(store, str) and store:
        lines.append(Line(_REGISTRY, "ok", f"credsStore: {_name(store)}"))
    for helper in sorted({*helper_map.values(), *([store] if isinstance(store, str) and store else [])}):
        binary = f"docker-credential-{helper}"
        if shutil.which(binary, path=path_env) is None:
            lines.append(
                Line(
                    _REGISTRY,
                    "fail",
                    f"{_name(binary)} is not on PATH: pulls and pushes that need it will fail",
                    f"install {_name(binary)}, or remove it from {config}.",
                )
            )
    return lines


def _name(raw: str) -> str:
    # The operator's own file, but printed to a terminal: no escapes, nothing secret-looking.
    return truncate(clean_text(raw).replace("\n", " "), 80)[0]


def _names(raw: list[str]) -> str:
    if not raw:
        return "none"
    shown = ", ".join(_name(n) for n in raw[:_NAMES_SHOWN])
    return shown + (f" (+{len(raw) - _NAMES_SHOWN} more)" if len(raw) > _NAMES_SHOWN else "")


# --------------------------------------------------------------------------- http


def http_lines(http: HttpSettings) -> list[Line]:
    """The Streamable HTTP settings: where it listens and how clients authenticate."""
    url = f"http://{http.host}:{http.port}{http.path}"
    lines = [Line("http", "ok", f"listen {url}, body limit {_mib(http.max_body_bytes)}")]
    if http.oauth is not None:
        scopes = ", ".join(http.oauth.scopes) or "none"
        auth = f"OAuth: issuer {http.oauth.issuer}, audience {http.oauth.audience}, scopes {scopes}"
    elif http.token is not None:
        auth = "bearer token: set (MCP_DOCKER_HTTP_TOKEN or _TOKEN_FILE)"
    else:
        auth = "bearer token: not set; a random one is printed to stderr at each start (loopback only)"
    lines.append(Line("http", "ok", auth))
    extra_hosts = ", ".join(http.allowed_hosts) or "none"
    extra_origins = ", ".join(http.allowed_origins) or "none"
    lines.append(
        Line("http", "ok", f"Host/Origin: loopback, plus hosts {extra_hosts}; origins {extra_origins}")
    )
    if (busy := _port_in_use(http.host, http.port)) is not None:
        lines.append(
            Line(
                "http",
                "warn",
                f"{http.host}:{http.port} is taken ({busy}): the server could not listen there now",
                "stop what holds it (perhaps this server, already running), or set MCP_DOCKER_HTTP_PORT.",
            )
        )
    return lines


def _port_in_use(host: str, port: int) -> str | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Defense in depth: the same option uvicorn sets, so a port in TIME_WAIT is not "taken".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            return "in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or "cannot bind")
    return None


# --------------------------------------------------------------------------- policy


def policy_lines(settings: Settings, source: str) -> list[Line]:
    """The active policy on one screen, then what each engine's own policy changes."""
    p = settings.policy
    section = f"policy ({source})"
    rows = [
        f"read-only {_yn(p.read_only)}"
        + (" (registry reads allowed)" if p.read_only and p.read_only_registry_reads else "")
        + f" · confirm {p.confirm} · audit log {p.audit_log or 'off'}",
        f"tools: allowed {_list(p.allow_tools, 'all')} · denied {_list(p.deny_tools)}"
        f" · denied actions {_list(p.deny_actions)}",
        f"containers: privileged {_yn(p.allow_privileged)} · host namespaces {_yn(p.allow_host_namespaces)}"
        f" · devices {_yn(p.allow_devices)} · unconfined {_yn(p.allow_unconfined)}"
        f" · root exec {_yn(p.allow_root_exec)}",
        f"binds: roots {_list(p.allowed_bind_roots, 'any non-sensitive path')}"
        f" · {_count(p.sensitive_paths, SENSITIVE_PATHS)} sensitive paths and"
        f" {_count(p.credential_dirs, CREDENTIAL_DIRS)} credential dirs"
        f" {'allowed' if p.allow_sensitive_binds else 'refused'}"
        f" · docker socket {'allowed' if p.allow_socket_binds else 'refused'}",
        f"images: {_list(p.image_allowlist, 'any')}"
        f" · digest only {_yn(p.require_digest)} · signature required {_yn(p.require_signature)}"
        f" · cap_add allowlist {_count(p.capability_allowlist, DEFAULT_CAPABILITIES)} capabilities",
        f"label scope: {p.label_scope or 'none'} · swarm join tokens "
        f"{'shown' if p.show_join_tokens else 'hidden'}",
        _injected(p),
    ]
    lines = [Line(section, "info", row) for row in rows]
    for config in settings.engines:
        changed = _differences(settings.policy, config.policy)
        if changed:
            lines.append(Line(section, "info", f"engine {config.name}: own policy, {'; '.join(changed)}"))
    lines.extend(_audit_lines(settings.engine_configs(), section))
    return lines


def policy_data(settings: Settings, source: str) -> dict[str, object]:
    """The policy for JSON: every key of the default policy, and each engine's differences."""
    engines = {c.name: _differences(settings.policy, c.policy) for c in settings.engines}
    return {
        "source": source,
        "default": {f.name: _plain(getattr(settings.policy, f.name)) for f in fields(Policy)},
        "engines": {name: changed for name, changed in engines.items() if changed},
    }


def _injected(p: Policy) -> str:
    memory = _mib(p.default_memory_bytes) if p.default_memory_bytes else "none"
    cpus = f"{p.default_nano_cpus / 1e9:g}" if p.default_nano_cpus else "none"
    return (
        f"injected defaults: no-new-privileges {_yn(p.no_new_privileges)} · memory {memory}"
        f" · cpus {cpus} · pids {p.default_pids_limit or 'none'}"
    )


def _audit_lines(configs: Iterable[EngineConfig], section: str) -> list[Line]:
    lines = []
    for path in sorted({c.policy.audit_log for c in configs if c.policy.audit_log}):
        target = Path(path).expanduser()
        writable = os.access(target, os.W_OK) if target.exists() else os.access(target.parent, os.W_OK)
        if not writable:
            lines.append(
                Line(
                    section,
                    "fail",
                    f"audit log {path} cannot be written: mutating calls would fail to record",
                    "create its folder and make it writable by this user, or change audit_log.",
                )
            )
    return lines


def _differences(base: Policy, own: Policy) -> list[str]:
    return [
        f"{f.name}={_shown(getattr(own, f.name))}"
        for f in fields(Policy)
        if getattr(own, f.name) != getattr(base, f.name)
    ]


def _plain(value: object) -> object:
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return _yn(value)
    if isinstance(value, tuple | frozenset):
        return _list(tuple(sorted(value)))
    return str(value)


def _mib(size: int) -> str:
    # Limits are set in binary units (512m, 1 MiB bodies): shown the way they were given.
    return f"{size / 1024**2:.4g} MiB"


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def _list(values: tuple[str, ...], empty: str = "none") -> str:
    if not values:
        return empty
    shown = ", ".join(values[:_NAMES_SHOWN])
    return shown + (f" (+{len(values) - _NAMES_SHOWN} more)" if len(values) > _NAMES_SHOWN else "")


def _count(values: Iterable[str], default: Iterable[str]) -> str:
    values = set(values)
    return f"{len(values)}" if values == set(default) else f"{len(values)} (custom)"

"""Several engines in one server: the operator's engines file (TOML).

Each ``[engines.<name>]`` table says where one engine is, in the docker CLI's own terms (host
or context, TLS files, API version, timeout), and which policy governs it: the server's policy
unless the table names its own ``policy_file``; ``read_only = true`` narrows either. A broken
entry stops start-up, naming the engine and the key.

    default = "local"            # read calls that name no engine go here (else the first)

    [engines.local]
    host = "unix:///var/run/docker.sock"

    [engines.prod]
    host = "tcp://prod.example:2376"
    tls_verify = true
    cert_path = "/etc/mcp-docker/prod"
    read_only = true
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mcp_docker_server.config.targets import EngineTarget, engine_target
from mcp_docker_server.errors import ConfigError
from mcp_docker_server.policy import Policy, load_policy

__all__ = ["ENGINE_NAME", "EngineConfig", "load_engines"]

ENGINE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
SETTING = "MCP_DOCKER_ENGINES_FILE"

# Engines-file key -> the environment variable the docker CLI reads for it.
_TARGET_KEYS = {
    "host": "DOCKER_HOST",
    "context": "DOCKER_CONTEXT",
    "tls_verify": "DOCKER_TLS_VERIFY",
    "tls": "DOCKER_TLS",
    "cert_path": "DOCKER_CERT_PATH",
    "api_version": "DOCKER_API_VERSION",
    "timeout": "DOCKER_TIMEOUT",
    "allow_insecure_tcp": "MCP_DOCKER_ALLOW_INSECURE_TCP",
}
_KEYS = {*_TARGET_KEYS, "policy_file", "read_only"}


@dataclass(frozen=True)
class EngineConfig:
    """One named engine: where it is and the policy that governs calls to it."""

    name: str
    target: EngineTarget
    policy: Policy


def load_engines(
    path: str,
    env: Mapping[str, str],
    docker_config: Path,
    base_policy: Policy,
    warnings: list[str],
) -> tuple[tuple[EngineConfig, ...], str]:
    """Read the engines file: the engines in file order, and the default engine's name.

    Raises:
        ConfigError: the file is unreadable, or an entry is unknown, mistyped or unreachable
            in principle (a bad address, missing TLS files, a context that does not exist).
    """
    data = _read(Path(path).expanduser())
    tables = data.get("engines")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(SETTING, f"{path} has no [engines.<name>] tables", "add at least one engine.")
    unknown_top = set(data) - {"engines", "default"}
    if unknown_top:
        raise ConfigError(
            SETTING, f"unknown top-level key(s) {sorted(unknown_top)}", "use default and [engines.*]."
        )
    engines = tuple(
        _engine(name, table, env, docker_config, base_policy, warnings) for name, table in tables.items()
    )
    default = data.get("default", engines[0].name)
    if default not in {e.name for e in engines}:
        raise ConfigError(
            SETTING, f"default = {default!r} names no engine", f"use one of {', '.join(tables)}."
        )
    return engines, str(default)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(SETTING, f"cannot read {path} ({exc.strerror})", "check the path.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(SETTING, f"{path} is not valid TOML ({exc})", "fix the file.") from exc


def _engine(
    name: str,
    table: Any,
    env: Mapping[str, str],
    docker_config: Path,
    base_policy: Policy,
    warnings: list[str],
) -> EngineConfig:
    where = f"engine {name!r}"
    if not ENGINE_NAME.fullmatch(name):
        raise ConfigError(
            SETTING, f"{where}: names are lowercase letters, digits, '.', '_' and '-'", "rename it."
        )
    if not isinstance(table, dict):
        raise ConfigError(SETTING, f"{where} is not a table", f"write it as [engines.{name}].")
    unknown = set(table) - _KEYS
    if unknown:
        raise ConfigError(
            SETTING, f"{where}: unknown key(s) {sorted(unknown)}", f"known: {', '.join(sorted(_KEYS))}."
        )
    if "host" in table and "context" in table:
        raise ConfigError(SETTING, f"{where} has both host and context", "keep one of them.")
    if "host" not in table and "context" not in table:
        raise ConfigError(SETTING, f"{where} has neither host nor context", 'e.g. host = "ssh://me@box".')
    # The process environment supplies only what every engine shares (timeouts, API version);
    # where each engine is comes from its own table alone.
    engine_env = {k: env[k] for k in ("DOCKER_TIMEOUT", "DOCKER_API_VERSION") if k in env}
    for key, variable in _TARGET_KEYS.items():
        if key in table:
            engine_env[variable] = _text(table[key], where, key)
    engine_warnings: list[str] = []
    try:
        target = engine_target(engine_env, docker_config, engine_warnings)
    except ConfigError as exc:
        raise ConfigError(SETTING, f"{where}: {exc.message}", exc.hint or "fix the entry.") from exc
    warnings.extend(f"{where}: {w}" for w in engine_warnings)
    policy = base_policy
    if "policy_file" in table:
        policy = load_policy(_text(table["policy_file"], where, "policy_file"), env)
    read_only = table.get("read_only", False)
    if not isinstance(read_only, bool):
        raise ConfigError(SETTING, f"{where}: read_only must be true or false", "fix it.")
    if read_only:
        policy = replace(policy, read_only=True)
    return EngineConfig(name=name, target=target, policy=policy)


def _text(value: Any, where: str, key: str) -> str:
    """TOML values as the environment would carry them (booleans as 1/0)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | str):
        return str(value)
    raise ConfigError(SETTING, f"{where}: {key} must be a string, number or boolean", "fix it.")

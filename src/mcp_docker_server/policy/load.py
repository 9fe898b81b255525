"""The operator's policy file (TOML) and its environment overrides, into a :class:`Policy`.

Only the operator writes these: nothing a tool call carries can change them. An unknown key
or a wrongly typed value stops start-up (a typo must not silently leave a rule at its default).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from mcp_docker_server.errors import ConfigError
from mcp_docker_server.policy.model import Policy

__all__ = ["CONFIRM_MODES", "load_policy"]

CONFIRM_MODES = ("elicit", "client-approval")
_SIZES = {"k": 1024, "m": 1024**2, "g": 1024**3}


def load_policy(path: str | None, env: Mapping[str, str]) -> Policy:
    """Read the policy file (if any), then the environment overrides.

    Raises:
        ConfigError: the file is unreadable, not TOML, or holds an unknown or mistyped key.
    """
    values: dict[str, Any] = {}
    if path:
        values = _read(Path(path).expanduser())
    overrides = {
        "MCP_DOCKER_READ_ONLY": "read_only",
        "MCP_DOCKER_CONFIRM": "confirm",
        "MCP_DOCKER_AUDIT_LOG": "audit_log",
        "MCP_DOCKER_REQUIRE_DIGEST": "require_digest",
        "MCP_DOCKER_REQUIRE_SIGNATURE": "require_signature",
        "MCP_DOCKER_COSIGN_KEY": "cosign_key",
        "MCP_DOCKER_COSIGN_IDENTITY": "cosign_identity",
        "MCP_DOCKER_COSIGN_ISSUER": "cosign_issuer",
        "MCP_DOCKER_VULNERABILITY_DB": "vulnerability_db",
    }
    for variable, key in overrides.items():
        raw = env.get(variable, "").strip()
        if raw:
            values[key] = _env_value(variable, key, raw)
    return _build(values, path or "environment")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(
            "MCP_DOCKER_POLICY_FILE", f"cannot read {path} ({exc.strerror})", "check the path."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            "MCP_DOCKER_POLICY_FILE", f"{path} is not valid TOML ({exc})", "fix the file."
        ) from exc
    # Sections are for the reader only: [exposure], [containers], [defaults], [audit]...
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def _env_value(variable: str, key: str, raw: str) -> Any:
    if isinstance(getattr(Policy(), key), bool):
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(variable, f"{raw!r} is not a boolean", "use 1 or 0.")
        return raw.lower() in ("1", "true", "yes", "on")
    return raw


def _build(values: Mapping[str, Any], source: str) -> Policy:
    known = {f.name: f for f in fields(Policy)}
    aliases = {"default_memory": "default_memory_bytes", "default_cpus": "default_nano_cpus"}
    policy = Policy()
    changes: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = aliases.get(raw_key, raw_key)
        if key not in known:
            raise ConfigError(
                "MCP_DOCKER_POLICY_FILE",
                f"unknown key {raw_key!r} in {source}",
                f"known keys: {', '.join(sorted(k for k in known if k not in aliases.values()))}, "
                "default_memory, default_cpus.",
            )
        changes[key] = _coerce(key, value, getattr(policy, key), source)
    if changes.get("confirm", policy.confirm) not in CONFIRM_MODES:
        raise ConfigError(
            "MCP_DOCKER_CONFIRM",
            f"{changes['confirm']!r} is not a confirmation mode",
            "use elicit or client-approval.",
        )
    built = replace(policy, **changes)
    _check_signing(built)
    return built


def _check_signing(policy: Policy) -> None:
    """A signature requirement needs something to verify against; keyless needs both halves."""
    if bool(policy.cosign_identity) != bool(policy.cosign_issuer):
        raise ConfigError(
            "cosign_identity/cosign_issuer",
            "keyless verification needs both the signer's identity and its OIDC issuer",
            "set both (e.g. MCP_DOCKER_COSIGN_IDENTITY and MCP_DOCKER_COSIGN_ISSUER), or neither.",
        )
    if policy.require_signature and not (policy.cosign_key or policy.cosign_identity):
        raise ConfigError(
            "require_signature",
            "no cosign_key and no cosign_identity to verify signatures against",
            "set cosign_key (a public key file or KMS URI) or cosign_identity and cosign_issuer.",
        )


def _coerce(key: str, value: Any, default: Any, source: str) -> Any:
    def wrong(expected: str) -> ConfigError:
        return ConfigError(
            "MCP_DOCKER_POLICY_FILE", f"{key} in {source} must be {expected}, not {value!r}", "fix it."
        )

    if key == "default_memory_bytes":
        return _size(value, wrong)
    if key == "default_nano_cpus":
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise wrong("a positive number of CPUs")
        return int(value * 1e9)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if isinstance(default, tuple | frozenset):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong("a list of strings")
        return frozenset(v.upper() for v in value) if isinstance(default, frozenset) else tuple(value)
    if key == "default_pids_limit":
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise wrong("a positive whole number")
        return value
    if not isinstance(value, str):
        raise wrong("a string")
    return value


def _size(value: Any, wrong: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value[:-1].isdigit() and value[-1].lower() in _SIZES:
        return int(value[:-1]) * _SIZES[value[-1].lower()]
    raise wrong('bytes or a size such as "512m"')

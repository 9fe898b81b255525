"""The operator's policy file (TOML) and its environment overrides, into a :class:`Policy`.

Only the operator writes these: nothing a tool call carries can change them. An unknown key
or a wrongly typed value stops start-up (a typo must not silently leave a rule at its default).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from mcp_docker_server.errors import ConfigError
from mcp_docker_server.policy.model import Policy

__all__ = ["CONFIRM_MODES", "check_exposure", "load_policy"]

CONFIRM_MODES = ("elicit", "client-approval")
# Keys whose values are host folders, judged as absolute paths.
_ABSOLUTE_PATHS = frozenset({"sensitive_paths", "allowed_bind_roots"})
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*(?:=[^\s]*)?")
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
        "MCP_DOCKER_EXPERIMENTAL_TOOLS": "experimental_tools",
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
    # A key given twice (in two sections) is refused: neither value may silently win.
    flat: dict[str, Any] = {}
    for section, value in data.items():
        for key, item in value.items() if isinstance(value, dict) else [(section, value)]:
            if key in flat:
                raise ConfigError(
                    "MCP_DOCKER_POLICY_FILE", f"{key!r} is set twice in {path}", "keep one of them."
                )
            flat[key] = item
    return flat


def _env_value(variable: str, key: str, raw: str) -> Any:
    if isinstance(getattr(Policy(), key), tuple):  # a list: comma-separated
        return [item.strip() for item in raw.split(",") if item.strip()]
    if isinstance(getattr(Policy(), key), bool):
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ConfigError(variable, f"{raw!r} is not a boolean", "use 1 or 0.")
        return raw.lower() in ("1", "true", "yes", "on")
    return raw


def _build(values: Mapping[str, Any], source: str) -> Policy:
    # engine_data_root is learnt from the engine itself: an operator value would replace it.
    known = {f.name: f for f in fields(Policy) if f.name != "engine_data_root"}
    aliases = {"default_memory": "default_memory_bytes", "default_cpus": "default_nano_cpus"}
    policy = Policy()
    changes: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = aliases.get(raw_key, raw_key)
        if key not in known or raw_key in aliases.values():  # internal names are not keys
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
    # The built-in sensitive paths and credential folders are a floor: an operator's list adds
    # to them (a list meant to add /srv/secrets must not silently drop /etc).
    if "sensitive_paths" in changes:
        changes["sensitive_paths"] = tuple(
            dict.fromkeys((*policy.sensitive_paths, *changes["sensitive_paths"]))
        )
    if "credential_dirs" in changes:
        changes["credential_dirs"] = frozenset(policy.credential_dirs) | frozenset(changes["credential_dirs"])
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
        return _strings(key, value, default, wrong)
    if key == "default_pids_limit":
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise wrong("a positive whole number")
        return value
    if not isinstance(value, str):
        raise wrong("a string")
    if key == "label_scope" and value and not _LABEL.fullmatch(value):
        raise wrong('a label key or key=value, e.g. "mcp.scope=team-a"')
    return value


def _strings(key: str, value: Any, default: Any, wrong: Any) -> tuple[str, ...] | frozenset[str]:
    """A list key, kept as written (only capability names are read the engine's way)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise wrong("a list of strings")
    _check_items(key, value, wrong)
    if key == "capability_allowlist":
        # The engine reads capability names in any case, with or without CAP_: so does this.
        return frozenset(v.upper().removeprefix("CAP_") for v in value)
    return frozenset(value) if isinstance(default, frozenset) else tuple(value)


def _check_items(key: str, values: list[str], wrong: Any) -> None:
    """Values kept as written must mean what they say: folders that are absolute, credential
    folders that are relative to a home folder (a ``/`` in front would never match)."""
    if key in _ABSOLUTE_PATHS and not all(v.startswith("/") for v in values):
        raise wrong("a list of absolute paths")
    if key == "credential_dirs" and not all(
        v and not v.startswith("/") and ".." not in v.split("/") for v in values
    ):
        raise wrong('a list of folders relative to a home folder, e.g. [".ssh", ".config/gcloud"]')


def check_exposure(policy: Policy, tools: Mapping[str, Collection[str]], source: str) -> None:
    """Every tool named in ``allow_tools``/``deny_tools`` and every ``tool:action`` in
    ``deny_actions`` must exist: a typo must not leave a tool the operator meant to close open.
    ``tools`` maps each tool the server has to its actions (empty for a tool without).

    Raises:
        ConfigError: naming the entry and listing the valid ones.
    """
    names = ", ".join(sorted(tools))
    for key in ("allow_tools", "deny_tools", "experimental_tools"):
        unknown = [t for t in getattr(policy, key) if t not in tools]
        if unknown:
            raise ConfigError(
                key, f"unknown tool {', '.join(map(repr, unknown))} in {source}", f"the tools are: {names}."
            )
    for entry in policy.deny_actions:
        tool, sep, action = entry.partition(":")
        if tool not in tools:
            raise ConfigError(
                "deny_actions", f"unknown tool in {entry!r} in {source}", f"the tools are: {names}."
            )
        actions = sorted(tools[tool])
        if not sep or (action != "*" and action not in actions):
            valid = ", ".join([*(f"{tool}:{a}" for a in actions), f"{tool}:*"])
            raise ConfigError(
                "deny_actions", f"{entry!r} in {source} names no action of {tool}", f"use one of: {valid}."
            )


def _size(value: Any, wrong: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value[:-1].isdigit() and value[-1].lower() in _SIZES:
        return int(value[:-1]) * _SIZES[value[-1].lower()]
    raise wrong('bytes or a size such as "512m"')

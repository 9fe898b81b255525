"""Where an engine is and how to reach it, read the way the docker CLI reads it.

``DOCKER_HOST``, then ``DOCKER_CONTEXT``, then ``currentContext`` in ``$DOCKER_CONFIG/config.json``,
then the local socket; TLS from ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH`` or the context's store.
The same reading serves the one engine of the environment and each engine of an engines file.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from mcp_docker_server.errors import ConfigError

__all__ = [
    "DEFAULT_HOST",
    "EngineTarget",
    "TlsFiles",
    "engine_target",
    "is_loopback",
    "read_flag",
]

DEFAULT_HOST = "unix:///var/run/docker.sock"
MIN_API_VERSION = (1, 41)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class TlsFiles:
    """Client TLS material for a tcp:// engine."""

    verify: bool
    ca: Path | None
    cert: Path | None
    key: Path | None


@dataclass(frozen=True)
class EngineTarget:
    """Where the engine is and how to talk to it."""

    host: str
    scheme: Literal["unix", "tcp", "ssh"]
    tls: TlsFiles | None
    api_version: str
    timeout: float
    source: str  # "DOCKER_HOST", "context <name>", "default"

    @property
    def display(self) -> str:
        """The address as users know it (never carries credentials)."""
        return self.host


def engine_target(env: Mapping[str, str], docker_config: Path, warnings: list[str]) -> EngineTarget:
    timeout = _timeout(env)
    api_version = _api_version(env)
    host = env.get("DOCKER_HOST", "").strip()
    context_tls: TlsFiles | None = None
    source = "DOCKER_HOST"
    if not host:
        context = env.get("DOCKER_CONTEXT", "").strip() or _current_context(docker_config)
        if context and context != "default":
            host, context_tls = _read_context(context, docker_config)
            source = f"context {context}"
        else:
            host, source = DEFAULT_HOST, "default"
    scheme, host = _normalise_host(host, source)
    tls = _tls(env, scheme, context_tls, docker_config, warnings)
    if scheme == "tcp" and tls is None and not is_loopback(host):
        if not read_flag(env, "MCP_DOCKER_ALLOW_INSECURE_TCP"):
            raise ConfigError(
                "DOCKER_HOST",
                f"{host} is plain TCP to a non-loopback address: anyone on that network gets root "
                "on the Docker host",
                "use TLS (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH) or ssh://, or set "
                "MCP_DOCKER_ALLOW_INSECURE_TCP=1 if the network is trusted.",
            )
        warnings.append(f"plain TCP to {host} without TLS (allowed by MCP_DOCKER_ALLOW_INSECURE_TCP)")
    return EngineTarget(
        host=host, scheme=scheme, tls=tls, api_version=api_version, timeout=timeout, source=source
    )


def _normalise_host(host: str, source: str) -> tuple[Literal["unix", "tcp", "ssh"], str]:
    setting = "DOCKER_HOST" if source == "DOCKER_HOST" else f"DOCKER_CONTEXT ({source})"
    if host.startswith("/"):
        host = "unix://" + host
    parts = urlsplit(host)
    scheme = parts.scheme.lower()
    if scheme == "unix":
        if not parts.path:
            raise ConfigError(setting, f"{host!r} names no socket path", "e.g. unix:///var/run/docker.sock.")
        return "unix", f"unix://{parts.path}"
    if scheme in {"tcp", "http", "https"}:
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(setting, f"{host!r} has an invalid port", "e.g. tcp://host:2376.") from exc
        if not parts.hostname:
            raise ConfigError(setting, f"{host!r} names no host", "e.g. tcp://127.0.0.1:2376.")
        default_port = 2376 if scheme == "https" else 2375
        address = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return "tcp", f"tcp://{address}:{port or default_port}"
    if scheme == "ssh":
        if not parts.hostname or parts.path not in {"", "/"}:
            raise ConfigError(
                setting, f"{host!r} is not ssh://[user@]host[:port]", "e.g. ssh://me@build-box."
            )
        return "ssh", host.rstrip("/")
    if scheme == "npipe":
        raise ConfigError(setting, "npipe:// is for Windows engines", "use unix:// on Linux and macOS.")
    raise ConfigError(
        setting,
        f"unknown scheme in {host!r}",
        "use unix:///path/docker.sock, tcp://host:port or ssh://user@host.",
    )


def _tls(
    env: Mapping[str, str],
    scheme: str,
    context_tls: TlsFiles | None,
    docker_config: Path,
    warnings: list[str],
) -> TlsFiles | None:
    verify = read_flag(env, "DOCKER_TLS_VERIFY")
    enabled = verify or read_flag(env, "DOCKER_TLS")
    if scheme != "tcp":
        # Like the docker CLI: TLS settings mean nothing to a unix socket or SSH, so a config
        # that carries them (the specification's own example does) still starts.
        if enabled:
            warnings.append(f"DOCKER_TLS_VERIFY/DOCKER_TLS ignored for a {scheme}:// engine")
        return None
    if not enabled:
        return context_tls
    cert_dir = Path(env.get("DOCKER_CERT_PATH") or docker_config).expanduser()
    setting = "DOCKER_CERT_PATH"
    if not cert_dir.is_dir():
        raise ConfigError(
            setting,
            f"TLS is on but {cert_dir} is not a readable folder",
            "point DOCKER_CERT_PATH at the folder holding ca.pem, cert.pem and key.pem.",
        )
    files = {name: cert_dir / f"{name}.pem" for name in ("ca", "cert", "key")}
    needed = ["cert", "key"] + (["ca"] if verify else [])
    missing = [f"{n}.pem" for n in needed if not os.access(files[n], os.R_OK)]
    if missing:
        raise ConfigError(
            setting,
            f"TLS is on but {', '.join(missing)} missing or unreadable in {cert_dir}",
            "put the client certificate, key and CA there, or unset DOCKER_TLS_VERIFY.",
        )
    return TlsFiles(
        verify=verify,
        ca=files["ca"] if verify else None,
        cert=files["cert"],
        key=files["key"],
    )


def _current_context(docker_config: Path) -> str | None:
    config = docker_config / "config.json"
    try:
        data = json.loads(config.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "DOCKER_CONFIG", f"{config} is not readable JSON ({exc})", "fix or remove the file."
        ) from exc
    name = data.get("currentContext") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def _read_context(name: str, docker_config: Path) -> tuple[str, TlsFiles | None]:
    """Read a docker CLI context from its on-disk store (``docker context create`` writes it)."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = docker_config / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
        endpoint = data["Endpoints"]["docker"]
        host = str(endpoint["Host"])
    except FileNotFoundError as exc:
        raise ConfigError(
            "DOCKER_CONTEXT", f"context {name!r} does not exist", "`docker context ls` lists them."
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            "DOCKER_CONTEXT",
            f"context {name!r} is unreadable ({exc.__class__.__name__})",
            f"recreate it with `docker context create {name}`.",
        ) from exc
    tls_dir = docker_config / "contexts" / "tls" / digest / "docker"
    if not tls_dir.is_dir():
        return host, None
    verify = not bool(endpoint.get("SkipTLSVerify"))

    def present(file: str) -> Path | None:
        path = tls_dir / file
        return path if path.is_file() else None

    return host, TlsFiles(
        verify=verify,
        ca=present("ca.pem") if verify else None,
        cert=present("cert.pem"),
        key=present("key.pem"),
    )


def _timeout(env: Mapping[str, str]) -> float:
    raw = env.get("DOCKER_TIMEOUT", "").strip() or "60"
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ConfigError(
            "DOCKER_TIMEOUT",
            f"{raw!r} is not a number of seconds in (0, 3600]",
            "e.g. DOCKER_TIMEOUT=60.",
        )
    return value


def _api_version(env: Mapping[str, str]) -> str:
    raw = env.get("DOCKER_API_VERSION", "").strip() or "auto"
    if raw.lower() == "auto":
        return "auto"
    match = re.fullmatch(r"(\d+)\.(\d+)", raw)
    if not match or (int(match[1]), int(match[2])) < MIN_API_VERSION:
        raise ConfigError(
            "DOCKER_API_VERSION",
            f"{raw!r} is not 'auto' or an API version of at least 1.41 (Engine 20.10)",
            "use DOCKER_API_VERSION=auto.",
        )
    return raw


def read_flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(name, f"{raw!r} is not a boolean", "use 1 or 0.")


def is_loopback(host_or_url: str) -> bool:
    name = urlsplit(host_or_url).hostname if "://" in host_or_url else host_or_url
    name = (name or "").strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False

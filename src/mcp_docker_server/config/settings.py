"""Settings: read the way the docker CLI reads them, validated once at start-up.

Every setting has an environment variable and a mirroring command-line flag (the flag wins).
The engine address follows the CLI's precedence: ``--host``/``DOCKER_HOST``, then
``--context``/``DOCKER_CONTEXT``, then ``currentContext`` in ``$DOCKER_CONFIG/config.json``,
then the local socket. A broken or contradictory setting raises :class:`ConfigError`, which the
CLI turns into exit code 2 and one line naming the setting and the fix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mcp_docker_server.config.engines_file import EngineConfig, load_engines
from mcp_docker_server.config.targets import (
    DEFAULT_HOST,
    EngineTarget,
    TlsFiles,
    engine_target,
    is_loopback,
    read_flag,
)
from mcp_docker_server.errors import ConfigError
from mcp_docker_server.policy import Policy, load_policy

__all__ = [
    "OPTIONS",
    "EngineTarget",
    "HttpSettings",
    "OAuthSettings",
    "DOCKER_HUB",
    "Option",
    "RegistrySettings",
    "Settings",
    "TlsFiles",
    "load_settings",
    "registry_host",
]


@dataclass(frozen=True)
class Option:
    """One setting: its environment variable, its flag, and what it does (used for --help)."""

    env: str
    flag: str
    help: str
    is_bool: bool = False


OPTIONS: tuple[Option, ...] = (
    Option(
        "DOCKER_HOST",
        "--host",
        f"Engine address: unix://, tcp://, ssh:// (default {DEFAULT_HOST}).",
    ),
    Option("DOCKER_CONTEXT", "--context", "Docker CLI context to use instead of DOCKER_HOST."),
    Option("DOCKER_API_VERSION", "--api-version", "Engine API version, or 'auto' (default)."),
    Option("DOCKER_CERT_PATH", "--cert-path", "Folder with ca.pem, cert.pem, key.pem for TLS."),
    Option("DOCKER_TLS_VERIFY", "--tls-verify", "Use TLS and verify the engine's certificate.", True),
    Option("DOCKER_TLS", "--tls", "Use TLS without verifying the engine's certificate.", True),
    Option("DOCKER_TIMEOUT", "--timeout", "Seconds an engine operation may take (default 60)."),
    Option("DOCKER_CONFIG", "--docker-config", "Docker CLI config folder (default ~/.docker)."),
    Option("REGISTRY_USERNAME", "--registry-username", "Registry user for pull/push."),
    Option("REGISTRY_PASSWORD", "--registry-password", "Registry password or token."),
    Option(
        "REGISTRY_SERVER",
        "--registry-server",
        "Registry (host[:port]) REGISTRY_USERNAME/PASSWORD belong to (default docker.io).",
    ),
    Option("REGISTRY_AUTH_CONFIG", "--registry-auth-config", "A docker config.json with auths."),
    Option(
        "MCP_DOCKER_ALLOW_INSECURE_TCP",
        "--allow-insecure-tcp",
        "Allow plain tcp:// to a non-loopback engine (hands root on that host to the network).",
        True,
    ),
    Option("MCP_DOCKER_TRANSPORT", "--transport", "MCP transport: stdio (default) or http."),
    Option("MCP_DOCKER_HTTP_HOST", "--http-host", "HTTP bind address (default 127.0.0.1)."),
    Option("MCP_DOCKER_HTTP_PORT", "--port", "HTTP port (default 8000)."),
    Option("MCP_DOCKER_HTTP_PATH", "--path", "HTTP endpoint path (default /mcp)."),
    Option("MCP_DOCKER_HTTP_TOKEN", "--token", "Bearer token clients must send over HTTP."),
    Option("MCP_DOCKER_HTTP_TOKEN_FILE", "--token-file", "File holding the bearer token."),
    Option(
        "MCP_DOCKER_ALLOWED_HOSTS",
        "--allowed-hosts",
        "Comma list of Host headers accepted on HTTP.",
    ),
    Option("MCP_DOCKER_ALLOWED_ORIGINS", "--allowed-origins", "Comma list of Origins accepted on HTTP."),
    Option(
        "MCP_DOCKER_ALLOW_REMOTE_HTTP",
        "--allow-remote-http",
        "Allow binding HTTP to a non-loopback address.",
        True,
    ),
    Option(
        "MCP_DOCKER_HTTP_MAX_BODY_BYTES", "--max-body-bytes", "Largest HTTP request body (default 1 MiB)."
    ),
    Option("MCP_DOCKER_OAUTH_ISSUER", "--oauth-issuer", "OAuth resource-server mode: the token issuer URL."),
    Option("MCP_DOCKER_OAUTH_AUDIENCE", "--oauth-audience", "OAuth mode: the audience tokens must carry."),
    Option(
        "MCP_DOCKER_OAUTH_PUBLIC_KEY_FILE", "--oauth-public-key-file", "OAuth mode: PEM key verifying tokens."
    ),
    Option(
        "MCP_DOCKER_OAUTH_SCOPES", "--oauth-scopes", "OAuth mode: comma list of scopes every token needs."
    ),
    Option(
        "MCP_DOCKER_PUBLISH_ADDRESS",
        "--publish-address",
        "Host address for published ports given without one (default 127.0.0.1).",
    ),
    Option(
        "MCP_DOCKER_MAX_BUILD_CONTEXT_MB",
        "--max-build-context-mb",
        "Largest build context sent to the engine, in MiB (default 512).",
    ),
    Option("MCP_DOCKER_POLICY_FILE", "--policy-file", "Operator policy file (TOML)."),
    Option(
        "MCP_DOCKER_ENGINES_FILE",
        "--engines-file",
        "Several engines by name (TOML); each call may then name one. Replaces DOCKER_HOST.",
    ),
    Option("MCP_DOCKER_READ_ONLY", "--read-only", "Expose only read tools and read actions.", True),
    Option("MCP_DOCKER_CONFIRM", "--confirm", "Destructive actions: elicit (default) or client-approval."),
    Option("MCP_DOCKER_AUDIT_LOG", "--audit-log", "Append one JSON line per mutating call to this file."),
    Option("MCP_DOCKER_LOG_LEVEL", "--log-level", "stderr log level (default INFO)."),
)


# Docker Hub's names: `docker login` without a server logs in here.
DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_REGISTRY_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?"
)


def registry_host(name: str) -> str:
    """A registry as one comparable name: ``https://index.docker.io/v1/`` and ``docker.io``
    are ``docker.io``; the scheme and any path are dropped, the host is lower-cased, the port
    kept (``127.0.0.1:5000``)."""
    host = name.strip().removeprefix("https://").removeprefix("http://").split("/", 1)[0].lower()
    return DOCKER_HUB if host in _HUB_ALIASES else host


@dataclass(frozen=True)
class RegistrySettings:
    """Where registry credentials come from; the password never leaves this object in output.

    ``username``/``password`` are bound to ``server``: they are offered to that registry only.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    auth_config: Path | None = None
    server: str = DOCKER_HUB

    def credentials_for(self, registry: str) -> tuple[str, str] | None:
        """REGISTRY_USERNAME/REGISTRY_PASSWORD when ``registry`` is the one they were set for;
        None for any other registry (its credentials then come from config.json, per registry)."""
        if self.username and self.password and registry_host(registry) == self.server:
            return self.username, self.password
        return None


@dataclass(frozen=True)
class OAuthSettings:
    """Resource-server mode: bearer tokens are JWTs from an issuer, checked locally."""

    issuer: str
    audience: str
    public_key: str = field(repr=False)
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpSettings:
    """Streamable HTTP transport settings."""

    host: str = "127.0.0.1"
    port: int = 8000
    path: str = "/mcp"
    token: str | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    oauth: OAuthSettings | None = None


@dataclass(frozen=True)
class Settings:
    """Everything the server needs, validated."""

    engine: EngineTarget
    registry: RegistrySettings = RegistrySettings()
    transport: Literal["stdio", "http"] = "stdio"
    http: HttpSettings = HttpSettings()
    publish_address: str = "127.0.0.1"
    log_level: str = "INFO"
    docker_config: Path = Path.home() / ".docker"
    max_build_context_bytes: int = 512 * 1024 * 1024
    policy: Policy = field(default_factory=Policy)
    warnings: tuple[str, ...] = ()
    # From an engines file; empty means the one engine above, named "default".
    engines: tuple[EngineConfig, ...] = ()
    default_engine: str = "default"
    # The files this server reads its configuration and secrets from: the host path rule
    # keeps binds, volumes, builds and scans away from them.
    own_files: tuple[str, ...] = ()

    def engine_configs(self) -> tuple[EngineConfig, ...]:
        """Every engine this server drives, the default one included."""
        return self.engines or (EngineConfig(self.default_engine, self.engine, self.policy),)


def load_settings(env: Mapping[str, str], flags: Mapping[str, str | None] | None = None) -> Settings:
    """Build validated settings from the environment and command-line flags.

    Args:
        env: the process environment (or a test's stand-in).
        flags: values keyed by environment variable name; a non-None value overrides ``env``.

    Raises:
        ConfigError: a setting is broken or contradicts another.
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    merged: dict[str, str] = {**env, **given}
    warnings: list[str] = []
    docker_config = Path(
        merged.get("DOCKER_CONFIG") or Path(env.get("HOME") or Path.home()) / ".docker"
    ).expanduser()
    if "DOCKER_HOST" in given and "DOCKER_CONTEXT" in given:
        raise ConfigError(
            "--host/--context",
            "both were given and they contradict each other",
            "pass only one of them.",
        )
    policy = load_policy(merged.get("MCP_DOCKER_POLICY_FILE") or None, merged)
    engines: tuple[EngineConfig, ...] = ()
    default_engine = "default"
    if engines_file := merged.get("MCP_DOCKER_ENGINES_FILE", "").strip():
        engines, default_engine = load_engines(engines_file, merged, docker_config, policy, warnings)
        engine = next(e.target for e in engines if e.name == default_engine)
        if merged.get("DOCKER_HOST") or merged.get("DOCKER_CONTEXT"):
            warnings.append("DOCKER_HOST/DOCKER_CONTEXT ignored: MCP_DOCKER_ENGINES_FILE names the engines")
    else:
        engine = engine_target(merged, docker_config, warnings)
    return Settings(
        engine=engine,
        engines=engines,
        default_engine=default_engine,
        registry=_registry(merged),
        transport=_choice(merged, "MCP_DOCKER_TRANSPORT", ("stdio", "http"), "stdio"),  # type: ignore[arg-type]
        http=_http(merged),
        publish_address=_publish_address(merged),
        log_level=_choice(
            merged,
            "MCP_DOCKER_LOG_LEVEL",
            ("DEBUG", "INFO", "WARNING", "ERROR"),
            "INFO",
            upper=True,
        ),
        docker_config=docker_config,
        max_build_context_bytes=_megabytes(merged, "MCP_DOCKER_MAX_BUILD_CONTEXT_MB", 512),
        policy=policy,
        warnings=tuple(warnings),
        own_files=_own_files(merged, docker_config, (*engines, EngineConfig(default_engine, engine, policy))),
    )


def _own_files(
    env: Mapping[str, str], docker_config: Path, engines: tuple[EngineConfig, ...]
) -> tuple[str, ...]:
    names = (
        "MCP_DOCKER_POLICY_FILE", "MCP_DOCKER_ENGINES_FILE", "MCP_DOCKER_HTTP_TOKEN_FILE",
        "MCP_DOCKER_OAUTH_PUBLIC_KEY_FILE", "REGISTRY_AUTH_CONFIG", "DOCKER_CERT_PATH",
        "MCP_DOCKER_AUDIT_LOG",
    )  # fmt: skip
    found = [str(Path(env[n].strip()).expanduser().absolute()) for n in names if env.get(n, "").strip()]
    found.append(str(docker_config.absolute()))
    for config in engines:
        if (tls := config.target.tls) is not None:
            found.extend(str(f) for f in (tls.ca, tls.cert, tls.key) if f is not None)
        if config.policy.audit_log:
            found.append(config.policy.audit_log)
    return tuple(dict.fromkeys(found))


# --------------------------------------------------------------------------- registry, http


def _registry(env: Mapping[str, str]) -> RegistrySettings:
    user = env.get("REGISTRY_USERNAME") or None
    password = env.get("REGISTRY_PASSWORD") or None
    if bool(user) != bool(password):
        given, missing = (
            ("REGISTRY_USERNAME", "REGISTRY_PASSWORD") if user else ("REGISTRY_PASSWORD", "REGISTRY_USERNAME")
        )
        raise ConfigError(missing, f"{given} is set but {missing} is not", "set both or neither.")
    auth_config = env.get("REGISTRY_AUTH_CONFIG") or None
    return RegistrySettings(
        username=user,
        password=password,
        auth_config=Path(auth_config).expanduser() if auth_config else None,
        server=_registry_server(env.get("REGISTRY_SERVER", "")),
    )


def _registry_server(raw: str) -> str:
    if not raw.strip():
        return DOCKER_HUB
    host = registry_host(raw)
    if not _REGISTRY_HOST.fullmatch(host):
        raise ConfigError(
            "REGISTRY_SERVER",
            f"{raw!r} is not a registry address",
            "give host[:port], e.g. 127.0.0.1:5000, ghcr.io or docker.io.",
        )
    return host


def _http(env: Mapping[str, str]) -> HttpSettings:
    host = env.get("MCP_DOCKER_HTTP_HOST", "").strip() or "127.0.0.1"
    if not is_loopback(host) and not read_flag(env, "MCP_DOCKER_ALLOW_REMOTE_HTTP"):
        raise ConfigError(
            "MCP_DOCKER_HTTP_HOST",
            f"{host} is not a loopback address: anyone who can reach it could drive Docker",
            "bind to 127.0.0.1, or set MCP_DOCKER_ALLOW_REMOTE_HTTP=1 behind TLS and a firewall.",
        )
    raw_port = env.get("MCP_DOCKER_HTTP_PORT", "").strip() or "8000"
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise ConfigError("MCP_DOCKER_HTTP_PORT", f"{raw_port!r} is not a TCP port", "e.g. 8000.")
    path = env.get("MCP_DOCKER_HTTP_PATH", "").strip() or "/mcp"
    if not path.startswith("/"):
        raise ConfigError("MCP_DOCKER_HTTP_PATH", f"{path!r} must start with '/'", "e.g. /mcp.")
    token = _token(env)
    oauth = _oauth(env)
    if not is_loopback(host) and token is None and oauth is None:
        raise ConfigError(
            "MCP_DOCKER_HTTP_TOKEN",
            f"binding to {host} needs a configured token (a generated one is for loopback only)",
            "set MCP_DOCKER_HTTP_TOKEN_FILE, or the MCP_DOCKER_OAUTH_* settings.",
        )
    raw_body = env.get("MCP_DOCKER_HTTP_MAX_BODY_BYTES", "").strip() or str(1024 * 1024)
    if not raw_body.isdigit() or not 1024 <= int(raw_body) <= 64 * 1024 * 1024:
        raise ConfigError(
            "MCP_DOCKER_HTTP_MAX_BODY_BYTES", f"{raw_body!r} is not 1 KiB..64 MiB", "e.g. 1048576."
        )
    return HttpSettings(
        host=host,
        port=int(raw_port),
        path=path,
        token=token,
        allowed_hosts=_csv(env.get("MCP_DOCKER_ALLOWED_HOSTS")),
        allowed_origins=_csv(env.get("MCP_DOCKER_ALLOWED_ORIGINS")),
        max_body_bytes=int(raw_body),
        oauth=oauth,
    )


def _oauth(env: Mapping[str, str]) -> OAuthSettings | None:
    names = ("MCP_DOCKER_OAUTH_ISSUER", "MCP_DOCKER_OAUTH_AUDIENCE", "MCP_DOCKER_OAUTH_PUBLIC_KEY_FILE")
    given = {name: env.get(name, "").strip() for name in names}
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ConfigError(
            missing[0], "OAuth mode needs the issuer, the audience and the public key", "set all three."
        )
    issuer = given["MCP_DOCKER_OAUTH_ISSUER"]
    if not issuer.startswith(("https://", "http://")):
        raise ConfigError(
            "MCP_DOCKER_OAUTH_ISSUER", f"{issuer!r} is not a URL", "e.g. https://auth.example.com."
        )
    key_file = Path(given["MCP_DOCKER_OAUTH_PUBLIC_KEY_FILE"]).expanduser()
    try:
        key = key_file.read_text()
    except OSError as exc:
        raise ConfigError(
            "MCP_DOCKER_OAUTH_PUBLIC_KEY_FILE", f"cannot read {key_file} ({exc.strerror})", "check the path."
        ) from exc
    if "PUBLIC KEY" not in key:
        raise ConfigError(
            "MCP_DOCKER_OAUTH_PUBLIC_KEY_FILE", f"{key_file} holds no PEM public key", "use a PEM file."
        )
    return OAuthSettings(
        issuer=issuer,
        audience=given["MCP_DOCKER_OAUTH_AUDIENCE"],
        public_key=key,
        scopes=_csv(env.get("MCP_DOCKER_OAUTH_SCOPES")),
    )


def _token(env: Mapping[str, str]) -> str | None:
    if token := env.get("MCP_DOCKER_HTTP_TOKEN", "").strip():
        return token
    if path := env.get("MCP_DOCKER_HTTP_TOKEN_FILE", "").strip():
        try:
            token = Path(path).expanduser().read_text().strip()
        except OSError as exc:
            raise ConfigError(
                "MCP_DOCKER_HTTP_TOKEN_FILE",
                f"cannot read {path} ({exc.strerror})",
                "check the path.",
            ) from exc
        if not token:
            raise ConfigError("MCP_DOCKER_HTTP_TOKEN_FILE", f"{path} is empty", "write the token in it.")
        return token
    return None


def _publish_address(env: Mapping[str, str]) -> str:
    raw = env.get("MCP_DOCKER_PUBLISH_ADDRESS", "").strip() or "127.0.0.1"
    try:
        ipaddress.ip_address(raw)
    except ValueError as exc:
        raise ConfigError(
            "MCP_DOCKER_PUBLISH_ADDRESS",
            f"{raw!r} is not an IP address",
            "e.g. 127.0.0.1 or 0.0.0.0.",
        ) from exc
    return raw


# --------------------------------------------------------------------------- small parsers


def _megabytes(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) == 0:
        raise ConfigError(name, f"{raw!r} is not a positive number of MiB", f"e.g. {default}.")
    return int(raw) * 1024 * 1024


def _choice(
    env: Mapping[str, str],
    name: str,
    allowed: tuple[str, ...],
    default: str,
    *,
    upper: bool = False,
) -> str:
    raw = env.get(name, "").strip() or default
    value = raw.upper() if upper else raw.lower()
    if value not in allowed:
        raise ConfigError(name, f"{raw!r} is not one of {', '.join(allowed)}", f"e.g. {default}.")
    return value


def _csv(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())

"""Open a docker-py client for an :class:`EngineTarget` (unix socket, TCP, TLS or SSH)."""

from __future__ import annotations

import docker
import docker.errors
import docker.tls

from mcp_docker_server.config.settings import EngineTarget
from mcp_docker_server.engine.errors import translate_docker_errors, unreachable
from mcp_docker_server.errors import EngineAPIError

MIN_API_VERSION = "1.41"

__all__ = ["open_client", "pool_size"]


def pool_size(target: EngineTarget) -> int:
    """Concurrent engine connections: docker-py pools 10, and OpenSSH allows 10 sessions per
    connection, one of which the SSH transport itself holds."""
    return 9 if target.scheme == "ssh" else 10


def open_client(target: EngineTarget) -> docker.DockerClient:
    """Connect and agree on an API version (one request when the version is 'auto').

    Raises:
        EngineUnavailable: the engine cannot be reached or refuses the TLS/SSH handshake.
    """
    tls: docker.tls.TLSConfig | bool = False
    if target.tls is not None:
        files = target.tls
        tls = docker.tls.TLSConfig(
            client_cert=(str(files.cert), str(files.key)) if files.cert and files.key else None,
            ca_cert=str(files.ca) if files.ca else None,
            verify=files.verify,
        )
    base_url = target.host
    if target.tls is not None:
        base_url = target.host.replace("tcp://", "https://", 1)

    def make(version: str) -> docker.DockerClient:
        # An explicit version: docker-py's own 'auto' probes inside the constructor, before
        # the session below can be fixed.
        client = docker.DockerClient(
            base_url=base_url,
            version=version,
            timeout=max(1, round(target.timeout)),
            tls=tls,
            max_pool_size=pool_size(target),
        )
        if target.tls is not None:
            # requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override the session's CA, which
            # would verify the engine against the public CAs instead of DOCKER_CERT_PATH's.
            client.api.trust_env = False
        return client

    with translate_docker_errors(target.host, "engine"):
        if target.api_version != "auto":
            return make(target.api_version)
        probe = make(MIN_API_VERSION)
        try:
            server_version = str(probe.api.version(api_version=False)["ApiVersion"])
        except docker.errors.DockerException as exc:
            raise unreachable(target.host, _short(str(exc))) from exc
        finally:
            probe.close()
        if _tuple(server_version) < _tuple(MIN_API_VERSION):
            raise EngineAPIError(
                f"The engine at {target.host} speaks API {server_version}; this server needs "
                f"{MIN_API_VERSION} (Docker Engine 20.10) or newer.",
                hint="upgrade the Docker engine.",
            )
        return make(server_version)


def _tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _short(reason: str) -> str:
    for marker in ("No such file or directory", "Connection refused", "certificate verify failed"):
        if marker in reason:
            return marker
    return reason[:200]

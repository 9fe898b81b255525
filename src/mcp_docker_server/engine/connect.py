"""Open a docker-py client for an :class:`EngineTarget` (unix socket, TCP, TLS or SSH)."""

from __future__ import annotations

import docker
import docker.errors
import docker.tls

from mcp_docker_server.engine.errors import translate_docker_errors, unreachable
from mcp_docker_server.settings import EngineTarget

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
    with translate_docker_errors(target.host, "engine"):
        try:
            return docker.DockerClient(
                base_url=base_url,
                version=target.api_version,
                timeout=max(1, round(target.timeout)),
                tls=tls,
                max_pool_size=pool_size(target),
            )
        except docker.errors.DockerException as exc:
            # docker-py wraps connection failures of the version probe in a bare DockerException.
            cause = exc.__cause__ or exc.__context__
            reason = str(exc).removeprefix("Error while fetching server API version: ")
            raise unreachable(target.host, _short(reason if cause is None else str(cause))) from exc


def _short(reason: str) -> str:
    for marker in ("No such file or directory", "Connection refused", "certificate verify failed"):
        if marker in reason:
            return marker
    return reason[:200]

"""One translation boundary: docker-py, requests and paramiko failures become our errors."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from http import HTTPStatus

import docker.errors
import requests.exceptions

from mcp_docker_server.errors import (
    Conflict,
    DockerServerError,
    EngineAPIError,
    EngineUnavailable,
    NotFound,
)

__all__ = ["translate_docker_errors", "unreachable"]

_PORT_TAKEN = re.compile(r"port is already allocated|address already in use", re.IGNORECASE)


def unreachable(host: str, reason: str) -> EngineUnavailable:
    """The one wording for 'cannot reach the engine', with what to check."""
    if host.startswith("unix://") and "permission denied" in reason.lower():
        check = (
            "this process may not open the socket: run as a member of its group (`stat -c %g` on "
            "the socket; in a container, `--group-add <gid>`)"
        )
    elif host.startswith("unix://"):
        check = "is dockerd running and is the socket path right? (`docker version` tests it)"
    elif host.startswith("ssh://"):
        check = "can `ssh` reach the host with a key and a known host key, and is docker installed there?"
    else:
        check = (
            "is the engine listening there, and do the TLS settings "
            "(DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) match it?"
        )
    return EngineUnavailable(f"Docker engine unreachable at {host}: {reason}.", hint=check)


@contextlib.contextmanager
def translate_docker_errors(host: str, kind: str = "resource", ref: str | None = None) -> Iterator[None]:
    """Re-raise foreign failures as :mod:`mcp_docker_server.errors` types, chained.

    Raises:
        DockerServerError: every failure inside the block, translated.
    """
    try:
        yield
    except DockerServerError:
        raise
    except docker.errors.NotFound as exc:
        detail = _explain(exc)
        if ref and ref not in detail and "No such" not in detail:
            # Something the request names is missing (a network, a volume...), not the target.
            raise EngineAPIError(
                f"Not found: {detail}.", status=404, hint="check the names the request refers to."
            ) from exc
        raise NotFound(kind, ref or "?", detail) from exc
    except docker.errors.APIError as exc:
        raise api_error(exc, kind, ref) from exc
    except _connection_errors() as exc:
        raise unreachable(host, _reason(exc)) from exc
    except (requests.exceptions.Timeout, TimeoutError) as exc:
        raise unreachable(host, "it did not answer in time") from exc
    except docker.errors.DockerException as exc:
        raise EngineAPIError(_explain(exc)) from exc


def api_error(exc: docker.errors.APIError, kind: str, ref: str | None) -> DockerServerError:
    """Map an Engine API refusal by status code, keeping the daemon's own words."""
    detail = _explain(exc)
    if exc.status_code == HTTPStatus.CONFLICT:
        return Conflict(f"{kind.capitalize()} conflict: {detail}.", hint=_conflict_hint(detail))
    if _PORT_TAKEN.search(detail):
        return Conflict(
            f"A host port is already in use: {detail}.",
            hint="pick another host port, or omit it to let the engine choose a free one.",
        )
    if "could not select device driver" in detail:
        return EngineAPIError(
            f"The engine has no GPU runtime: {detail}.",
            status=exc.status_code,
            hint="install the NVIDIA Container Toolkit on the engine's host, or run without gpus.",
        )
    if "not a swarm manager" in detail or "not part of a swarm" in detail:
        return EngineAPIError(
            "This engine is not a swarm manager.",
            status=exc.status_code,
            hint="swarm-management action=init makes it a single-node swarm; or call a manager engine.",
        )
    status = exc.status_code or 0
    hint = "check the arguments against the error." if 400 <= status < 500 else None
    return EngineAPIError(f"The engine refused the request: {detail}.", status=status, hint=hint)


def _conflict_hint(detail: str) -> str:
    if "already in use" in detail:
        return "choose another name, or remove the existing container with manage-container."
    if "is running" in detail or "cannot remove" in detail.lower():
        return "stop it first, or pass force=true."
    if "is paused" in detail:
        return "unpause it first."
    return "check the resource's current state with inspect-container."


def _explain(exc: docker.errors.DockerException) -> str:
    explanation = getattr(exc, "explanation", None)
    text = explanation if isinstance(explanation, str) and explanation else str(exc)
    if isinstance(explanation, bytes):
        text = explanation.decode(errors="replace")
    return text.strip().rstrip(".")


def _reason(exc: BaseException) -> str:
    """The innermost useful cause: 'No such file or directory', 'Connection refused'..."""
    text = str(exc)
    for pattern in (
        r"\[Errno \d+\] ([^'\")]+)",
        # urllib3 wraps an OSError as its repr: ('Connection aborted.', FileNotFoundError(2, '...'))
        r"[A-Za-z]+Error\(\d+, '([^']+)'\)",
        r"(certificate verify failed[^'\")]*)",
        r"(SSL[^'\")]*)",
        r"(Authentication failed[^'\")]*)",
        r"(Server '[^']+' not found in known_hosts)",
    ):
        if match := re.search(pattern, text):
            return match[1].strip()
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return exc.strerror or exc.__class__.__name__
    return text[:200] or exc.__class__.__name__


def _connection_errors() -> tuple[type[Exception], ...]:
    """Failures to reach the engine; paramiko's only when it is loaded: without it no SSH
    connection exists to fail (a server with no ssh:// engine never loads it, see
    ``core.forgo_ssh``)."""
    paramiko = sys.modules.get("paramiko")
    ssh: tuple[type[Exception], ...] = (paramiko.SSHException,) if paramiko is not None else ()
    return (requests.exceptions.ConnectionError, ConnectionError, *ssh)

"""The one rule for host paths the server or the engine reads: bind sources, volume devices,
build contexts, Dockerfiles, compose files and the files they name, image-security targets.

Pure: the caller supplies the path resolver (the local filesystem for an engine on this
machine, lexical normalisation for one elsewhere).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.model import (
    HOME_STARTUP_FILES,
    PathInfo,
    PathResolver,
    Policy,
)

__all__ = [
    "check_bind_source",
    "check_host_path",
    "check_not_container_writable",
    "check_writers_listed",
    "lexical_resolver",
]

_SENSITIVE = "allow_sensitive_binds = true"


def lexical_resolver(path: str) -> PathInfo:
    """Normalise without touching a filesystem (for engines on another host, where symlinks
    cannot be followed from here)."""
    normal = _normal(path)
    return PathInfo(real_path=normal, is_socket=normal.endswith(".sock"))


def check_bind_source(policy: Policy, source: str, resolve: PathResolver) -> str:
    """:func:`check_host_path` for the source of a bind mount. Returns the resolved path.

    Raises:
        PolicyDenied: naming the rule, the path and the policy key.
    """
    return check_host_path(policy, source, resolve, purpose="bind source")


def check_not_container_writable(
    policy: Policy,
    path: str,
    writable: Iterable[tuple[str, str]],
    *,
    purpose: str,
    inside_only: bool = True,
) -> None:
    """Refuse a host path that lies inside a folder a container can write (``writable``:
    resolved bind sources mounted read-write, each with the container's name). The engine, or
    Compose, reads the path later (a bind at every start and restart, a watched folder at every
    sync, a secret at build time), following links as it goes; the container can replace part
    of it with a link to anywhere on the host in the meantime. ``inside_only``: the path may be
    such a folder itself (a bind of the same folder: the container cannot replace the folder
    itself), else that too is refused (a watched folder: a link made in it is followed).

    Raises:
        PolicyDenied: naming the path, the folder and the container, and ``allow_nested_binds``.
    """
    if policy.allow_nested_binds:
        return
    for folder, container in writable:
        inside = path.startswith(folder.rstrip("/") + "/") or folder == "/"
        if inside or (not inside_only and path == folder):
            raise PolicyDenied(
                "nested-bind",
                f"{purpose} {path} lies in {folder}, which container {container} can write: it "
                "could replace part of the path with a link to anywhere on the host before it is read",
                hint="use a folder no container mounts read-write (or mount that folder read-only).",
                setting="allow_nested_binds = true",
            )


def check_writers_listed(policy: Policy, path: str, unlisted: Iterable[str], *, purpose: str) -> None:
    """Refuse a host path :func:`check_not_container_writable` cannot clear: ``unlisted`` are the
    engines of the same host whose containers could not be listed (each with the reason), and
    any of them may run a container that writes a folder around the path (an engine that does
    not answer may still run containers). Fail closed: the refusal names the engine and what
    opens it.

    Raises:
        PolicyDenied: rule ``nested-bind``, naming the path, the engines and ``allow_nested_binds``.
    """
    missing = list(unlisted)
    if policy.allow_nested_binds or not missing:
        return
    raise PolicyDenied(
        "nested-bind",
        f"{purpose} {path} cannot be judged: the containers of {'; '.join(missing)} on this host "
        "could not be listed, and one of them may write a folder around it (and could replace part "
        "of the path with a link to anywhere on the host before it is read)",
        hint="bring that engine back (or remove it from the engines file), then call again.",
        setting="allow_nested_binds = true",
    )


def check_host_path(
    policy: Policy, path: str, resolve: PathResolver, *, purpose: str, mounted: bool = True
) -> str:
    """Refuse a host path that would hand out the host, its credentials or the server itself.

    ``path`` is absolute (a relative one is taken from ``/``: make it absolute first). ``purpose``
    says what the path is for ("bind source", "build context", "Dockerfile", "env_file"...), for
    the message. Both the path as written (normalised) and its resolved real path are judged,
    case-insensitively, so neither a symlink nor a spelling can dodge the rule: sockets; the
    operator's ``sensitive_paths`` (the path is one, lies under one, or contains one);
    credential folders and files anywhere (``credential_dirs``); a home folder itself and the
    shell start-up files in it; this server's own configuration (``protected_paths``); the
    engine's data root; and, when set, ``allowed_bind_roots`` (judged on the real path).

    ``mounted``: the path is mounted into a container (a bind, a secret or config file), where
    a socket anywhere inside a folder is handed over too; false for what is only read here (a
    build context, whose sockets are never sent).

    Returns:
        The resolved real path: hand that, not the path as written, to whatever reads it, so a
        symlink swapped after the check changes nothing.

    Raises:
        PolicyDenied: naming the rule, the path and the policy key that would allow it.
    """
    info = resolve(path)
    real = info.real_path
    written = _normal(path)
    shown = path if real == written else f"{path} (resolves to {real})"
    label = f"{purpose} {shown}"
    if info.error is not None:
        if not policy.allow_sensitive_binds:
            _check_sensitive(policy, written.lower(), label)
        raise PolicyDenied(
            "unresolvable-path",
            f"{label} cannot be resolved on this host ({info.error}), so what it names cannot be judged",
            hint="use a plain path to a project or data folder.",
        )
    if (info.is_socket or real.lower().endswith(".sock")) and not policy.allow_socket_binds:
        raise PolicyDenied(
            "socket-bind",
            f"{label} is a socket, which would hand over control of that daemon",
            hint="use a folder with the data that is needed instead.",
            setting="allow_socket_binds = true",
        )
    if not policy.allow_sensitive_binds:
        for candidate in dict.fromkeys((real, written)):
            _check_sensitive(policy, candidate.lower(), label)
    if mounted and info.holds_socket and not policy.allow_socket_binds:
        raise PolicyDenied(
            "socket-bind",
            f"{label} holds the socket {info.holds_socket}, which would hand over control of that daemon",
            hint="use a folder with only the data that is needed.",
            setting="allow_socket_binds = true",
        )
    if policy.allowed_bind_roots and not any(_within(real, r) for r in policy.allowed_bind_roots):
        raise PolicyDenied(
            "bind-root",
            f"{label} is outside the allowed roots ({', '.join(policy.allowed_bind_roots)})",
            hint="use a path under one of them.",
            setting="allowed_bind_roots",
        )
    return real


def _check_sensitive(policy: Policy, folded: str, label: str) -> None:
    for sensitive in policy.sensitive_paths:
        if _exposes(folded, sensitive.lower()):
            raise PolicyDenied(
                "sensitive-bind",
                f"{label} is or contains the host's {sensitive}",
                hint="use a project or data folder instead.",
                setting=_SENSITIVE,
            )
    parts = folded.strip("/").split("/")
    for cred in sorted(policy.credential_dirs):
        # The loader may hand these over in another case: compare folded, like the path.
        cred_parts = cred.lower().strip("/").split("/")
        if any(parts[i : i + len(cred_parts)] == cred_parts for i in range(len(parts))):
            raise PolicyDenied(
                "credential-bind",
                f"{label} is a credential folder or file ({cred})",
                hint="pass the one secret that is needed another way.",
                setting=_SENSITIVE,
            )
    if len(parts) <= 2 and parts[0] == "home":
        raise PolicyDenied(
            "home-folder",
            f"{label} is or contains a home folder, with its credentials and shell start-up files",
            hint="use a project folder inside it instead.",
            setting=_SENSITIVE,
        )
    if len(parts) >= 3 and parts[0] == "home":
        inner = "/".join(parts[2:])
        for startup in HOME_STARTUP_FILES:
            if _within(inner, startup):
                raise PolicyDenied(
                    "startup-file",
                    f"{label} is {startup} in a home folder, which runs code at the next login",
                    hint="use a project folder instead.",
                    setting=_SENSITIVE,
                )
    for protected in policy.protected_paths:
        if _exposes(folded, _normal(protected).lower()):
            raise PolicyDenied(
                "server-file",
                f"{label} is or contains {protected}, part of this server's own configuration",
                hint="use a folder that holds none of the server's settings, tokens or keys.",
                setting=_SENSITIVE,
            )
    if policy.engine_data_root and _exposes(folded, _normal(policy.engine_data_root).lower()):
        raise PolicyDenied(
            "engine-data-root",
            f"{label} is or contains the engine's data root {policy.engine_data_root}, "
            "which holds every container's and image's files",
            hint="use a project or data folder instead.",
            setting=_SENSITIVE,
        )


def _normal(path: str) -> str:
    """The path as written, made absolute and normalised (``..``, doubled and trailing slashes)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def _exposes(path: str, sensitive: str) -> bool:
    """``path`` is ``sensitive``, lies under it, or contains it ("/" contains everything)."""
    if sensitive == "/":
        return path == "/"
    return _within(path, sensitive) or _within(sensitive, path)


def _within(path: str, root: str) -> bool:
    """True when ``path`` is ``root`` or below it."""
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/") or not root

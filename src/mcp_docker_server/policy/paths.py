"""Host path checks for bind mounts (pure; the caller supplies the path resolver)."""

from __future__ import annotations

import posixpath

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy.model import PathInfo, PathResolver, Policy

__all__ = ["check_bind_source", "lexical_resolver"]


def lexical_resolver(path: str) -> PathInfo:
    """Normalise without touching a filesystem (for engines on another host, where symlinks
    cannot be followed from here)."""
    normal = posixpath.normpath("/" + path.lstrip("/"))
    return PathInfo(real_path=normal, is_socket=normal.endswith(".sock"))


def check_bind_source(policy: Policy, source: str, resolve: PathResolver) -> None:
    """Refuse a bind of a sensitive host path, a socket, or a path outside the allowed roots.

    Defense in depth: the check runs on the resolved real path (symlinks, ``..``, doubled and
    trailing slashes) and compares case-insensitively, so spelling cannot dodge it.

    Raises:
        PolicyDenied: naming the rule and the path.
    """
    info = resolve(source)
    real = info.real_path
    folded = real.lower()
    shown = source if source == real else f"{source} (resolves to {real})"
    if (info.is_socket or folded.endswith(".sock")) and not policy.allow_socket_binds:
        raise PolicyDenied(
            "socket-bind",
            f"binding the socket {shown} would hand the container control of that daemon",
            hint="mount a folder with the data the container needs instead.",
            setting="allow_socket_binds = true",
        )
    if policy.allow_sensitive_binds:
        return
    for sensitive in policy.sensitive_paths:
        exposed = (
            folded == "/" if sensitive == "/" else (_within(folded, sensitive) or _within(sensitive, folded))
        )
        if exposed:
            raise PolicyDenied(
                "sensitive-bind",
                f"{shown} is or contains the host's {sensitive}",
                hint="mount a project or data folder instead.",
                setting="allow_sensitive_binds = true",
            )
    parts = folded.strip("/").split("/")
    for cred in policy.credential_dirs:
        cred_parts = cred.split("/")
        if any(parts[i : i + len(cred_parts)] == cred_parts for i in range(len(parts))):
            raise PolicyDenied(
                "credential-bind",
                f"{shown} is a credential folder ({cred})",
                hint="pass the one secret the container needs another way.",
                setting="allow_sensitive_binds = true",
            )
    if policy.allowed_bind_roots and not any(_within(real, r) for r in policy.allowed_bind_roots):
        raise PolicyDenied(
            "bind-root",
            f"{shown} is outside the allowed bind roots ({', '.join(policy.allowed_bind_roots)})",
            hint="use a path under one of them.",
            setting="allowed_bind_roots",
        )


def _within(path: str, root: str) -> bool:
    """True when ``path`` is ``root`` or below it."""
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/") or not root

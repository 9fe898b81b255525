"""Audit records: one per tool call to stderr (names only), and one JSON line per mutating call
to the operator's audit file. Secret values never reach either."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mcp_docker_server.results.shaping import redact_secrets, secret_field, truncate

__all__ = ["AuditLog", "argument_shape"]

logger = logging.getLogger("mcp_docker_server.tools.audit")

# Values of these arguments are never written, at any depth, only their keys (or that they
# were given): environments, build arguments and secrets hold values by design.
_SECRET_ARGS = frozenset(
    {"auth", "environment", "env", "build_args", "password", "token", "secrets", "identitytoken"}
)
_TARGET_ARGS = ("container_id", "image", "name", "compose_file", "path", "tag")
_SKIP = frozenset({"ctx", "confirmation"})


def argument_shape(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments with secret values removed and long values cut: the value of an
    environment, build-argument or secret field (by name, at any depth) is never written, only
    its keys; other strings are redacted as results are."""
    return {str(k): _plain(v, str(k)) for k, v in arguments.items() if k not in _SKIP and v is not None}


def _plain(value: Any, key: str = "") -> Any:
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if key in _SECRET_ARGS or secret_field(key):
        return sorted(str(k) for k in value) if isinstance(value, Mapping) else "***"
    if isinstance(value, str):
        return truncate(redact_secrets(value), 200)[0]
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v, str(k)) for k, v in list(value.items())[:20]}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in list(value)[:20]]
    return type(value).__name__


class AuditLog:
    """Where audit records go."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        decision: str,
        outcome: str,
        started: float,
        mutating: bool,
    ) -> None:
        """Log the call; append it to the audit file when it could change state."""
        elapsed = int((time.monotonic() - started) * 1000)
        names = sorted(k for k, v in arguments.items() if v is not None and k not in _SKIP)
        logger.info("tool=%s args=%s decision=%s outcome=%s ms=%d", tool, names, decision, outcome, elapsed)
        if not self.path or not mutating:
            return
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "tool": tool,
            "action": arguments.get("action"),
            "target": next((_plain(arguments[k]) for k in _TARGET_ARGS if arguments.get(k)), None),
            "args": argument_shape(arguments),
            "decision": decision,
            "outcome": outcome,
            "ms": elapsed,
        }
        line = json.dumps(entry, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

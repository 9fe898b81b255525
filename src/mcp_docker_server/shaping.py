"""Output shaping: bounded, cleaned, redacted text for the model. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "BoundedTail",
    "clean_text",
    "format_ports",
    "health_from_status",
    "mask_env",
    "redact_secrets",
    "short_id",
    "status_without_health",
    "truncate",
]

# CSI/OSC escape sequences and C0/C1 controls except tab and newline: they can hide text from a
# human reviewer or smuggle terminal commands, and they cost tokens.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|access[_-]?key|"
    r"session|cookie|signature|salt|dsn|connection[_-]?string",
    re.IGNORECASE,
)
# Strings that are secrets whatever field they sit in: private keys, cloud and forge tokens,
# JWTs, and `password=...`-style assignments. A match is replaced, never shown. The leading
# lookahead names every alternative's possible first character: positions that cannot start a
# match are skipped at once, which makes redaction of long logs several times faster.
_SECRET_VALUE = re.compile(
    r"(?=[-AaPpSsTtegx\u017f])(?:"  # \u017f: long s, which (?i) matches as s
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b"
    r"|\bgithub_pat_[A-Za-z0-9_]{40,}\b"
    r"|\bglpat-[A-Za-z0-9_-]{20,}\b"
    r"|\bxox[baprs]-[A-Za-z0-9-]{10,}\b"
    r"|\bsk-[A-Za-z0-9_-]{20,}\b"
    r"|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    r"|\bSWMTKN-1-[a-z0-9-]{20,}"
    r"|(?i:(?:password|passwd|secret|token|api[_-]?key)\s*[=:]\s*)[^\s'\"]{4,}"
    r")"
)
_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def short_id(identifier: str) -> str:
    """The 12-digit form the docker CLI shows."""
    return identifier.removeprefix("sha256:")[:12]


def clean_text(text: str) -> str:
    """Drop terminal escapes and control characters, and redact secret-looking strings;
    keep tabs and newlines. Everything read from Docker passes through here."""
    text = text.replace("\r\n", "\n")
    return redact_secrets(_CONTROL.sub("", _ANSI.sub("", text)))


def redact_secrets(text: str) -> str:
    """Replace secret-looking strings (keys, tokens, private-key blocks) with a marker."""
    return _SECRET_VALUE.sub(_redacted, text)


def _redacted(match: re.Match[str]) -> str:
    found = match.group(0)
    assignment = re.match(r"(?i)((?:password|passwd|secret|token|api[_-]?key)\s*[=:]\s*)", found)
    return (assignment.group(1) if assignment else "") + "[redacted]"


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text, False
    return text[: max(limit - 1, 0)] + "…", True


def mask_env(pairs: Iterable[str], *, show_values: bool) -> dict[str, str]:
    """``KEY=value`` pairs to a dict; values hidden unless asked, secret-like keys always."""
    env: dict[str, str] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if not show_values or _SECRET_KEY.search(key):
            env[key] = "***"
        else:
            env[key] = truncate(clean_text(value), 200)[0]
    return env


def format_ports(ports: Iterable[Mapping[str, object]]) -> list[str]:
    """Engine port rows (``/containers/json``) to ``127.0.0.1:8080->80/tcp`` strings."""
    out: list[str] = []
    for port in ports:
        private = f"{port.get('PrivatePort')}/{port.get('Type', 'tcp')}"
        if port.get("PublicPort"):
            ip = str(port.get("IP") or "0.0.0.0")  # noqa: S104 - a label, not a bind
            host = f"[{ip}]" if ":" in ip else ip
            row = f"{host}:{port['PublicPort']}->{private}"
        else:
            row = private
        if row not in out:
            out.append(row)
    return out


def health_from_status(status: str) -> str | None:
    """Health as the engine's status text reports it (no extra request per container)."""
    match = _HEALTH.search(status)
    if not match:
        return None
    return "starting" if match[1] == "health: starting" else match[1]


def status_without_health(status: str) -> str:
    """``Up 5 minutes (healthy)`` as ``Up 5 minutes``: rows carry health in a field of its own."""
    return _HEALTH.sub("", status).strip()


class BoundedTail:
    """Keeps the last ``max_bytes`` of a byte stream, never much more in memory."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._chunks: list[bytes] = []
        self._size = 0
        self.dropped = False

    def add(self, chunk: bytes) -> None:
        """Append a chunk, dropping the oldest bytes beyond the budget."""
        self._chunks.append(chunk)
        self._size += len(chunk)
        if self._size > 2 * self.max_bytes:
            self._compact()

    def _compact(self) -> None:
        joined = b"".join(self._chunks)
        if len(joined) > self.max_bytes:
            joined = joined[-self.max_bytes :]
            self.dropped = True
        self._chunks = [joined]
        self._size = len(joined)

    def text(self) -> str:
        """The kept bytes as clean text, starting at a line boundary when anything was dropped."""
        self._compact()
        joined = b"".join(self._chunks)
        if self.dropped and b"\n" in joined:
            joined = joined[joined.index(b"\n") + 1 :]
        return clean_text(joined.decode("utf-8", errors="replace"))


def format_bound_ports(bindings: Mapping[str, object] | None) -> list[str]:
    """Inspect's ``NetworkSettings.Ports`` to ``127.0.0.1:8080->80/tcp`` strings."""
    out: list[str] = []
    for private, hosts in (bindings or {}).items():
        if not isinstance(hosts, list) or not hosts:
            out.append(private)
            continue
        for host in hosts:
            if isinstance(host, Mapping):
                ip = str(host.get("HostIp") or "0.0.0.0")  # noqa: S104 - a label, not a bind
                shown = f"[{ip}]" if ":" in ip else ip
                row = f"{shown}:{host.get('HostPort')}->{private}"
                if row not in out:
                    out.append(row)
    return out


def human_size(size: int) -> str:
    """Bytes the way people read them: 0 B, 512 B, 1.5 KB, 23 MB, 1.2 GB (decimal, like docker)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 999.5 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.3g} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def clean_labels(labels: object, limit: int | None = None) -> dict[str, str]:
    """Labels read from Docker as data: values cleaned and cut to 200 characters, at most
    ``limit`` of them."""
    if not isinstance(labels, Mapping):
        return {}
    items = list(labels.items())[:limit]
    return {str(k): truncate(clean_text(str(v)), 200)[0] for k, v in items}

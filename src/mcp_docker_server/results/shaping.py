"""Output shaping: bounded, cleaned, redacted text for the model. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import TypeVar, cast

__all__ = [
    "CUT_MARKER",
    "BoundedTail",
    "clean_text",
    "final_states",
    "format_ports",
    "health_from_status",
    "mask_env",
    "newest",
    "plain_text",
    "redact_data",
    "redact_secrets",
    "secret_field",
    "short_id",
    "status_without_health",
    "truncate",
]

# CSI/OSC escape sequences and C0/C1 controls except tab and newline: they can hide text from a
# human reviewer or smuggle terminal commands, and they cost tokens.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
J = TypeVar("J")  # JSON-like data: redact_data gives back the same shape
_MASKS = frozenset({"", "***", "[redacted]"})  # values that are already no secret
_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|access[_-]?key|"
    r"session|cookie|signature|salt|dsn|connection[_-]?string",
    re.IGNORECASE,
)
# Words that make the value after them a secret: `password=...`, `"token": "..."`, `--secret x`.
_SECRET_WORD = (
    r"pass(?:word|wd)|pwd|credentials?|secret|token|api[_-]?key|access[_-]?key|account[_-]?key"  # noqa: S105
    r"|private[_-]?key"
)
# Strings that are secrets whatever field they sit in. Alternatives that keep a prefix (the key
# of an assignment, the scheme of a header, a URL's user) capture it in their only group, and
# the value after it is replaced; the others are replaced whole. A match is never shown.
# The leading lookahead names every alternative's possible first two characters: positions that
# cannot start a match are skipped at once, which makes redaction of long logs several times
# faster. Keep it in step with the alternatives (a unit test checks every kind). \u017f (long
# s) and \u212a (Kelvin sign) are what (?i) also matches as s and k.
_SECRET_VALUE = re.compile(
    r"(?=-[-\w]|[\"'][\w.-]|://|[Aa][CcPpUuKkSsIi\u212a]|[Bb][Ee]|[Cc][Rr]|[Pp][AaRrWw]|[Ss\u017f][EeKkWwIi\u212a]"
    r"|[Tt][Oo]|ey|g[hil]|xo)(?:"
    # PEM private keys (PKCS#1/#8, OpenSSH, encrypted, PGP), up to their end or the text's.
    r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
    r"(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)"
    # A JSON or Python string under a secret-named key, up to its closing quote (which stays).
    rf"|([\"'][\w.-]*(?i:{_SECRET_WORD}|auth(?!or))[\w.-]*[\"'][ \t]*:[ \t]*(?P<q>[\"']))"
    r"(?:(?!(?P=q))[^\\\n]|\\.)+(?=(?P=q))"
    # HTTP authorization, with or without its header name.
    r"|((?i:authorization)[ \t]*[=:][ \t]*(?:(?i:bearer|basic|token|digest)[ \t]+)?)[^\s'\",]+"
    r"|((?i:bearer)[ \t]+)[A-Za-z0-9._~+/=-]{16,}"
    # Credentials in a URL: scheme://user:password@host keeps the user.
    r"|(://[^\s/:@'\"]*:)[^\s/@'\"]+(?=@)"
    # Cloud and forge tokens.
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bAIza[0-9A-Za-z_-]{35}"
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b"
    r"|\bgithub_pat_[A-Za-z0-9_]{40,}\b"
    r"|\bglpat-[A-Za-z0-9_-]{20,}\b"
    r"|\bxox[baprs]-[A-Za-z0-9-]{10,}\b"
    r"|\bsk-[A-Za-z0-9_-]{20,}\b"
    r"|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    r"|\bSWMTKN-1-[a-z0-9-]{20,}"
    # Azure SAS signatures.
    r"|(\bsig=)[A-Za-z0-9%+/=]{16,}"
    # Command-line flags and assignments: --password x, password=x, AccountKey=x, TOKEN: "x".
    rf"|(--?(?i:{_SECRET_WORD})[ \t]+)[^\s'\"-][^\s'\"]*"
    rf"|((?i:{_SECRET_WORD})[\w.-]*[ \t]*[=:][ \t]*)(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s'\"]{{2,}})"
    r")"
)
# A key whose string value is a secret, whatever it looks like: `password`, `db.password`,
# `SecretAccessKey` and `AWS_SECRET_ACCESS_KEY` end with a secret word; `password_policy` does not.
_SECRET_FIELD = re.compile(rf"(?:{_SECRET_WORD}|auth|credentials?)$", re.IGNORECASE)
_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
# A line's states before its last carriage return (one followed by more text on the same line).
# Anchored at line starts: one linear attempt per line, however long the line.
_REWRITTEN = re.compile(r"(?m)^[^\n]*\r+(?=[^\r\n])")
# Marks the start of a line cut to fit a byte budget (its older part is not shown).
CUT_MARKER = "[…] "


def short_id(identifier: str) -> str:
    """The 12-digit form the docker CLI shows."""
    return identifier.removeprefix("sha256:")[:12]


def clean_text(text: str) -> str:
    """Drop terminal escapes and control characters, and redact secret-looking strings;
    keep tabs and newlines. Everything read from Docker passes through here."""
    return redact_secrets(_CONTROL.sub("", _ANSI.sub("", final_states(text))))


def final_states(text: str) -> str:
    """Line ends normalised (``\\r\\n`` as ``\\n``), and each line rewritten with carriage returns
    (a progress bar, a TTY's spinner) reduced to the state a terminal ends up showing: what
    follows its last ``\\r``. The states are never run together."""
    if "\r" not in text:
        return text
    return _REWRITTEN.sub("", text.replace("\r\n", "\n"))


def plain_text(text: str) -> str:
    """The text as a reader sees it (final line states, no escapes or controls), unredacted:
    what a search matches against."""
    return _CONTROL.sub("", _ANSI.sub("", final_states(text)))


def redact_secrets(text: str) -> str:
    """Replace secret-looking strings with ``[redacted]``: private keys, cloud (AWS, GCP, Azure)
    and forge tokens, JWTs, swarm join tokens, ``Authorization`` values, URL passwords, and the
    values of secret-named keys in assignments, flags, JSON and YAML (the key is kept)."""
    return _SECRET_VALUE.sub(_redacted, text)


def _redacted(match: re.Match[str]) -> str:
    kept = next((group for group in match.groups() if group), "")
    return kept + "[redacted]"


def secret_field(name: str) -> bool:
    """Whether a field (a key, an argument, a label) of this name holds a secret value:
    ``password``, ``db.token``, ``AWS_SECRET_ACCESS_KEY``, ``auth``..."""
    return bool(_SECRET_FIELD.search(name))


def redact_data(data: J, keep: Collection[str] = ()) -> J:
    """``data`` (JSON-like: dicts, lists, strings, numbers) with every string redacted as by
    :func:`redact_secrets`, and the string value of a secret-named key (``password``,
    ``db.token``...) replaced whole. Keys in ``keep`` are passed through unchanged (for
    values the operator chose to show). Returns new containers; ``data`` is not changed."""
    memo: dict[str, str] = {}

    def text(value: str) -> str:
        found = memo.get(value)
        if found is None:
            found = memo[value] = redact_secrets(value)
        return found

    def field(key: str, value: object) -> object:
        if key in keep:
            return value
        if isinstance(value, str) and value not in _MASKS and secret_field(key):
            return "[redacted]"
        return walk(value)

    def walk(node: object) -> object:
        if isinstance(node, str):
            return text(node)
        if isinstance(node, dict):
            return {key: field(str(key), value) for key, value in node.items()}
        if isinstance(node, list | tuple):
            return [walk(item) for item in node]
        return node

    return cast(J, walk(data))


def truncate(text: str, limit: int) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text, False
    return text[: max(limit - 1, 0)] + "…", True


def newest(text: str, limit: int) -> str:
    """The last ``limit`` characters of output (its newest part), after :data:`CUT_MARKER`
    when older text was cut: the end of a failing step's output is what explains it."""
    if len(text) <= limit:
        return text
    return CUT_MARKER + text[len(text) - limit :]


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
        self.cut_line = False

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
        """The kept bytes as clean text (for the model). When older bytes were dropped: whole
        newer lines when they fill at least half the budget (the cut line goes); otherwise the
        text starts with :data:`CUT_MARKER` and keeps every newest byte the budget holds, the cut
        line's end included, and :attr:`cut_line` says so. A bounded result is never empty, nor
        mostly unused, because a line was long."""
        return clean_text(self._kept())

    def raw(self) -> str:
        """The kept bytes as they came (decoded, nothing removed or redacted): for output a
        program reads, such as Compose's ``config --format json``."""
        self._compact()
        return b"".join(self._chunks).decode("utf-8", errors="replace")

    def _kept(self) -> str:
        self._compact()
        joined = b"".join(self._chunks)
        self.cut_line = False
        if not self.dropped:
            return joined.decode("utf-8", errors="replace")
        _, newline, rest = joined.partition(b"\n")
        if newline and rest.strip() and len(rest) >= self.max_bytes // 2:
            # Whole newer lines fill most of the budget: the cut line goes.
            return rest.decode("utf-8", errors="replace")
        # A cut may land inside a UTF-8 character: skip its continuation bytes.
        start = 0
        while start < min(len(joined), 3) and 0x80 <= joined[start] < 0xC0:
            start += 1
        self.cut_line = not joined[start:].startswith(b"\n")
        return CUT_MARKER + joined[start:].decode("utf-8", errors="replace")


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

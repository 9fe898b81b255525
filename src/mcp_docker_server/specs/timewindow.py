"""Times the model gives ('10m' ago, unix seconds, ISO 8601), and bounded event windows."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mcp_docker_server.errors import InvalidArgument

__all__ = ["MAX_WINDOW_SECONDS", "event_window", "parse_moment"]

MAX_WINDOW_SECONDS = 24 * 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RELATIVE = re.compile(r"(\d{1,6})\s*([smhd])")


def event_window(since: str | None, until: str | None, now: float) -> tuple[int, int]:
    """Unix seconds [since, until] for an events query: since defaults to 10 minutes ago, until
    to now; until never lies ahead (the engine's stream would stay open), and the window is
    at most a day.

    Raises:
        InvalidArgument: an unreadable time, since after until, or a window over a day.
    """
    end = min(parse_moment(until, now, "until") if until else now, now)
    start = parse_moment(since, now, "since") if since else now - 600
    if start > end:
        raise InvalidArgument("since is after until", hint="e.g. since='1h', until='10m'.")
    if end - start > MAX_WINDOW_SECONDS:
        raise InvalidArgument(
            f"the window is {int(end - start)} s; at most {MAX_WINDOW_SECONDS} s (a day) is read at once",
            hint="narrow since/until, or add filters and page through the day.",
        )
    return int(start), int(end) + 1


def parse_moment(value: str, now: float, name: str) -> float:
    """Unix seconds for a duration ago (``30s``, ``10m``, ``2h``, ``1d``), unix seconds, or an
    ISO 8601 time (UTC when it names no zone).

    Raises:
        InvalidArgument: none of those.
    """
    text = value.strip()
    if match := _RELATIVE.fullmatch(text):
        return now - int(match[1]) * _UNITS[match[2]]
    if re.fullmatch(r"\d{1,12}(\.\d+)?", text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(
            f"Invalid {name} {value[:40]!r}: not a time",
            hint="use a duration ago ('30s', '10m', '2h', '1d'), unix seconds, or 2026-01-31T12:00:00Z.",
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

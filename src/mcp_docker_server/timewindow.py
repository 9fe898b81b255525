"""Time windows for engine events: relative ("10m"), unix seconds, or ISO 8601, bounded."""

from __future__ import annotations

import re
from datetime import datetime

from mcp_docker_server.errors import InvalidArgument

__all__ = ["MAX_WINDOW_SECONDS", "event_window"]

MAX_WINDOW_SECONDS = 24 * 3600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RELATIVE = re.compile(r"(\d{1,6})([smhd])")


def event_window(since: str | None, until: str | None, now: float) -> tuple[int, int]:
    """Unix seconds [since, until] for an events query: since defaults to 10 minutes ago, until
    to now; until never lies ahead (the engine's stream would stay open), and the window is
    at most a day.

    Raises:
        InvalidArgument: an unreadable time, since after until, or a window over a day.
    """
    end = min(_parse(until, now, "until") if until else now, now)
    start = _parse(since, now, "since") if since else now - 600
    if start > end:
        raise InvalidArgument("since is after until", hint="e.g. since='1h', until='10m'.")
    if end - start > MAX_WINDOW_SECONDS:
        raise InvalidArgument(
            f"the window is {int(end - start)} s; at most {MAX_WINDOW_SECONDS} s (a day) is read at once",
            hint="narrow since/until, or add filters and page through the day.",
        )
    return int(start), int(end) + 1


def _parse(value: str, now: float, name: str) -> float:
    text = value.strip()
    if match := _RELATIVE.fullmatch(text):
        return now - int(match[1]) * _UNITS[match[2]]
    if re.fullmatch(r"\d{9,11}(\.\d+)?", text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(
            f"{name}={value[:40]!r} is not a time",
            hint="use a duration ago such as '30s', '10m', '2h', '1d', unix seconds, or ISO 8601.",
        ) from None
    if moment.tzinfo is None:
        raise InvalidArgument(
            f"{name}={value[:40]!r} has no time zone", hint="add 'Z' or an offset such as '+01:00'."
        )
    return moment.timestamp()

"""Reading container and service logs: one engine request, read in bulk, bounded.

docker-py's ``logs()`` first inspects the container (to learn about its TTY), then reads the
body one frame at a time: two requests, and two small reads per log line. Here the body is
read 64 KiB at a time and unframed by ``streamframes``, which needs no inspect.

A read is bounded by bytes (and, for a search, by time); :class:`LogScan` records what it
covered so a result can say exactly what was read or searched.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import quote

import docker
import docker.errors
import regex
import requests

from mcp_docker_server.engine.streamframes import FrameDecoder, framing_from_content_type
from mcp_docker_server.errors import InvalidArgument
from mcp_docker_server.results import shaping

__all__ = ["GREP_SECONDS", "LOG_SCAN_LIMIT", "BoundedLogs", "LogScan", "log_params", "read_logs"]

# Reading stops after this many bytes from the engine, whatever tail says: a bound on time and
# memory for containers with enormous lines.
LOG_SCAN_LIMIT = 64 * 1024 * 1024
# A grep pattern's time on one line: past it, the pattern backtracks without end.
GREP_LINE_SECONDS = 1.0
# A search (grep) reads the whole log from its start, and stops after this many seconds.
GREP_SECONDS = 10.0
_READ_SIZE = 64 * 1024
# The engine's RFC 3339 timestamp (timestamps=1) that starts each line.
_TIMESTAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)) ")


@dataclass
class LogScan:
    """What a read of the logs covered."""

    bytes_read: int = 0
    stopped_by: str | None = None  # "bytes" or "time" when a limit ended the read early

    @property
    def complete(self) -> bool:
        return self.stopped_by is None


def log_params(
    tail: int | str, *, timestamps: bool = False, since: float | None = None, until: float | None = None
) -> dict[str, str | int | float]:
    """Query parameters of a non-following logs request for both streams (tail: a count or "all")."""
    params: dict[str, str | int | float] = {
        "stdout": 1,
        "stderr": 1,
        "follow": 0,
        "tail": str(tail),
        "timestamps": int(timestamps),
    }
    if since is not None:
        params["since"] = since
    if until is not None:
        params["until"] = until
    return params


def read_logs(
    api: docker.APIClient,
    kind: str,
    ref: str,
    params: Mapping[str, str | int | float],
    *,
    scan: LogScan | None = None,
    limit: int = LOG_SCAN_LIMIT,
    seconds: float | None = None,
) -> Iterator[bytes]:
    """Payload bytes of ``GET /{kind}/{ref}/logs`` (kind: containers or services), unframed,
    until the log ends, ``limit`` bytes were read or ``seconds`` passed (``scan`` says which).

    Raises:
        docker.errors.APIError: the engine refused (NotFound for an unknown container).
    """
    scan = scan if scan is not None else LogScan()
    deadline = None if seconds is None else time.monotonic() + seconds
    url = f"{api.base_url}/v{api.api_version}/{kind}/{quote(ref, safe='')}/logs"
    response = api.get(url, params=dict(params), stream=True, timeout=api.timeout)
    try:
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as exc:
            raise docker.errors.create_api_error_from_http_exception(exc) from None
        decoder = FrameDecoder(framing_from_content_type(response.headers.get("Content-Type")))
        while data := response.raw.read(_READ_SIZE):
            scan.bytes_read += len(data)
            if payload := decoder.feed(data):
                yield payload
            if scan.bytes_read >= limit:
                scan.stopped_by = "bytes"
                break
            if deadline is not None and time.monotonic() >= deadline:
                scan.stopped_by = "time"
                break
        if rest := decoder.finish():
            yield rest
    finally:
        response.close()


class BoundedLogs:
    """The newest ``max_bytes`` of log payloads; with ``pattern``, only the newest ``keep``
    lines that match it (matched on the line as a reader sees it: line ends normalised, a
    carriage-return rewrite reduced to its final state, escapes dropped, the engine's timestamp
    left out). ``timestamped``: payload lines start with the engine's timestamp, which is
    recorded (:attr:`last_time`) and kept only when ``show_timestamps``."""

    def __init__(
        self,
        max_bytes: int,
        pattern: regex.Pattern[str] | None = None,
        *,
        keep: int | None = None,
        timestamped: bool = False,
        show_timestamps: bool = False,
    ) -> None:
        self.max_bytes = max_bytes
        self._kept = shaping.BoundedTail(max_bytes)
        self._pattern = pattern
        self._keep = keep
        self._matches: deque[bytes] = deque()
        self._matched_bytes = 0
        self._timestamped = timestamped
        self._show_timestamps = show_timestamps
        self._partial = b""
        self.lines_searched = 0
        self.matched = 0
        self.last_time: str | None = None
        self.cut_line = False

    def add(self, payload: bytes) -> None:
        if self._pattern is None:
            self._kept.add(payload)
            return
        *complete, self._partial = (self._partial + payload).split(b"\n")
        for line in complete:
            self._search(line)
        if len(self._partial) > LOG_SCAN_LIMIT:  # one endless line: search what there is of it
            self._search(self._partial)
            self._partial = b""

    def drop_partial(self) -> None:
        """Forget an unfinished last line (a read stopped by a limit: it is read again later)."""
        self._partial = b""

    def result(self) -> tuple[str, int, bool]:
        """(clean text, lines in it, whether older lines or bytes were dropped to fit)."""
        if self._partial:
            self._search(self._partial)
            self._partial = b""
        dropped = False
        if self._pattern is not None:
            dropped = self.matched > len(self._matches)
            for line in self._matches:
                self._kept.add(line + b"\n")
        text = self._kept.text()
        self.cut_line = self._kept.cut_line
        shown = text.count("\n") + (0 if not text or text.endswith("\n") else 1)
        return text, shown, dropped or self._kept.dropped

    def _search(self, line: bytes) -> None:
        self.lines_searched += 1
        message = line
        if self._timestamped and (stamp := _TIMESTAMP.match(line)):
            self.last_time = stamp[1].decode()
            message = line[stamp.end() :]
        assert self._pattern is not None
        # Only the newest max_bytes of a line can be shown; matching reads all of it.
        try:
            found = self._pattern.search(
                shaping.plain_text(message.decode("utf-8", errors="replace")),
                timeout=GREP_LINE_SECONDS,
                concurrent=True,
            )
        except TimeoutError as exc:
            raise InvalidArgument(
                f"The grep pattern took over {GREP_LINE_SECONDS:g} s on one log line, so the search was "
                "stopped (a pattern such as (a+)+$ backtracks without end).",
                hint="simplify the pattern: avoid nested repetition like (x+)+.",
            ) from exc
        if found:
            self.matched += 1
            kept = (line if self._show_timestamps else message)[-(self.max_bytes + 1) :]
            self._matches.append(kept)
            self._matched_bytes += len(kept) + 1
            # Only the newest `keep` matches within max_bytes can be shown: memory stays bounded.
            while self._matches and (
                (self._keep is not None and len(self._matches) > self._keep)
                or self._matched_bytes - len(self._matches[0]) - 1 >= self.max_bytes
            ):
                self._matched_bytes -= len(self._matches.popleft()) + 1

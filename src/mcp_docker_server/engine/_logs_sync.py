"""Reading container and service logs: one engine request, read in bulk, bounded.

docker-py's ``logs()`` first inspects the container (to learn about its TTY), then reads the
body one frame at a time: two requests, and two small reads per log line. Here the body is
read 64 KiB at a time and unframed by ``streamframes``, which needs no inspect.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from urllib.parse import quote

import docker
import docker.errors
import requests

from mcp_docker_server import shaping
from mcp_docker_server.streamframes import FrameDecoder, framing_from_content_type

__all__ = ["LOG_SCAN_LIMIT", "BoundedLogs", "log_params", "read_logs"]

# Reading stops after this many bytes from the engine, whatever tail says: a bound on time and
# memory for containers with enormous lines.
LOG_SCAN_LIMIT = 64 * 1024 * 1024
_READ_SIZE = 64 * 1024


def log_params(
    tail: int, *, timestamps: bool = False, since: float | None = None, until: float | None = None
) -> dict[str, str | int | float]:
    """Query parameters of a non-following logs request for both streams."""
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
    api: docker.APIClient, kind: str, ref: str, params: Mapping[str, str | int | float]
) -> Iterator[bytes]:
    """Payload bytes of ``GET /{kind}/{ref}/logs`` (kind: containers or services), unframed.

    Raises:
        docker.errors.APIError: the engine refused (NotFound for an unknown container).
    """
    url = f"{api.base_url}/v{api.api_version}/{kind}/{quote(ref, safe='')}/logs"
    response = api.get(url, params=dict(params), stream=True, timeout=api.timeout)
    try:
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as exc:
            raise docker.errors.create_api_error_from_http_exception(exc) from None
        decoder = FrameDecoder(framing_from_content_type(response.headers.get("Content-Type")))
        scanned = 0
        while scanned <= LOG_SCAN_LIMIT:
            data = response.raw.read(_READ_SIZE)
            if not data:
                break
            scanned += len(data)
            if payload := decoder.feed(data):
                yield payload
        if rest := decoder.finish():
            yield rest
    finally:
        response.close()


class BoundedLogs:
    """The newest ``max_bytes`` of log payloads, optionally only the lines matching ``pattern``."""

    def __init__(self, max_bytes: int, pattern: re.Pattern[str] | None = None) -> None:
        self._kept = shaping.BoundedTail(max_bytes)
        self._pattern = pattern
        self._partial = b""

    def add(self, payload: bytes) -> None:
        if self._pattern is None:
            self._kept.add(payload)
            return
        *complete, self._partial = (self._partial + payload).split(b"\n")
        for line in complete:
            self._keep_if_matching(line + b"\n")

    def result(self) -> tuple[str, int, bool]:
        """(clean text, lines in it, whether older lines were dropped to fit)."""
        if self._partial:
            self._keep_if_matching(self._partial + b"\n")
            self._partial = b""
        text = self._kept.text()
        shown = text.count("\n") + (0 if not text or text.endswith("\n") else 1)
        return text, shown, self._kept.dropped

    def _keep_if_matching(self, line: bytes) -> None:
        assert self._pattern is not None
        if self._pattern.search(line.decode("utf-8", errors="replace")):
            self._kept.add(line)

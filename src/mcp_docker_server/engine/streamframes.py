"""Docker's log framing, decoded in bulk. Pure: bytes in, payload bytes out.

Without a TTY the engine multiplexes stdout and stderr into frames: an 8-byte header (stream
number, three zero bytes, big-endian payload length) and the payload. With a TTY it sends the
bytes as they are. Engines from API 1.42 say which in the Content-Type; older ones (20.10) do
not, and asking means one more request (an inspect), so the framing is told from the first
header instead: a stream number 0-3 followed by three zero bytes is not how text starts. If a
later header is not valid after all, the rest is passed through as it is, so no byte is lost.
"""

from __future__ import annotations

__all__ = ["FrameDecoder", "framing_from_content_type"]

_HEADER = 8
_MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
_RAW = "application/vnd.docker.raw-stream"


def framing_from_content_type(content_type: str | None) -> bool | None:
    """True for multiplexed, False for raw, None when the engine did not say."""
    value = (content_type or "").split(";")[0].strip().lower()
    if value == _MULTIPLEXED:
        return True
    if value == _RAW:
        return False
    return None


def _is_header(data: bytes | bytearray, at: int) -> bool:
    return data[at] <= 3 and data[at + 1] == 0 and data[at + 2] == 0 and data[at + 3] == 0


class FrameDecoder:
    """Feed body bytes as they arrive; get back the payload bytes decoded so far.

    ``multiplexed`` is what the engine said (None: decide from the first header).
    """

    def __init__(self, multiplexed: bool | None = None) -> None:
        self._multiplexed = multiplexed
        self._pending = bytearray()

    def feed(self, data: bytes) -> bytes:
        """Decode ``data``; a frame cut at the end of it waits for the next call."""
        if self._multiplexed is False:
            return data
        self._pending += data
        if self._multiplexed is None:
            if len(self._pending) < _HEADER:
                return b""
            self._multiplexed = _is_header(self._pending, 0)
            if not self._multiplexed:
                return self._take_all()
        return self._frames()

    def finish(self) -> bytes:
        """Whatever is left at the end of the body: a short raw body, or the payload of a frame
        cut short (the read stopped at its limit); a cut header carries nothing to keep."""
        if not self._multiplexed:
            return self._take_all()
        payload = bytes(self._pending[_HEADER:])
        self._pending.clear()
        return payload

    def _frames(self) -> bytes:
        pending = self._pending
        out: list[bytes] = []
        at = 0
        end = len(pending)
        while end - at >= _HEADER:
            if not _is_header(pending, at):
                # Not framed after all: hand on the rest unchanged from here on.
                self._multiplexed = False
                out.append(bytes(pending[at:]))
                pending.clear()
                return b"".join(out)
            size = int.from_bytes(pending[at + 4 : at + 8], "big")
            if end - at - _HEADER < size:
                break
            out.append(bytes(pending[at + _HEADER : at + _HEADER + size]))
            at += _HEADER + size
        del pending[:at]
        return b"".join(out)

    def _take_all(self) -> bytes:
        data = bytes(self._pending)
        self._pending.clear()
        return data

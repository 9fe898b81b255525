"""Docker's log framing decoded in bulk, and the bounded log collector on top of it."""

from __future__ import annotations

import pytest
import regex

from mcp_docker_server.engine._logs_sync import BoundedLogs
from mcp_docker_server.engine.streamframes import FrameDecoder, framing_from_content_type


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def decode_in_pieces(decoder: FrameDecoder, body: bytes, piece: int) -> bytes:
    out = [decoder.feed(body[i : i + piece]) for i in range(0, len(body), piece)]
    return b"".join(out) + decoder.finish()


MULTIPLEXED = frame(1, b"out one\n") + frame(2, b"err one\n") + frame(1, b"out ") + frame(1, b"two\n")


@pytest.mark.parametrize("piece", [1, 3, 7, 8, 9, 64, 10_000])
def test_multiplexed_frames_decode_whatever_the_read_size(piece: int) -> None:
    assert decode_in_pieces(FrameDecoder(), MULTIPLEXED, piece) == b"out one\nerr one\nout two\n"


@pytest.mark.parametrize("multiplexed", [None, False])
def test_raw_tty_output_passes_unchanged(multiplexed: bool | None) -> None:
    body = b"hi\r\n\x1b[31mred\x1b[0m\n" * 3
    assert decode_in_pieces(FrameDecoder(multiplexed), body, 5) == body


def test_a_body_shorter_than_a_header_is_raw() -> None:
    assert decode_in_pieces(FrameDecoder(), b"ok\n", 1) == b"ok\n"


def test_an_invalid_later_header_hands_on_the_rest_unchanged() -> None:
    body = frame(1, b"framed\n") + b"not a frame at all\n"
    assert decode_in_pieces(FrameDecoder(), body, 4) == b"framed\nnot a frame at all\n"


def test_a_frame_cut_short_keeps_its_payload_and_a_cut_header_is_dropped() -> None:
    cut_payload = frame(1, b"whole\n") + frame(1, b"partial line\n")[:-5]
    assert decode_in_pieces(FrameDecoder(), cut_payload, 6) == b"whole\npartial "
    cut_header = frame(1, b"whole\n") + frame(1, b"x")[:5]
    assert decode_in_pieces(FrameDecoder(), cut_header, 6) == b"whole\n"


def test_the_content_type_decides_when_the_engine_gives_one() -> None:
    assert framing_from_content_type("application/vnd.docker.multiplexed-stream") is True
    assert framing_from_content_type("application/vnd.docker.raw-stream; charset=x") is False
    assert framing_from_content_type(None) is None
    assert framing_from_content_type("text/plain") is None
    # Told it is raw, a body that looks framed is still passed as it is.
    assert FrameDecoder(False).feed(frame(1, b"x")) == frame(1, b"x")


def test_bounded_logs_keep_the_newest_matching_lines_across_payload_boundaries() -> None:
    logs = BoundedLogs(1000, regex.compile("ERROR"))
    for payload in (b"INFO a\nERR", b"OR b\nINFO c\nERROR ", b"d"):
        logs.add(payload)
    text, lines, dropped = logs.result()
    assert (text, lines, dropped) == ("ERROR b\nERROR d\n", 2, False)


def test_bounded_logs_drop_the_oldest_lines_beyond_the_byte_budget() -> None:
    logs = BoundedLogs(20)
    logs.add(b"".join(f"line {n}\n".encode() for n in range(10)))
    text, lines, dropped = logs.result()
    assert dropped
    assert text.endswith("line 9\n")
    assert "line 0" not in text
    assert lines == text.count("\n")
    assert len(text.encode()) <= 20

"""Bounded readers keep the newest bytes, TTY line ends and rewrites read as a terminal shows
them, port specs as `docker run -p` reads them, and which volumes a prune may take (issue 16)."""

from __future__ import annotations

import re

import pytest
import regex

from mcp_docker_server.engine._logs_sync import BoundedLogs
from mcp_docker_server.engine._volumes_sync import ANONYMOUS_LABEL, volume_kind
from mcp_docker_server.errors import InvalidArgument
from mcp_docker_server.results.shaping import CUT_MARKER, BoundedTail, clean_text, final_states
from mcp_docker_server.specs.containers import PortBinding, parse_ports

# --------------------------------------------------------------------------- bounded readers


def test_a_line_longer_than_the_budget_keeps_its_newest_bytes_after_a_marker() -> None:
    tail = BoundedTail(1000)
    tail.add(b"a" * 19_000 + b"b" * 1000 + b"\n")
    text = tail.text()
    assert tail.dropped
    assert tail.cut_line
    assert text.startswith(CUT_MARKER)
    assert text.removeprefix(CUT_MARKER) == "b" * 999 + "\n"  # the newest 1000 bytes, newline included


def test_a_cut_inside_a_multibyte_character_does_not_show_a_broken_one() -> None:
    tail = BoundedTail(101)
    tail.add(("é" * 5000).encode())
    text = tail.text()
    assert text.startswith(CUT_MARKER)
    assert "\ufffd" not in text
    assert set(text.removeprefix(CUT_MARKER)) == {"é"}


def test_complete_newer_lines_are_kept_whole_and_the_cut_line_goes() -> None:
    tail = BoundedTail(30)
    tail.add(b"x" * 200 + b"\nnewest one\nnewest two\n")
    assert tail.text() == "newest one\nnewest two\n"
    assert tail.dropped
    assert not tail.cut_line


def test_a_long_line_before_a_short_one_keeps_its_end() -> None:
    """A 40 KB line then `END`: the budget is used for the long line's end, not left empty."""
    tail = BoundedTail(50)
    tail.add(b"x" * 40_000 + b"\nEND\n")
    text = tail.text()
    assert text == CUT_MARKER + "x" * 45 + "\nEND\n"
    assert tail.cut_line


def test_bounded_logs_report_lines_of_a_single_long_line() -> None:
    kept = BoundedLogs(512)
    kept.add(b"y" * 20_000 + b"\n")
    text, lines, dropped = kept.result()
    assert (lines, dropped, kept.cut_line) == (1, True, True)
    assert text == CUT_MARKER + "y" * 511 + "\n"


def test_grep_keeps_the_newest_matches_and_counts_all_of_them() -> None:
    kept = BoundedLogs(4096, regex.compile("ERROR"), keep=2)
    kept.add(b"ERROR early\n" + b"".join(f"ok {n}\n".encode() for n in range(500)))
    kept.add(b"ERROR late 1\nERROR late 2\n")
    text, lines, dropped = kept.result()
    assert text == "ERROR late 1\nERROR late 2\n"
    assert (lines, kept.matched, kept.lines_searched, dropped) == (2, 3, 503, True)


def test_grep_matches_tty_lines_timestamps_aside_and_records_where_it_got() -> None:
    stamp = b"2026-01-02T03:04:05.123456789Z "
    kept = BoundedLogs(4096, regex.compile("^done$"), keep=10, timestamped=True)
    kept.add(stamp + b"working\r\n" + stamp + b"\x1b[32mdone\x1b[0m\r\n")
    text, lines, _ = kept.result()
    assert (text, lines) == ("done\n", 1)
    assert kept.last_time == "2026-01-02T03:04:05.123456789Z"
    shown = BoundedLogs(4096, regex.compile("done"), keep=10, timestamped=True, show_timestamps=True)
    shown.add(stamp + b"done\n")
    assert shown.result()[0] == stamp.decode() + "done\n"


def test_a_matching_line_longer_than_the_budget_is_shown_cut_not_dropped() -> None:
    kept = BoundedLogs(512, regex.compile("needle"), keep=5)
    kept.add(b"needle " + b"z" * 30_000 + b"\n")
    text, lines, _ = kept.result()
    assert lines == 1
    assert kept.cut_line
    assert text.startswith(CUT_MARKER)
    assert text.endswith("z\n")


# --------------------------------------------------------------------------- TTY output


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("done\r\n", "done\n"),
        ("progress 10%\rprogress 50%\rprogress 100%\nnext\n", "progress 100%\nnext\n"),
        ("a\r\rb\r\n", "b\n"),
        ("tail without newline\r", "tail without newline"),
    ],
)
def test_line_ends_are_normalised_and_rewrites_keep_their_final_state(raw: str, shown: str) -> None:
    assert clean_text(raw) == shown
    assert re.search("(?m)(done|100%|next|b|newline)$", clean_text(raw))


def test_final_states_leaves_plain_text_alone() -> None:
    assert final_states("one\ntwo\n") == "one\ntwo\n"


# --------------------------------------------------------------------------- ports


def test_port_ranges_and_ipv6_as_docker_run_p_accepts_them() -> None:
    parsed = parse_ports(
        {
            "18000-18001/tcp": "18000-18001",
            "80": "8000-8010",
            "9000-9001/udp": None,
            "443": "[::1]:8443",
            "53/udp": "[::]:",
            "7000-7001": "127.0.0.1:17000-17001",
        },
        "127.0.0.1",
    )
    assert parsed == (
        PortBinding(18000, "tcp", "127.0.0.1", 18000),
        PortBinding(18001, "tcp", "127.0.0.1", 18001),
        PortBinding(80, "tcp", "127.0.0.1", "8000-8010"),
        PortBinding(9000, "udp", "127.0.0.1", None),
        PortBinding(9001, "udp", "127.0.0.1", None),
        PortBinding(443, "tcp", "::1", 8443),
        PortBinding(53, "udp", "::", None),
        PortBinding(7000, "tcp", "127.0.0.1", 17000),
        PortBinding(7001, "tcp", "127.0.0.1", 17001),
    )


@pytest.mark.parametrize(
    ("ports", "says"),
    [
        ({"8000-8002": "9000-9001"}, "a range of 3 ports"),
        ({"8000-8001": 9000}, "a range of 2 ports"),
        ({"8001-8000": 1}, "Invalid container port '8001-8000'"),
        ({"80": "::1:8080"}, "an IPv6 address goes in brackets"),
        ({"80": "localhost:8080"}, "expected an IPv4 address"),
        ({"80": "[127.0.0.1]:8080"}, "expected an IPv6 address"),
        ({"80": "9000-"}, "host ports are 1-65535, or a range"),
        ({"1-2000": None}, "more than 1024"),
    ],
)
def test_port_refusals_say_what_is_true(ports: dict[str, object], says: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_ports(ports, "127.0.0.1")
    assert says in str(caught.value)


# --------------------------------------------------------------------------- volume kinds

GENERATED = "3f" * 32


@pytest.mark.parametrize(
    ("volume", "api", "kind"),
    [
        ({"Name": GENERATED, "Labels": None}, "1.41", "anonymous"),  # 20.10 marks nothing
        ({"Name": "pgdata", "Labels": None}, "1.41", "named"),
        ({"Name": GENERATED, "Labels": {ANONYMOUS_LABEL: ""}}, "1.45", "anonymous"),
        # From 1.42 the engine's own prune goes by its label only: an unlabelled volume is named.
        ({"Name": GENERATED, "Labels": {}}, "1.45", "named"),
        ({"Name": "pgdata", "Labels": {"com.docker.compose.volume": "pgdata"}}, "1.45", "named"),
    ],
)
def test_volume_kinds_as_the_engine_prunes_them(volume: dict[str, object], api: str, kind: str) -> None:
    assert volume_kind(volume, api) == kind


def test_grep_holds_no_more_matches_than_max_bytes_can_show_whatever_tail_says() -> None:
    kept = BoundedLogs(1000, regex.compile("m"), keep=10_000)
    for n in range(200):
        kept.add(f"m{n:03d}".encode() + b"m" * 5000 + b"\n")
        assert kept._matched_bytes <= 2 * 1002
    text, lines, dropped = kept.result()
    assert (lines, kept.matched, dropped) == (1, 200, True)
    assert text.startswith(CUT_MARKER)
    assert text.endswith("m" * 100 + "\n")

"""Benchmark: logs of a container that printed 100,000 lines, default and largest call, vs raw tail.

    python bench/container_logs.py [--quick]      (same as: python bench/run.py --only container-logs)

The limits come from the tool's own inputSchema (tools/list is the truth): the default call
passes only `container_id`; the largest passes `tail` and `max_bytes` at their schema maximums.
Each is timed next to the raw `GET /containers/{id}/logs?stdout=1&stderr=1&tail=N` for the same
N, in alternating rounds. One call just past the `tail` maximum checks the cap is enforced.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass

import anyio
from _engine import LOG_LINES, UnixHTTPConnection, raw_get
from _proxy import CountingProxy, endpoint
from _suite import KIB, BenchResult, Row, Spawned, Suite, checked, median_ms, result_sizes, stdio_server
from mcp.types import Tool
from tool_list import all_tools

NAME = "container-logs"
TIME_RATIO = 3.0
DEFAULT_LINES = 100
DEFAULT_BYTES = 16 * KIB


@dataclass(frozen=True)
class Limits:
    tail_default: int
    tail_max: int
    bytes_default: int
    bytes_max: int


@dataclass(frozen=True)
class Call:
    """One kind of logs call, measured: medians and the sizes of its last result."""

    tail: int
    mcp_ms: float
    raw_ms: float
    raw_bytes: int
    text_bytes: int
    structured_bytes: int
    log_bytes: int
    lines: int
    truncated: bool


def _limit(tool: Tool, name: str, key: str) -> int:
    value = tool.input_schema["properties"][name][key]
    if not isinstance(value, int):
        raise RuntimeError(f"container-logs.{name} has no integer {key} in its schema")
    return value


async def read_limits(server: Spawned) -> Limits:
    tool = next(t for t in await all_tools(server.client) if t.name == "container-logs")
    return Limits(
        tail_default=_limit(tool, "tail", "default"),
        tail_max=_limit(tool, "tail", "maximum"),
        bytes_default=_limit(tool, "max_bytes", "default"),
        bytes_max=_limit(tool, "max_bytes", "maximum"),
    )


async def _measure(
    server: Spawned, conn: UnixHTTPConnection, container: str, args: dict[str, object], tail: int, rounds: int
) -> Call:
    path = f"/containers/{container}/logs?stdout=1&stderr=1&tail={tail}"
    checked(await server.client.call_tool("container-logs", args), "warm-up")
    raw_get(conn, path)
    mcp: list[float] = []
    raw: list[float] = []
    for _ in range(rounds):
        raw_seconds, raw_bytes = raw_get(conn, path)
        raw.append(raw_seconds)
        started = time.perf_counter()
        result = checked(await server.client.call_tool("container-logs", args), "container-logs")
        mcp.append(time.perf_counter() - started)
    structured = result.structured_content or {}
    text_bytes, structured_bytes = result_sizes(result)
    return Call(
        tail=tail,
        mcp_ms=median_ms(mcp),
        raw_ms=median_ms(raw),
        raw_bytes=raw_bytes,
        text_bytes=text_bytes,
        structured_bytes=structured_bytes,
        log_bytes=len(str(structured.get("text", "")).encode()),
        lines=int(structured.get("lines", -1)),
        truncated=bool(structured.get("truncated", False)),
    )


async def _requests_per_call(suite: Suite, container: str) -> dict[str, int]:
    """Engine requests one default call makes, by endpoint (details only)."""
    with CountingProxy(suite.socket) as proxy:
        async with stdio_server(suite, NAME, host=proxy.host) as server:
            checked(await server.client.call_tool("container-logs", {"container_id": container}), "warm-up")
            start = proxy.count()
            checked(await server.client.call_tool("container-logs", {"container_id": container}), "logs")
            seen = proxy.requests_since(start)
    return dict(Counter(endpoint(line) for line in seen))


def _rows(limits: Limits, default: Call, largest: Call, over_cap_refused: bool) -> list[Row]:
    default_ok = default.lines <= DEFAULT_LINES and default.text_bytes <= DEFAULT_BYTES
    largest_ok = largest.log_bytes <= limits.bytes_max and over_cap_refused
    return [
        Row(
            benchmark=f"logs ({LOG_LINES:,} lines), default call, median",
            measured=default.mcp_ms,
            unit="ms",
            baseline=default.raw_ms,
            baseline_label=f"raw GET .../logs?tail={default.tail}",
            target=f"<= {TIME_RATIO:g}x raw",
            met=default.mcp_ms <= TIME_RATIO * default.raw_ms,
        ),
        Row(
            benchmark="logs, default call: text content",
            measured=default.text_bytes,
            unit="bytes",
            baseline=default.raw_bytes,
            baseline_label=f"raw tail={default.tail} body",
            target=f"<= {DEFAULT_LINES} lines and <= 16 KiB",
            met=default_ok,
            note=f"{default.lines} lines",
        ),
        Row(
            benchmark=f"logs, largest call (tail={limits.tail_max}, max_bytes={limits.bytes_max}), median",
            measured=largest.mcp_ms,
            unit="ms",
            baseline=largest.raw_ms,
            baseline_label=f"raw GET .../logs?tail={largest.tail}",
            target=f"<= {TIME_RATIO:g}x raw",
            met=largest.mcp_ms <= TIME_RATIO * largest.raw_ms,
        ),
        Row(
            benchmark="logs, largest call: log text",
            measured=largest.log_bytes,
            unit="bytes",
            baseline=largest.raw_bytes,
            baseline_label=f"raw tail={largest.tail} body",
            target=f"<= {limits.bytes_max // KIB} KiB cap; tail={limits.tail_max + 1} refused",
            met=largest_ok,
            note=f"{largest.lines} lines, text block {largest.text_bytes:,} B",
        ),
    ]


async def run(suite: Suite) -> BenchResult:
    rounds = suite.rounds(full=20, quick=5)
    container = await anyio.to_thread.run_sync(suite.fixtures.logs_container)
    conn = UnixHTTPConnection(suite.socket)
    async with stdio_server(suite, NAME) as server:
        limits = await read_limits(server)
        default = await _measure(
            server, conn, container, {"container_id": container}, limits.tail_default, rounds
        )
        largest_args: dict[str, object] = {
            "container_id": container,
            "tail": limits.tail_max,
            "max_bytes": limits.bytes_max,
        }
        largest = await _measure(server, conn, container, largest_args, limits.tail_max, rounds)
        over = await server.client.call_tool("container-logs", {**largest_args, "tail": limits.tail_max + 1})
    conn.close()
    details: dict[str, object] = {
        "rounds": rounds,
        "limits": asdict(limits),
        "default": asdict(default),
        "largest": asdict(largest),
        "over_cap_call_refused": over.is_error,
        "engine_requests_per_default_call": await _requests_per_call(suite, container),
    }
    return BenchResult(_rows(limits, default, largest, over.is_error), details)


if __name__ == "__main__":
    import run as suite_cli  # running one module is `run.py --only <NAME>`

    raise SystemExit(suite_cli.main(["--only", NAME, *sys.argv[1:]]))

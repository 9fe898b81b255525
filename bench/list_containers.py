"""Benchmark: list 50 containers end to end through the server, next to the raw Engine API.

    python bench/list_containers.py [--quick]      (same as: python bench/run.py --only list-containers)

Starts 50 labelled `sleep` containers (shared fixture), then, in alternating rounds:
  - raw:  GET /containers/json?all=1&filters=<this run's label> on the engine's unix socket
          (http.client, keep-alive);
  - mcp:  `list-containers` {"all": true, "label": [<this run's label>]} through the official
          client over stdio against a spawned server (JSON-RPC, validation, engine call, shaping).
Both sides filter on the run's label because other people's tests share this engine: without it
the two would list different (and varying) sets. Sizes: the result's text block and its compact
structuredContent. Engine requests per call: counted by a second server pointed at a counting
proxy in front of the socket (the timed server talks to the engine directly).
"""

from __future__ import annotations

import sys
import time
from collections import Counter

import anyio
from _engine import UnixHTTPConnection, label_filter_query, raw_get
from _proxy import CountingProxy, endpoint
from _suite import KIB, BenchResult, Row, Suite, checked, median_ms, result_sizes, stdio_server

NAME = "list-containers"
CONTAINERS = 50
TIME_RATIO = 2.5
SIZE_BUDGET = 8 * KIB


def tool_arguments(suite: Suite) -> dict[str, object]:
    return {"all": True, "label": [suite.label_selector], "limit": CONTAINERS}


def raw_path(suite: Suite) -> str:
    return f"/containers/json?all=1&filters={label_filter_query(suite.run_id)}"


async def _count_requests(suite: Suite, calls: int) -> tuple[float, list[str], float]:
    """(engine requests per tool call, the request lines seen, requests for one raw GET)."""
    with CountingProxy(suite.socket) as proxy:
        async with stdio_server(suite, NAME, host=proxy.host) as server:
            args = tool_arguments(suite)
            checked(await server.client.call_tool("list-containers", args), "warm-up")
            start = proxy.count()
            for _ in range(calls):
                checked(await server.client.call_tool("list-containers", args), "list-containers")
            seen = proxy.requests_since(start)
        # The baseline through the same proxy, so both counts come from one instrument.
        raw_start = proxy.count()
        conn = UnixHTTPConnection(proxy.path)
        for _ in range(calls):
            raw_get(conn, raw_path(suite))
        conn.close()
        raw_per_call = (proxy.count() - raw_start) / calls
    return len(seen) / calls, seen, raw_per_call


async def run(suite: Suite) -> BenchResult:
    rounds = suite.rounds(full=30, quick=10)
    await anyio.to_thread.run_sync(suite.fixtures.listing_containers, CONTAINERS)
    conn = UnixHTTPConnection(suite.socket)
    raw: list[float] = []
    mcp: list[float] = []
    async with stdio_server(suite, NAME) as server:
        args = tool_arguments(suite)
        result = checked(await server.client.call_tool("list-containers", args), "warm-up")
        _, raw_bytes = raw_get(conn, raw_path(suite))
        for _ in range(rounds):
            raw_seconds, raw_bytes = raw_get(conn, raw_path(suite))
            raw.append(raw_seconds)
            started = time.perf_counter()
            result = checked(await server.client.call_tool("list-containers", args), "list-containers")
            mcp.append(time.perf_counter() - started)
    conn.close()
    rows_returned = len((result.structured_content or {}).get("containers", []))
    if rows_returned != CONTAINERS:
        raise RuntimeError(f"list-containers returned {rows_returned} rows, expected {CONTAINERS}")
    text_bytes, structured_bytes = result_sizes(result)
    per_call, seen, raw_per_call = await _count_requests(suite, calls=suite.rounds(full=10, quick=3))
    mcp_ms, raw_ms = median_ms(mcp), median_ms(raw)
    rows = [
        Row(
            benchmark=f"list {CONTAINERS} containers (stdio, end to end), median",
            measured=mcp_ms,
            unit="ms",
            baseline=raw_ms,
            baseline_label="raw GET /containers/json?all=1 (keep-alive)",
            target=f"<= {TIME_RATIO}x raw",
            met=mcp_ms <= TIME_RATIO * raw_ms,
        ),
        Row(
            benchmark=f"list {CONTAINERS} containers: text content",
            measured=text_bytes,
            unit="bytes",
            baseline=raw_bytes,
            baseline_label="raw JSON body",
            target="<= 8 KiB",
            met=text_bytes <= SIZE_BUDGET,
        ),
        Row(
            benchmark=f"list {CONTAINERS} containers: structuredContent (compact JSON)",
            measured=structured_bytes,
            unit="bytes",
            baseline=raw_bytes,
            baseline_label="raw JSON body",
            target="<= 8 KiB",
            met=structured_bytes <= SIZE_BUDGET,
        ),
        Row(
            benchmark=f"list {CONTAINERS} containers: engine requests per call",
            measured=per_call,
            unit="requests",
            baseline=raw_per_call,
            baseline_label="raw GET through the same counting proxy",
            target="1 request",
            met=per_call == 1,
        ),
    ]
    details: dict[str, object] = {
        "rounds": rounds,
        "mcp_median_ms": round(mcp_ms, 2),
        "raw_median_ms": round(raw_ms, 2),
        "rows_returned": rows_returned,
        "containers_on_engine": await anyio.to_thread.run_sync(suite.fixtures.containers_on_engine),
        "text_bytes": text_bytes,
        "structured_bytes": structured_bytes,
        "raw_bytes": raw_bytes,
        "engine_requests_per_call": per_call,
        "engine_requests_seen": dict(Counter(endpoint(line) for line in seen)),
        "arguments": tool_arguments(suite),
    }
    return BenchResult(rows, details)


if __name__ == "__main__":
    import run as suite_cli  # running one module is `run.py --only <NAME>`

    raise SystemExit(suite_cli.main(["--only", NAME, *sys.argv[1:]]))

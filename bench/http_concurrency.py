"""Benchmark: 50 concurrent calls over Streamable HTTP, next to 50 concurrent raw Engine API GETs.

    python bench/http_concurrency.py [--quick]      (same as: python bench/run.py --only http-concurrency)

Spawns the server with MCP_DOCKER_TRANSPORT=http on a free loopback port with a bearer token,
connects ONE official client (one httpx2 connection pool; the default protocol era, where each
call is its own POST) and fires 50 `list-containers` calls at once (the 50-container listing,
filtered to this run's label). Baseline: 50 concurrent `GET /containers/json` with the same
filter from one async httpx2 client on the engine's unix socket. Per batch: throughput (calls / wall
time) and p50/p95 of the calls' own latencies; the figures are medians over the batches.
"""

from __future__ import annotations

import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass

import anyio
import httpx2
from _engine import label_filter_query
from _proc import peak_rss_kib
from _server import server_params
from _suite import BenchResult, Row, Suite, checked, percentile
from anyio.abc import Process
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

NAME = "http-concurrency"
CONCURRENT = 50
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Batch:
    throughput: float  # calls per second
    p50_ms: float
    p95_ms: float


def _free_port() -> int:
    # The port is free now; the tiny race with another process is acceptable for a benchmark.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_listening(process: Process, port: int) -> None:
    with anyio.fail_after(START_TIMEOUT):
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"the HTTP server exited with {process.returncode} before listening")
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


@asynccontextmanager
async def http_server(suite: Suite, port: int, token: str) -> AsyncIterator[Process]:
    """The server on Streamable HTTP; stopped (SIGTERM, then SIGKILL) on exit."""
    params = server_params(
        suite.host,
        {
            "MCP_DOCKER_TRANSPORT": "http",
            "MCP_DOCKER_HTTP_HOST": "127.0.0.1",
            "MCP_DOCKER_HTTP_PORT": str(port),
            "MCP_DOCKER_HTTP_TOKEN": token,
        },
    )
    with tempfile.TemporaryFile() as errlog:
        process = await anyio.open_process([params.command, *params.args], env=params.env, stderr=errlog)
        try:
            await _wait_listening(process, port)
            yield process
        except BaseException:
            errlog.seek(0)
            sys.stderr.write(errlog.read()[-2000:].decode(errors="replace"))
            raise
        finally:
            process.terminate()
            with anyio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _batch(call: Callable[[], Awaitable[None]]) -> Batch:
    latencies: list[float] = []

    async def timed() -> None:
        started = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(CONCURRENT):
            group.start_soon(timed)
    wall = time.perf_counter() - started
    return Batch(CONCURRENT / wall, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.95) * 1000)


def _median(batches: list[Batch]) -> Batch:
    return Batch(
        statistics.median(b.throughput for b in batches),
        statistics.median(b.p50_ms for b in batches),
        statistics.median(b.p95_ms for b in batches),
    )


def _rows(mcp: Batch, raw: Batch) -> list[Row]:
    label = f"{CONCURRENT} concurrent list-containers over HTTP (1 client)"
    baseline = f"{CONCURRENT} concurrent raw GET /containers/json"
    return [
        Row(f"{label}: throughput", mcp.throughput, "calls/s", raw.throughput, baseline, "none set", None),
        Row(f"{label}: p50 latency", mcp.p50_ms, "ms", raw.p50_ms, baseline, "none set", None),
        Row(f"{label}: p95 latency", mcp.p95_ms, "ms", raw.p95_ms, baseline, "none set", None),
    ]


async def _alternate(
    client: Client, raw_http: httpx2.AsyncClient, suite: Suite, batches: int
) -> tuple[list[Batch], list[Batch]]:
    """Raw and MCP batches in turn (after one warm-up each), so noise hits both alike."""
    args = {"all": True, "label": [suite.label_selector]}
    raw_path = f"/containers/json?all=1&filters={label_filter_query(suite.run_id)}"
    failures: list[str] = []

    async def mcp_call() -> None:
        result = await client.call_tool("list-containers", args)
        if result.is_error:
            failures.append(str(result.content)[:200])

    async def raw_call() -> None:
        (await raw_http.get(raw_path)).raise_for_status()

    checked(await client.call_tool("list-containers", args), "warm-up")
    await _batch(raw_call)  # warm-up: opens the pooled connections on both sides
    await _batch(mcp_call)
    mcp_batches: list[Batch] = []
    raw_batches: list[Batch] = []
    for _ in range(batches):
        raw_batches.append(await _batch(raw_call))
        mcp_batches.append(await _batch(mcp_call))
    if failures:
        raise RuntimeError(f"{len(failures)} of the concurrent calls failed, e.g. {failures[0]}")
    return mcp_batches, raw_batches


async def run(suite: Suite) -> BenchResult:
    batches = suite.rounds(full=10, quick=3)
    await anyio.to_thread.run_sync(suite.fixtures.listing_containers)
    port, token = _free_port(), secrets.token_urlsafe(32)  # 43 characters
    raw_http = httpx2.AsyncClient(
        transport=httpx2.AsyncHTTPTransport(uds=suite.socket), base_url="http://docker", timeout=60
    )
    # 60 s, not httpx2's 5 s: 50 calls queued on 2 busy cores may legitimately wait.
    mcp_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
    async with raw_http, mcp_http, http_server(suite, port, token) as process:
        url = f"http://127.0.0.1:{port}/mcp"
        async with Client(streamable_http_client(url, http_client=mcp_http)) as client:
            mcp_batches, raw_batches = await _alternate(client, raw_http, suite, batches)
            suite.record_peak(NAME, peak_rss_kib(process.pid))
    mcp, raw = _median(mcp_batches), _median(raw_batches)
    details: dict[str, object] = {
        "batches": batches,
        "concurrent_calls": CONCURRENT,
        "clients": "one official Client (one httpx2 pool), default protocol era: one POST per call",
        "mcp": asdict(mcp),
        "raw": asdict(raw),
        "mcp_batches": [asdict(b) for b in mcp_batches],
        "raw_batches": [asdict(b) for b in raw_batches],
    }
    return BenchResult(_rows(mcp, raw), details)


if __name__ == "__main__":
    import run as suite_cli  # running one module is `run.py --only <NAME>`

    raise SystemExit(suite_cli.main(["--only", NAME, *sys.argv[1:]]))

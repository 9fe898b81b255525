"""Benchmark: cold start, spawn to `initialize` + `tools/list` done, next to the import floor.

    python bench/cold_start.py [--quick]      (same as: python bench/run.py --only cold-start)

Server: spawn `python -m mcp_docker_server` with the official client over stdio, in the
handshake era (`initialize`, as today's hosts connect), and time until `tools/list` answers.
Floor: spawn `python -c "import mcp.server"` with the same interpreter and time until it exits:
no server can start faster than it imports the SDK. That floor includes interpreter shutdown,
so the details also give spawn-until-imported (the same import, timed to a line it prints).
Runs alternate, so noise hits all of them alike.
"""

from __future__ import annotations

import sys
import time

import anyio
from _proc import child_pids, new_child, peak_rss_kib
from _server import server_params
from _suite import BenchResult, Row, Suite, median_ms
from mcp import Client

NAME = "cold-start"
BUDGET_MS = 80.0
IMPORTED_CODE = "import mcp.server; print('imported', flush=True)"


async def _floor_once() -> float:
    started = time.perf_counter()
    await anyio.run_process([sys.executable, "-c", "import mcp.server"])
    return time.perf_counter() - started


async def _imported_once() -> float:
    """Spawn until `mcp.server` is imported (not until exit): the floor without teardown.

    The floor above includes interpreter shutdown, which the server's figure does not (its clock
    stops at the tools/list answer); this variant shows how much that flatters the server.
    """
    started = time.perf_counter()
    async with await anyio.open_process([sys.executable, "-c", IMPORTED_CODE]) as process:
        assert process.stdout is not None
        await process.stdout.receive()
        elapsed = time.perf_counter() - started
        await process.wait()
    return elapsed


async def _server_once(suite: Suite) -> float:
    before = child_pids()
    started = time.perf_counter()
    async with Client(server_params(suite.host), mode="legacy") as client:
        listing = await client.list_tools()
        elapsed = time.perf_counter() - started
        if not listing.tools:
            raise RuntimeError("tools/list came back empty")
        # After the clock stopped: finding the pid scans /proc.
        suite.record_peak(NAME, peak_rss_kib(new_child(before)))
    return elapsed


async def run(suite: Suite) -> BenchResult:
    rounds = suite.rounds(full=15, quick=5)
    await _floor_once()  # warm the page cache for the interpreter and the SDK
    floor: list[float] = []
    server: list[float] = []
    imported: list[float] = []
    for _ in range(rounds):
        floor.append(await _floor_once())
        server.append(await _server_once(suite))
        imported.append(await _imported_once())
    server_ms, floor_ms, imported_ms = median_ms(server), median_ms(floor), median_ms(imported)
    over = server_ms - floor_ms
    row = Row(
        benchmark="cold start: spawn to initialize + tools/list (stdio)",
        measured=server_ms,
        unit="ms",
        baseline=floor_ms,
        baseline_label='spawn `python -c "import mcp.server"` to exit',
        target=f"<= floor + {BUDGET_MS:.0f} ms",
        met=over <= BUDGET_MS,
        note=f"{over:+.0f} ms vs the floor; {server_ms - imported_ms:+.0f} ms vs import-only",
    )
    details: dict[str, object] = {
        "rounds": rounds,
        "server_median_ms": round(server_ms, 1),
        "floor_median_ms": round(floor_ms, 1),
        "difference_ms": round(over, 1),
        "floor_to_imported_median_ms": round(imported_ms, 1),
        "difference_to_imported_ms": round(server_ms - imported_ms, 1),
        "server_ms": [round(s * 1000, 1) for s in server],
        "floor_ms": [round(s * 1000, 1) for s in floor],
        "protocol": "handshake era (mode='legacy': initialize, then tools/list)",
    }
    return BenchResult([row], details)


if __name__ == "__main__":
    import run as suite_cli  # running one module is `run.py --only <NAME>`

    raise SystemExit(suite_cli.main(["--only", NAME, *sys.argv[1:]]))

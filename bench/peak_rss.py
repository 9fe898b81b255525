"""Benchmark: peak resident memory (VmHWM) of the server process, next to the SDK's import floor.

    python bench/peak_rss.py [--quick]      (same as: python bench/run.py --only peak-rss)

Workload server: a fresh stdio server runs tools/list, 10 listings of the 50 containers and the
default and largest `container-logs` calls on the 100,000-line container; VmHWM is read from
/proc/<pid>/status before it exits (median over a few servers). Floor: a process of the same
interpreter that only imported `mcp.server`. Runs last in the suite, so its second row can report
the highest VmHWM of every server the run spawned (cold starts, listings, the build, HTTP).
"""

from __future__ import annotations

import statistics
import sys

import anyio
from _proc import peak_rss_kib
from _suite import MIB, BenchResult, Row, Suite, checked, stdio_server
from container_logs import read_limits
from tool_list import all_tools

NAME = "peak-rss"
BUDGET_MIB = 80.0
FLOOR_CODE = "import sys, mcp.server; print('ready', flush=True); sys.stdin.read()"


async def _floor_kib() -> int:
    """VmHWM of an interpreter that imported the SDK's server package and nothing else."""
    async with await anyio.open_process([sys.executable, "-c", FLOOR_CODE]) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        ready = await process.stdout.receive()
        if not ready.startswith(b"ready"):
            raise RuntimeError(f"the floor process said {ready!r}")
        kib = peak_rss_kib(process.pid)
        await process.stdin.aclose()  # lets it exit
        await process.wait()
    return kib


async def _workload_kib(suite: Suite) -> int:
    containers = await anyio.to_thread.run_sync(suite.fixtures.listing_containers)
    logs = await anyio.to_thread.run_sync(suite.fixtures.logs_container)
    async with stdio_server(suite, NAME) as server:
        client = server.client
        await all_tools(client)
        for _ in range(10):
            listing = {"all": True, "label": [suite.label_selector], "limit": len(containers)}
            checked(await client.call_tool("list-containers", listing), "list-containers")
        limits = await read_limits(server)
        checked(await client.call_tool("container-logs", {"container_id": logs}), "container-logs")
        largest = {"container_id": logs, "tail": limits.tail_max, "max_bytes": limits.bytes_max}
        checked(await client.call_tool("container-logs", largest), "container-logs")
        return peak_rss_kib(server.pid)


def _mib(kib: float) -> float:
    return kib * 1024 / MIB  # VmHWM is in KiB


async def run(suite: Suite) -> BenchResult:
    servers = suite.rounds(full=3, quick=1)
    floor = [await _floor_kib() for _ in range(servers)]
    workload = [await _workload_kib(suite) for _ in range(servers)]
    floor_mib, workload_mib = _mib(statistics.median(floor)), _mib(statistics.median(workload))
    tag, highest = max(suite.peaks_kib.items(), key=lambda item: item[1])
    rows = [
        Row(
            benchmark=f"peak RSS, stdio server after a workload (median of {servers})",
            measured=workload_mib,
            unit="MiB",
            baseline=floor_mib,
            baseline_label="python that only imported mcp.server",
            target=f"<= {BUDGET_MIB:g} MiB",
            met=workload_mib <= BUDGET_MIB,
        ),
        Row(
            benchmark="peak RSS, highest of all servers spawned in this run",
            measured=_mib(highest),
            unit="MiB",
            baseline=floor_mib,
            baseline_label="python that only imported mcp.server",
            target=f"<= {BUDGET_MIB:g} MiB",
            met=_mib(highest) <= BUDGET_MIB,
            note=f"the {tag} server",
        ),
    ]
    details: dict[str, object] = {
        "servers": servers,
        "floor_kib": floor,
        "workload_kib": workload,
        "highest_kib_by_benchmark": dict(suite.peaks_kib),
    }
    return BenchResult(rows, details)


if __name__ == "__main__":
    import run as suite_cli  # running one module is `run.py --only <NAME>`

    raise SystemExit(suite_cli.main(["--only", NAME, *sys.argv[1:]]))

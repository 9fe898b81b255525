"""Benchmark: a call's latency while a long build runs in another call, next to idle.

    python bench/busy_latency.py [--quick]      (same as: python bench/run.py --only busy-latency)

One server over stdio (official client). `list-containers` is timed idle, then again while
`build-image` runs a `RUN sleep` step in a concurrent call on the same session. The busy rounds
start once the build reports progress on its RUN step and must end before the build does
(otherwise they would not have measured anything busy); then the build call is cancelled, which
also exercises the build's cancellation. The Dockerfile's LABEL puts the run's label on every
layer and on the builder's intermediate container, so clean-up by label finds them all.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import anyio
from _engine import LABEL_KEY
from _suite import BenchResult, Row, Spawned, Suite, checked, median_ms, stdio_server

NAME = "busy-latency"
RATIO_BUDGET = 2.0
STEP_TIMEOUT = 60.0  # seconds for the build to reach its RUN step on a loaded machine


async def _list_times(server: Spawned, label: str, rounds: int) -> list[float]:
    """Latencies of a small, stable listing (this run's label: other tests share the engine)."""
    times: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = await server.client.call_tool("list-containers", {"all": True, "label": [label]})
        checked(result, "list-containers")
        times.append(time.perf_counter() - started)
    return times


def _dockerfile(suite: Suite, sleep_s: int) -> str:
    return f"FROM {suite.image}\nLABEL {LABEL_KEY}={suite.run_id}\nRUN sleep {sleep_s}\n"


async def _busy_times(
    server: Spawned, suite: Suite, context: str, rounds: int
) -> tuple[list[float], list[str]]:
    """List latencies taken while the build sleeps; also the build's progress messages."""
    in_run_step = anyio.Event()
    build_done = anyio.Event()
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(message or "")
        if message and "RUN" in message:
            in_run_step.set()

    async def build() -> None:
        args = {
            "path": context,
            "tag": f"mcpd-bench-busy-{suite.run_id}:latest",
            "no_cache": True,
            "labels": {LABEL_KEY: suite.run_id},
        }
        result = await server.client.call_tool("build-image", args, progress_callback=on_progress)
        messages.append(f"build returned early: is_error={result.is_error}")
        build_done.set()

    async with anyio.create_task_group() as group:
        group.start_soon(build)
        with anyio.fail_after(STEP_TIMEOUT):
            await in_run_step.wait()
        busy = await _list_times(server, suite.label_selector, rounds)
        if build_done.is_set():
            raise RuntimeError(f"the build ended before the busy rounds did: {messages[-3:]}")
        group.cancel_scope.cancel()
    return busy, messages


async def run(suite: Suite) -> BenchResult:
    rounds = suite.rounds(full=20, quick=8)
    # The same 50-container listing as the list-containers benchmark, so the figures compare.
    await anyio.to_thread.run_sync(suite.fixtures.listing_containers)
    with tempfile.TemporaryDirectory(prefix="mcpd-bench-build-") as context:
        # Long enough to outlast the busy rounds even when the machine is loaded.
        Path(context, "Dockerfile").write_text(_dockerfile(suite, sleep_s=30))
        async with stdio_server(suite, NAME) as server:
            # Warm-up: the first call connects to the engine.
            await _list_times(server, suite.label_selector, 3)
            idle = await _list_times(server, suite.label_selector, rounds)
            busy, messages = await _busy_times(server, suite, context, rounds)
    idle_ms, busy_ms = median_ms(idle), median_ms(busy)
    row = Row(
        benchmark="list-containers while a build runs in another call, median",
        measured=busy_ms,
        unit="ms",
        baseline=idle_ms,
        baseline_label="same call, idle server",
        target=f"<= {RATIO_BUDGET:g}x idle",
        met=busy_ms <= RATIO_BUDGET * idle_ms,
        note=f"max {max(busy) * 1000:.1f} ms",
    )
    details: dict[str, object] = {
        "rounds": rounds,
        "idle_median_ms": round(idle_ms, 2),
        "busy_median_ms": round(busy_ms, 2),
        "busy_max_ms": round(max(busy) * 1000, 2),
        "build_progress_messages": messages[:10],
    }
    return BenchResult([row], details)


if __name__ == "__main__":
    import run as suite_cli  # running one module is `run.py --only <NAME>`

    raise SystemExit(suite_cli.main(["--only", NAME, *sys.argv[1:]]))

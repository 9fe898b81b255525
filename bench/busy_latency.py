"""Benchmark: a list call's latency while a long build runs in another call, next to idle.

    python bench/busy_latency.py [--rounds 20]

Spawns `python -m mcp_docker_server` over stdio (official MCP client), measures
`list-containers` idle, then again while `build-image` runs a `RUN sleep` step in a concurrent
call on the same session. Medians; writes bench/results/busy_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import anyio
from _server import server_params
from mcp import Client


async def measure(client: Client, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = await client.call_tool("list-containers", {"all": True})
        times.append(time.perf_counter() - started)
        assert not result.is_error, result
    return times


async def run(rounds: int, image: str, host: str) -> dict[str, float]:
    params = server_params(host)
    with tempfile.TemporaryDirectory() as context:
        Path(context, "Dockerfile").write_text(f"FROM {image}\nRUN sleep 20\n")
        async with Client(params) as client:
            await measure(client, 3)  # warm-up
            idle = await measure(client, rounds)
            async with anyio.create_task_group() as group:
                group.start_soon(
                    lambda: client.call_tool(
                        "build-image", {"path": context, "tag": "mcpd-bench-busy:latest", "no_cache": True}
                    )
                )
                await anyio.sleep(2)
                busy = await measure(client, rounds)
                group.cancel_scope.cancel()  # also exercises the build's cancellation
    return {
        "idle_median_ms": round(statistics.median(idle) * 1000, 2),
        "busy_median_ms": round(statistics.median(busy) * 1000, 2),
        "busy_max_ms": round(max(busy) * 1000, 2),
        "ratio": round(statistics.median(busy) / statistics.median(idle), 2),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--image", default=os.environ.get("MCPD_TEST_IMAGE", "busybox:local"))
    parser.add_argument("--host", default=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    args = parser.parse_args()
    report = anyio.run(run, args.rounds, args.image, args.host)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "busy_latency.json").write_text(json.dumps(report, indent=2) + "\n")
    print("| list-containers | idle | during a build | ratio |")
    print("|---|---|---|---|")
    print(
        f"| median of {args.rounds} | {report['idle_median_ms']} ms | {report['busy_median_ms']} ms "
        f"(max {report['busy_max_ms']} ms) | {report['ratio']}x |"
    )


if __name__ == "__main__":
    main()

"""Benchmark: list 50 containers through the server vs. the raw Engine API, in the same run.

    python bench/list_containers.py [--containers 50] [--rounds 30]

Starts N labelled `busybox:local` containers, then measures (median of the rounds):
  - raw:  GET /containers/json?all=1 on the engine's unix socket (http.client, keep-alive);
  - mcp:  `list-containers` called through the official MCP client over stdio against a spawned
          `python -m mcp_docker_server` (end to end: JSON-RPC, validation, engine call, shaping).
Prints a markdown table and writes bench/results/list_containers.json. Removes its containers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import time
import uuid
from pathlib import Path

import anyio
import docker
from _server import server_params
from mcp import Client

LABEL_KEY = "io.mcp-docker-server.bench"


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket: the thinnest possible Engine API client."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def raw_list(conn: UnixHTTPConnection) -> tuple[float, int]:
    started = time.perf_counter()
    conn.request("GET", "/containers/json?all=1")
    body = conn.getresponse().read()
    return time.perf_counter() - started, len(body)


async def mcp_rounds(host: str, rounds: int, count: int) -> tuple[list[float], int, int]:
    params = server_params(host)
    times: list[float] = []
    async with Client(params) as client:
        args = {"all": True, "limit": count}
        await client.call_tool("list-containers", args)  # warm-up: connects to the engine
        for _ in range(rounds):
            started = time.perf_counter()
            result = await client.call_tool("list-containers", args)
            times.append(time.perf_counter() - started)
        assert not result.is_error, result
        text_bytes = len(result.content[0].text.encode())  # type: ignore[union-attr]
        rows = len((result.structured_content or {})["containers"])
    return times, text_bytes, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--containers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--image", default=os.environ.get("MCPD_TEST_IMAGE", "busybox:local"))
    parser.add_argument("--host", default=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    args = parser.parse_args()
    socket_path = args.host.removeprefix("unix://")
    client = docker.DockerClient(base_url=args.host)
    run_id = uuid.uuid4().hex[:8]
    created = []
    try:
        for i in range(args.containers):
            # One at a time, so a failure part-way still removes what was made.
            created.append(  # noqa: PERF401
                client.containers.run(
                    args.image,
                    ["sleep", "600"],
                    name=f"bench-{run_id}-{i}",
                    detach=True,
                    labels={LABEL_KEY: run_id},
                )
            )
        total = len(client.api.containers(all=True))
        conn = UnixHTTPConnection(socket_path)
        raw_list(conn)  # warm-up
        raw = [raw_list(conn) for _ in range(args.rounds)]
        conn.close()
        mcp_times, mcp_bytes, rows = anyio.run(mcp_rounds, args.host, args.rounds, args.containers)
    finally:
        for container in created:
            container.remove(force=True)
        client.close()
    raw_median = statistics.median(t for t, _ in raw)
    mcp_median = statistics.median(mcp_times)
    report = {
        "containers_on_engine": total,
        "rows_returned": rows,
        "rounds": args.rounds,
        "raw_median_ms": round(raw_median * 1000, 2),
        "raw_bytes": raw[-1][1],
        "mcp_median_ms": round(mcp_median * 1000, 2),
        "mcp_text_bytes": mcp_bytes,
        "ratio": round(mcp_median / raw_median, 2),
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "list_containers.json").write_text(json.dumps(report, indent=2) + "\n")
    print("| measure | raw GET /containers/json | list-containers via MCP (stdio) | ratio |")
    print("|---|---|---|---|")
    print(
        f"| median time ({args.rounds} rounds) | {report['raw_median_ms']} ms "
        f"| {report['mcp_median_ms']} ms | {report['ratio']}x |"
    )
    print(
        f"| bytes | {report['raw_bytes']} | {report['mcp_text_bytes']} (text block) | "
        f"{round(report['mcp_text_bytes'] / report['raw_bytes'], 2)}x |"
    )
    print(f"\n{total} containers on the engine, {rows} rows returned.")


if __name__ == "__main__":
    main()

"""The engine side of the benchmarks: raw Engine API calls (the baselines), fixtures, clean-up.

Everything a benchmark creates carries ``io.mcp-docker-server.bench=<run id>`` and is removed by
that label, so a crash part-way (or a cancelled build's leftovers) cannot leak resources.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import docker

LABEL_KEY = "io.mcp-docker-server.bench"
LOG_LINES = 100_000


def socket_path(host: str) -> str:
    """The filesystem path of a ``unix://`` engine address."""
    if not host.startswith("unix://"):
        raise SystemExit(f"the benchmarks need a unix:// engine (raw baselines use its socket), got {host}")
    return host.removeprefix("unix://")


def label_filter_query(run_id: str) -> str:
    """The ``filters=`` query value that selects this run's resources."""
    return urllib.parse.quote(json.dumps({"label": [f"{LABEL_KEY}={run_id}"]}))


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket: the thinnest possible Engine API client (keep-alive)."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


def raw_get(conn: UnixHTTPConnection, path: str) -> tuple[float, int]:
    """One timed GET; returns (seconds, body bytes). Raises on a non-2xx answer."""
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    if response.status >= 300:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return elapsed, len(body)


class Fixtures:
    """Containers shared by several benchmarks, made once per run on first use (blocking calls)."""

    def __init__(self, host: str, image: str, run_id: str) -> None:
        self._client = docker.DockerClient(base_url=host)
        self._image = image
        self._run_id = run_id
        self._listing: list[str] | None = None
        self._logs: str | None = None

    @property
    def labels(self) -> dict[str, str]:
        return {LABEL_KEY: self._run_id}

    def engine_version(self) -> str:
        return str(self._client.version().get("Version", "?"))

    def containers_on_engine(self) -> int:
        return len(self._client.api.containers(all=True))

    def listing_containers(self, count: int = 50) -> list[str]:
        """``count`` running ``sleep`` containers for the listing benchmarks."""
        if self._listing is None:
            # A few at a time: 2 cores, and another engineer's tests share the engine.
            with ThreadPoolExecutor(max_workers=4) as pool:
                self._listing = list(pool.map(self._start_sleeper, range(count)))
        return self._listing

    def _start_sleeper(self, index: int) -> str:
        container = self._client.containers.run(
            self._image,
            ["sleep", "3600"],
            name=f"mcpd-bench-{self._run_id}-{index}",
            detach=True,
            labels=self.labels,
        )
        return str(container.id)

    def logs_container(self) -> str:
        """An exited container that printed ``LOG_LINES`` lines (``seq``), for the logs benchmark."""
        if self._logs is None:
            container = self._client.containers.run(
                self._image,
                ["seq", "1", str(LOG_LINES)],
                name=f"mcpd-bench-{self._run_id}-logs",
                detach=True,
                labels=self.labels,
            )
            self._logs = str(container.id)
            status = container.wait(timeout=120)
            if status.get("StatusCode") != 0:
                raise RuntimeError(f"the logs container exited with {status}")
        return self._logs

    def cleanup(self) -> dict[str, int]:
        """Remove every container and image carrying this run's label; report what was left after."""
        selector: dict[str, str | list[str] | bool] = {"label": f"{LABEL_KEY}={self._run_id}"}
        removed = {"containers": 0, "images": 0}
        for container in self._client.containers.list(all=True, filters=selector):
            container.remove(force=True, v=True)
            removed["containers"] += 1
        # Newest first, so children go before the layers they were built on.
        images = self._client.api.images(all=True, filters=selector)
        for image in sorted(images, key=lambda item: item.get("Created", 0), reverse=True):
            try:
                self._client.api.remove_image(image["Id"], force=True)
                removed["images"] += 1
            except docker.errors.NotFound:
                pass  # already gone with a child removed just before
        removed["left_containers"] = len(self._client.containers.list(all=True, filters=selector))
        removed["left_images"] = len(self._client.api.images(all=True, filters=selector))
        return removed

    def close(self) -> None:
        self._client.close()

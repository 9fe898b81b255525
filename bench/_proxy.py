"""A unix-socket proxy in front of the engine that records every HTTP request passing through.

The server under test is pointed at the proxy (``DOCKER_HOST=unix://<proxy>``), so the count is
what the server really sends, whatever client library it uses. Requests are delimited by parsing
HTTP/1.1 framing (Content-Length or chunked bodies), not by guessing from the bytes; an upgraded
(hijacked) connection is passed through untouched after its one request.

It runs in its own threads so that it never competes with the benchmark's event loop; timing
benchmarks use a server connected to the engine directly and only count through the proxy.
"""

from __future__ import annotations

import contextlib
import re
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

_CHUNK = 65536


class _Reader:
    """Buffered reads from a socket, returning exactly the framing unit asked for."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        chunk = self.sock.recv(_CHUNK)
        self.buffer += chunk
        return bool(chunk)

    def until(self, delimiter: bytes) -> bytes | None:
        """Bytes up to and including ``delimiter``; None at end of stream."""
        while delimiter not in self.buffer:
            if not self._fill():
                return None
        head, self.buffer = self.buffer.split(delimiter, 1)
        return head + delimiter

    def exactly(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not self._fill():
                return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def _headers(head: bytes) -> dict[bytes, bytes]:
    pairs = (line.partition(b":") for line in head.split(b"\r\n")[1:] if line)
    return {name.strip().lower(): value.strip().lower() for name, _, value in pairs}


def _forward_chunked(reader: _Reader, upstream: socket.socket) -> bool:
    """Forward one chunked body; False if the stream ended inside it."""
    while (size_line := reader.until(b"\r\n")) is not None:
        upstream.sendall(size_line)
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            # Trailers, if any, end with an empty line.
            while (trailer := reader.until(b"\r\n")) is not None:
                upstream.sendall(trailer)
                if trailer == b"\r\n":
                    return True
            return False
        data = reader.exactly(size + 2)
        if data is None:
            return False
        upstream.sendall(data)
    return False


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes until ``source`` ends, then half-close ``target`` so its peer sees the end."""
    try:
        while chunk := source.recv(_CHUNK):
            target.sendall(chunk)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the other direction closed the connection; nothing left to copy


def _forward_requests(reader: _Reader, upstream: socket.socket, record: Callable[[str], None]) -> None:
    """Client to engine: forward request by request, recording each request line."""
    while (head := reader.until(b"\r\n\r\n")) is not None:
        record(head.split(b"\r\n", 1)[0].decode("latin-1"))
        upstream.sendall(head)
        headers = _headers(head)
        if b"upgrade" in headers.get(b"connection", b""):
            # attach/exec hijack: raw bytes from here on.
            upstream.sendall(reader.buffer)
            _pipe(reader.sock, upstream)
            return
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            if not _forward_chunked(reader, upstream):
                return
            continue
        body = reader.exactly(int(headers.get(b"content-length", b"0")))
        if body is None:
            return
        upstream.sendall(body)
    upstream.shutdown(socket.SHUT_WR)


def endpoint(request_line: str) -> str:
    """``GET /v1.41/containers/<64 hex>/json?x=1 HTTP/1.1`` -> ``GET /v1.41/containers/{id}/json``."""
    method, target, *_ = request_line.split(" ")
    path = re.sub(r"/[0-9a-f]{64}(?=/|$)", "/{id}", target.split("?", 1)[0])
    return f"{method} {path}"


class CountingProxy:
    """``with CountingProxy(engine_socket) as proxy:`` then point a server at ``proxy.host``."""

    def __init__(self, upstream_path: str) -> None:
        self._upstream = upstream_path
        self._folder = tempfile.TemporaryDirectory(prefix="mcpd-bench-proxy-")
        self.path = str(Path(self._folder.name, "engine.sock"))
        self._lock = threading.Lock()
        self._requests: list[str] = []
        self._server: socketserver.ThreadingUnixStreamServer | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def count(self) -> int:
        with self._lock:
            return len(self._requests)

    def requests_since(self, start: int) -> list[str]:
        with self._lock:
            return self._requests[start:]

    def _record(self, request_line: str) -> None:
        with self._lock:
            self._requests.append(request_line)

    def _handler(self) -> type[socketserver.BaseRequestHandler]:
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                client: socket.socket = self.request
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as upstream:
                    upstream.connect(proxy._upstream)
                    answers = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
                    answers.start()
                    with contextlib.suppress(OSError):  # either side hung up mid-request
                        _forward_requests(_Reader(client), upstream, proxy._record)
                    answers.join()

        return Handler

    def __enter__(self) -> CountingProxy:
        server = socketserver.ThreadingUnixStreamServer(self.path, self._handler())
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._folder.cleanup()

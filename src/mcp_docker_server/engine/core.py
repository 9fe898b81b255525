"""The engine handle: a lazily opened docker-py client, shared by every tool call.

docker-py is imported only when the first call needs it, so the server starts (and lists its
tools) fast, and starts at all when the engine is down. A call that finds the engine
unreachable drops the client, so the next call reconnects: restarting dockerd never requires
restarting the server.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread

from mcp_docker_server.config.settings import EngineTarget
from mcp_docker_server.errors import EngineUnavailable

if TYPE_CHECKING:
    import docker

__all__ = ["Engine", "forgo_charset_detection", "forgo_ssh", "lazy_module"]

T = TypeVar("T")

# Extra seconds on top of DOCKER_TIMEOUT before a call is abandoned: docker-py's own socket
# timeout fires first and gives the better error message.
_GRACE = 2.0


class Engine:
    """One Docker engine, reached through docker-py in worker threads."""

    def __init__(self, target: EngineTarget) -> None:
        self.target = target
        self._client: docker.DockerClient | None = None
        # Connecting can take long (an SSH banner waits 15 s): only connecting waits for
        # _connecting. _state guards the reference alone and is never held across I/O, so
        # reset(), which the event loop calls, never blocks behind a connection attempt.
        self._connecting = threading.Lock()
        self._state = threading.Lock()
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def host(self) -> str:
        """The engine's address as users know it."""
        return self.target.display

    def client(self) -> docker.DockerClient:
        """The connected client, opening it on first use (blocking; call from a worker thread).

        Raises:
            EngineUnavailable: the engine cannot be reached.
        """
        with self._state:
            if self._client is not None:
                return self._client
        with self._connecting:
            with self._state:
                if self._client is not None:  # another thread connected meanwhile
                    return self._client
            from mcp_docker_server.engine.connect import open_client

            fresh = open_client(self.target)
            with self._state:
                self._client = fresh
            return fresh

    def reset(self) -> None:
        """Forget the client so the next call reconnects (after the engine went away)."""
        with self._state:
            client, self._client = self._client, None
        if client is not None:
            # A dead connection may fail to close; there is nothing more to do with it.
            with contextlib.suppress(Exception):
                client.close()

    async def run(
        self,
        work: Callable[[docker.DockerClient], T],
        *,
        kind: str = "resource",
        ref: str | None = None,
        timeout: float | None = None,
        on_cancel: Callable[[], None] | None = None,
    ) -> T:
        """Run blocking docker-py ``work`` in a worker thread, under a deadline.

        Args:
            work: receives the client; its docker-py errors are translated.
            kind: what the call is about ("container", "image"...), for error messages.
            ref: the name or id it is about.
            timeout: seconds for this call (default DOCKER_TIMEOUT).
            on_cancel: called when the caller gives up (cancellation or deadline), to stop
                the engine-side work the abandoned thread started (for example, shut a stream).

        Raises:
            DockerServerError: every failure, translated; EngineUnavailable past the deadline.
        """
        deadline = timeout if timeout is not None else self.target.timeout
        host = self.host

        def call() -> T:
            from mcp_docker_server.engine.errors import translate_docker_errors

            with translate_docker_errors(host, kind, ref):
                return work(self.client())

        if self._limiter is None:
            from mcp_docker_server.engine.connect import pool_size

            self._limiter = anyio.CapacityLimiter(pool_size(self.target))
        try:
            with anyio.fail_after(deadline + _GRACE):
                return await anyio.to_thread.run_sync(call, limiter=self._limiter, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            if on_cancel is not None:
                on_cancel()
            raise
        except TimeoutError as exc:
            if on_cancel is not None:
                # A stream that ran out of time, not a hung engine: stop it, keep the client.
                on_cancel()
                raise EngineUnavailable(
                    f"The {kind} operation on {ref or host} did not finish within {deadline:g} s "
                    "and was stopped.",
                    hint="raise the call's timeout for long builds, pulls or pushes.",
                ) from exc
            self.reset()
            raise EngineUnavailable(
                f"Docker engine at {host} did not answer within {deadline:g} s.",
                hint="the engine may be overloaded or hung; check `docker info`, or raise DOCKER_TIMEOUT.",
            ) from exc
        except EngineUnavailable:
            self.reset()
            raise

    def close(self) -> None:
        """Close the client's connections."""
        self.reset()


class _LazyModule(ModuleType):
    """Imports the real module on first attribute access."""

    def __getattr__(self, name: str) -> Any:
        module = importlib.import_module(self.__name__)
        return getattr(module, name)


def lazy_module(name: str) -> ModuleType:
    """A stand-in for ``import name`` that defers the import (and docker-py's) to first use."""
    return _LazyModule(name)


def forgo_ssh() -> bool:
    """Keep docker-py from loading paramiko in a process that has no ssh:// engine.

    docker-py imports paramiko (and cryptography with it: about 7 MiB of memory and 40 ms)
    for its SSH adapter as soon as it is imported, and quietly does without the adapter when
    that import fails. Call before the first engine call; returns whether it took effect
    (False when paramiko is loaded already).
    """
    if "paramiko" in sys.modules:
        return sys.modules["paramiko"] is None
    sys.modules["paramiko"] = None  # type: ignore[assignment]  # Python's "do not import" marker
    return True


def forgo_charset_detection() -> bool:
    """Keep requests (under docker-py) from loading a character-set detector (2 MiB).

    The Engine API answers in JSON, which is UTF-8, and requests decodes JSON without guessing;
    with no detector it treats any other body as UTF-8 too. Call before docker-py is imported;
    returns whether it took effect.
    """
    if "requests" in sys.modules:
        return False
    for detector in ("chardet", "charset_normalizer"):
        sys.modules.setdefault(detector, None)  # type: ignore[arg-type]  # "do not import"
    # requests says, once, at import, that it found no detector: that is the point here.
    warnings.filterwarnings("ignore", message="Unable to find acceptable character detection")
    return True

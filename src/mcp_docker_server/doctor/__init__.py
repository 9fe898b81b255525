"""`mcp-docker-server doctor`: is this setup ready, and if not, what to fix.

Reads the settings the server would start with, then checks each engine (in parallel, a few
seconds each, through the same engine layer the tools use), Compose v2 and the docker CLI,
where registry credentials would come from, the HTTP settings, and shows the active policy.
Exit code: 0 all fine, 1 a problem (each problem line carries its fix), 2 a configuration
error (the server itself would refuse to start, the same one line it prints).
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace

import anyio
import anyio.to_thread

from mcp_docker_server import __version__
from mcp_docker_server.buildx import Buildx, BuildxInfo
from mcp_docker_server.compose.runner import ComposeRunner, compose_env
from mcp_docker_server.config.engines_file import EngineConfig
from mcp_docker_server.config.settings import EngineTarget, Settings, load_settings
from mcp_docker_server.doctor.checks import (
    docker_cli_lines,
    http_lines,
    policy_data,
    policy_lines,
    registry_lines,
    warning_lines,
)
from mcp_docker_server.doctor.report import EngineProbe, Line, Report, render_json, render_text
from mcp_docker_server.engine import Engine, System
from mcp_docker_server.errors import ConfigError, DockerServerError, EngineUnavailable
from mcp_docker_server.flags import parse_args

__all__ = ["run_doctor", "transport_of"]

DEFAULT_BUDGET = 5.0
_COMPOSE_BUDGET = 10.0
# Past the engine layer's own deadline (budget + 2 s), the isolated probe is abandoned.
_PROBE_GRACE = 3.0


def run_doctor(argv: Sequence[str]) -> int:
    """Check the setup; print the report; return the exit code (0 fine, 1 problems, 2 config)."""
    parser = argparse.ArgumentParser(
        prog="mcp-docker-server doctor",
        description="Check engines, Compose, registry credentials, HTTP and policy. Takes every "
        "server flag too (see mcp-docker-server --help). Exit 0 fine, 1 problems, 2 bad settings.",
    )
    parser.add_argument("--json", action="store_true", help="One JSON object instead of text.")
    parser.add_argument(
        "--probe-timeout",
        type=_seconds,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help=f"Budget for each engine probe (default {DEFAULT_BUDGET:g}); engines are probed in parallel.",
    )
    own, rest = parser.parse_known_args(list(argv))
    flags = parse_args(rest)
    try:
        settings = load_settings(os.environ, flags)
    except ConfigError as exc:
        print(f"mcp-docker-server: configuration error: {exc}", file=sys.stderr)
        if own.json:
            error = {"setting": exc.setting, "problem": exc.message, "fix": exc.hint}
            print(json.dumps({"ok": False, "config_error": error}, indent=2))
        return 2
    # paramiko logs a failed SSH handshake with its traceback; the report states it in one line.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    policy_file = flags.get("MCP_DOCKER_POLICY_FILE") or os.environ.get("MCP_DOCKER_POLICY_FILE")
    report = anyio.run(_examine, settings, own.probe_timeout, policy_file or None)
    sys.stdout.write(render_json(report) if own.json else render_text(report))
    sys.stdout.flush()
    code = 0 if report.ok else 1
    if not _workers_finished(within=1.0):
        # A probe abandoned past its budget may still sit in a blocking connect; interpreter
        # shutdown would wait for that thread, and doctor must not hang on a dead engine.
        sys.stderr.flush()
        os._exit(code)
    return code


def _workers_finished(within: float) -> bool:
    deadline = time.monotonic() + within
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, deadline - time.monotonic()))
    return not any(
        t.is_alive() and not t.daemon and t is not threading.current_thread() for t in threading.enumerate()
    )


async def _examine(settings: Settings, budget: float, policy_file: str | None) -> Report:
    configs = settings.engine_configs()
    probes: dict[str, EngineProbe] = {}
    compose: list[Line] = []

    limiter = anyio.CapacityLimiter(len(configs))

    async def probe(config: EngineConfig) -> None:
        default, from_file = config.name == settings.default_engine, bool(settings.engines)
        probes[config.name] = await _isolated_probe(config, budget, default, from_file, limiter)

    async def find_compose() -> None:
        compose.extend(await compose_lines(settings))
        compose.extend(await buildx_lines(settings))

    async with anyio.create_task_group() as group:
        for config in configs:
            group.start_soon(probe, config)
        group.start_soon(find_compose)
    path_env = os.environ.get("PATH")
    source = f"file {policy_file}" if policy_file else "defaults and MCP_DOCKER_* variables"
    lines = [
        *warning_lines(settings.warnings),
        *compose,
        *docker_cli_lines(path_env),
        *registry_lines(settings.registry, settings.docker_config, path_env),
        *(http_lines(settings.http) if settings.transport == "http" else []),
        *policy_lines(settings, source),
    ]
    return Report(
        version=__version__,
        budget_s=budget,
        engines=tuple(probes[c.name] for c in configs),
        lines=tuple(lines),
        policy=policy_data(settings, source),
    )


async def _isolated_probe(
    config: EngineConfig, budget: float, default: bool, from_file: bool, limiter: anyio.CapacityLimiter
) -> EngineProbe:
    """:func:`probe_engine` in a thread with an event loop of its own, abandoned past the budget.

    A connect can block longer than any timeout given to it (paramiko waits 15 s for an SSH
    banner), and the engine layer drops a timed-out client under a lock the blocked connect
    holds; isolated, such a probe stalls neither the others nor the report.
    """
    limit = budget + _PROBE_GRACE

    def run() -> EngineProbe:
        work = functools.partial(probe_engine, config, budget, default=default, from_file=from_file)
        return anyio.run(work)

    with anyio.move_on_after(limit):
        return await anyio.to_thread.run_sync(run, abandon_on_cancel=True, limiter=limiter)
    base = _base_probe(config, default, from_file)
    late = EngineUnavailable(f"Docker engine at {base.host} did not answer within {budget:g} s.")
    return replace(
        base,
        elapsed_ms=int(limit * 1000),
        error=late.message,
        fix=_engine_fix(late, base.transport, budget, base.source),
    )


async def probe_engine(config: EngineConfig, budget: float, *, default: bool, from_file: bool) -> EngineProbe:
    """Reach one engine through the engine layer, within ``budget`` seconds (roughly)."""
    # The probe's own copy of the target: docker-py's socket timeout is then the budget too,
    # so a silent engine fails the connect or the read in time, not after DOCKER_TIMEOUT.
    target = replace(config.target, timeout=min(budget, config.target.timeout))
    engine = Engine(target)
    base = _base_probe(config, default, from_file)
    transport, source = base.transport, base.source
    started = time.monotonic()
    try:
        version = await System(engine).version(timeout=target.timeout)
    except DockerServerError as exc:
        # No close(): a failed call has already dropped its client.
        return replace(
            base,
            elapsed_ms=_ms_since(started),
            error=exc.message,
            fix=_engine_fix(exc, transport, budget, source),
        )
    engine.close()
    return replace(
        base,
        elapsed_ms=_ms_since(started),
        reachable=True,
        engine_version=version["version"],
        api_version=version["api_version"],
        os_arch=version["os_arch"],
    )


def _base_probe(config: EngineConfig, default: bool, from_file: bool) -> EngineProbe:
    target = config.target
    source = target.source
    if from_file:
        source = f"engines file, {source}" if source.startswith("context ") else "engines file"
    return EngineProbe(
        name=config.name,
        host=target.display,
        transport=transport_of(target),
        source=source,
        default=default,
        read_only=config.policy.read_only,
        elapsed_ms=0,
        reachable=False,
    )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def transport_of(target: EngineTarget) -> str:
    """unix, tcp, tls (verified), tls-noverify or ssh."""
    if target.tls is not None:
        return "tls" if target.tls.verify else "tls-noverify"
    return target.scheme


def _engine_fix(exc: DockerServerError, transport: str, budget: float, source: str) -> str:
    """What to do about an engine that did not answer: the cause first, then where it is set."""
    text = exc.message
    if "engines file" in source:
        where = "its entry in MCP_DOCKER_ENGINES_FILE"
    elif source == "default":
        where = "DOCKER_HOST (unset: the default socket)"
    else:
        where = "DOCKER_CONTEXT" if source.startswith("context ") else "DOCKER_HOST"
    if not isinstance(exc, EngineUnavailable):
        return (exc.hint or "check the engine").rstrip(".") + "."
    if "did not answer" in text:
        action = (
            f"nothing answered within the {budget:g} s budget: check that the engine is not hung "
            "(`docker info`), or give it longer with --probe-timeout"
        )
    elif "No such file" in text:
        action = "start dockerd (e.g. `systemctl start docker`), or point " + where + " at its socket"
        where = ""
    elif "Permission denied" in text:
        action = "let this user read the socket (the docker group), or run as one who can"
    elif "Connection refused" in text:
        action = "start the engine, or make it listen on that address"
    elif transport.startswith("tls") and ("SSL" in text or "certificate" in text):
        action = "give the client certificate, key and CA the engine trusts (DOCKER_CERT_PATH / cert_path)"
    else:
        action = (exc.hint or "check the engine").rstrip(".")
    return f"{action}; or fix {where}." if where else f"{action}."


async def compose_lines(settings: Settings) -> list[Line]:
    """Compose v2: found or not, and its version."""
    runner = ComposeRunner(compose_env(settings.engine, settings.docker_config, os.environ))
    try:
        with anyio.fail_after(_COMPOSE_BUDGET):
            prefix = await runner.prefix()
            version = await runner.version()
    except DockerServerError as exc:
        return [Line("compose", "fail", f"{exc.message} compose-stack will fail", exc.hint)]
    except TimeoutError:
        return [
            Line(
                "compose",
                "fail",
                f"`docker compose version` did not answer within {_COMPOSE_BUDGET:g} s",
                "check the Compose install (`docker compose version` by hand).",
            )
        ]
    return [Line("compose", "ok", f"Compose v{version} ({' '.join(prefix)})")]


async def buildx_lines(settings: Settings) -> list[Line]:
    """buildx: BuildKit builds for build-image and Compose, or the classic builder without it;
    one older than 0.17 breaks every Compose build ("compose build requires buildx 0.17")."""
    buildx = Buildx(compose_env(settings.engine, settings.docker_config, os.environ), "default")
    try:
        with anyio.fail_after(_COMPOSE_BUDGET):
            info = await buildx.info()
    except TimeoutError:
        info = BuildxInfo("", False, f"`docker buildx version` did not answer within {_COMPOSE_BUDGET:g} s")
    install = "install buildx 0.17 or later (Debian: docker-buildx; Docker: docker-buildx-plugin)"
    if info.usable:
        return [Line("buildx", "ok", f"buildx v{info.version}: builds use BuildKit")]
    if info.version:
        return [
            Line(
                "buildx",
                "warn",
                f"{info.reason}: Compose builds fail with it and build-image uses the classic builder",
                f"{install}, in place of this one.",
            )
        ]
    return [
        Line(
            "buildx",
            "warn",
            f"no buildx ({info.reason}): build-image uses the classic builder (no RUN --mount, "
            "heredocs, build secrets)",
            f"{install}.",
        )
    ]


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds in (0, 60]")
    return value

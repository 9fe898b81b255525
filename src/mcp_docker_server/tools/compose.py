"""compose-stack: multi-container applications on the real Docker Compose v2."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, ElicitationResult, Resolve
from pydantic import Field

from mcp_docker_server.compose import ComposePlan, compose_argv, parse_ps, project_requests
from mcp_docker_server.compose.plan import compose_failure, tail_lines, up_argv, validate_project_name
from mcp_docker_server.errors import ComposeError, InvalidArgument
from mcp_docker_server.models import ComposeResult
from mcp_docker_server.shaping import BoundedTail
from mcp_docker_server.tools._base import DESTRUCTIVE
from mcp_docker_server.tools._confirm import Confirm, confirm_compose, ensure_confirmed
from mcp_docker_server.tools._guard import Guard
from mcp_docker_server.tools._output import line_progress

__all__ = ["compose_file_path", "load_config", "register"]

Action = Literal[
    "up", "down", "start", "stop", "restart", "ps", "logs", "pull", "build", "config", "validate"
]
_LOG_CAP = 16 * 1024


def register(guard: Guard) -> None:
    """Add compose-stack to the guard's tool list."""

    async def compose_stack(
        compose_file: Annotated[str, Field(min_length=1, description="Path to the compose file.")],
        action: Action,
        ctx: Context[Any],
        confirmation: Annotated[ElicitationResult[Confirm], Resolve(confirm_compose)],
        project_name: Annotated[
            str | None, Field(description="Project name (default: the folder's).")
        ] = None,
        services: Annotated[list[str] | None, Field(description="Only these services.")] = None,
        build: Annotated[bool, Field(description="up: build images first.")] = False,
        remove_volumes: Annotated[
            bool, Field(description="down: also delete the project's volumes.")
        ] = False,
        wait: Annotated[bool, Field(description="up: wait until running/healthy.")] = True,
        tail: Annotated[int, Field(ge=1, le=5000, description="logs: lines per service.")] = 100,
        timeout: Annotated[
            float, Field(gt=0, le=3600, description="Seconds before Compose is stopped.")
        ] = 300,
    ) -> ComposeResult:
        """Run Docker Compose v2: up, down, start, stop, restart, ps, logs, pull, build, config."""
        ensure_confirmed(confirmation)
        plan = ComposePlan(
            file=compose_file_path(compose_file),
            project=validate_project_name(project_name) if project_name else None,
            action=action,
            services=tuple(services or ()),
            build=build,
            wait=wait,
            remove_volumes=remove_volumes,
            tail=tail,
            timeout=timeout,
        )
        runner = guard.state.compose
        progress = line_progress(ctx)

        async def run(step: ComposePlan, argv: list[str] | None = None) -> tuple[str, str]:
            done = await runner.run(
                argv or compose_argv(step), cwd=plan.file.parent, timeout=plan.timeout, on_progress=progress
            )
            if done.returncode != 0:
                raise compose_failure(step, done.argv, done.returncode, done.stderr)
            return done.stdout, done.stderr

        async def states() -> list[Any]:
            stdout, _ = await run(replace(plan, action="ps"))
            return parse_ps(stdout)

        if action in ("config", "validate", "up"):
            stdout, _ = await run(replace(plan, action="config"))
            config = load_config(stdout, plan.file)
            if action == "up":
                admitted = await guard.admit_compose(plan, project_requests(config))
                _, said = await run(plan, up_argv(admitted))
                return ComposeResult(
                    action=action,
                    project=config.get("name"),
                    services=await states(),
                    output=tail_lines(said, 5) or None,
                )
            return ComposeResult(
                action=action,
                project=config.get("name"),
                config={
                    n: str(s.get("image") or "(built)") for n, s in (config.get("services") or {}).items()
                },
                volumes=sorted(config.get("volumes") or {}),
                networks=sorted(config.get("networks") or {}),
            )
        if action == "ps":
            return ComposeResult(action=action, project=plan.project, services=await states())
        if action == "logs":
            stdout, _ = await run(plan)
            kept = BoundedTail(_LOG_CAP)
            kept.add(stdout.encode())
            return ComposeResult(
                action=action,
                project=plan.project,
                output=kept.text(),
                truncated=kept.dropped,
                note="Older lines were cut; lower tail or name services." if kept.dropped else None,
            )
        _, said = await run(plan)
        rows = [] if action == "down" else await states() if action in ("start", "stop", "restart") else None
        return ComposeResult(
            action=action, project=plan.project, services=rows, output=tail_lines(said, 5) or None
        )

    guard.add(
        compose_stack,
        name="compose-stack",
        title="Compose stack",
        annotations=DESTRUCTIVE,
        read_actions=("ps", "logs", "config", "validate"),
    )


def compose_file_path(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path(os.getcwd()) / path
    if not path.is_file():
        raise InvalidArgument(
            f"Compose file not found: {path}.",
            hint="give the path of a compose file (absolute, or relative to where the server runs).",
        )
    return path


def load_config(stdout: str, file: Path) -> dict[str, Any]:
    try:
        config = json.loads(stdout)
    except ValueError as exc:
        raise ComposeError(f"Compose printed a configuration for {file} that is not JSON: {exc}.") from exc
    if not isinstance(config, dict):
        raise ComposeError(f"Compose printed an unexpected configuration for {file}.")
    return config

"""The tools behind the engine seam (engine/ports.py): fakes stand in for the engine facades,
and the tools run through the official in-memory MCP client in milliseconds. What is checked:
policy refusals happen before any engine call, the created container's description is judged,
existing containers are judged before acting on them, results and errors keep their shapes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import regex
from mcp import Client
from mcp.types import CallToolResult, TextContent

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.engine._admission_sync import ProjectResources
from mcp_docker_server.policy import Admitted, Policy
from mcp_docker_server.policy.admission import ContainerDescription, NetworkInfo, VolumeInfo
from mcp_docker_server.results.containers import (
    ContainerDetail,
    ContainerList,
    ContainerRow,
    ContainerState,
    ExecResult,
    LogsResult,
    ManageResult,
    ProcessTable,
    RunResult,
    StatsResult,
)
from mcp_docker_server.server import build_server
from mcp_docker_server.specs.containers import ContainerSpec, ExecSpec
from mcp_docker_server.state import Facades

pytestmark = pytest.mark.anyio

PLAIN = ContainerDescription(
    name="web",
    config={"Image": "busybox:local", "Cmd": ["sleep", "1"]},
    host_config={"NetworkMode": "bridge", "CapDrop": ["MKNOD"]},
)


@dataclass
class FakeContainers:
    """A ContainersPort that records calls and answers from memory."""

    calls: list[str] = field(default_factory=list)
    created: ContainerDescription = PLAIN

    async def list(
        self,
        *,
        include_stopped: bool = False,
        status: str | None = None,
        labels: list[str] | None = None,
        name: str | None = None,
        limit: int = 50,
    ) -> ContainerList:
        self.calls.append(f"list name={name}")
        row = ContainerRow(id="0123456789ab", name="web", image="busybox:local", state="running", status="Up")
        return ContainerList(containers=[row], total=1)

    async def inspect(self, ref: str, *, show_env: bool = False) -> ContainerDetail:
        self.calls.append(f"inspect {ref}")
        return ContainerDetail(
            id="0123456789ab",
            name=ref,
            image="busybox:local",
            image_id="fedcba987654",
            created="2026-11-29T00:00:00",
            state=ContainerState(status="running"),
            command=["sleep", "1"],
        )

    async def logs(
        self,
        ref: str,
        *,
        tail: int,
        since: str | None,
        until: str | None,
        timestamps: bool,
        pattern: regex.Pattern[str] | None,
        max_bytes: int,
    ) -> LogsResult:
        self.calls.append(f"logs {ref} tail={tail}")
        return LogsResult(container=ref, lines=1, text="hello\n")

    async def default_user(self, ref: str) -> str:
        return ""

    async def stats(self, ref: str) -> StatsResult:
        raise AssertionError("not used here")

    async def top(self, ref: str, *, ps_args: str | None, limit: int) -> ProcessTable:
        raise AssertionError("not used here")

    async def manage(
        self, ref: str, *, action: str, force: bool, timeout: int | None, signal: str | None
    ) -> ManageResult:
        self.calls.append(f"manage {ref} {action}")
        return ManageResult(id="0123456789ab", name=ref, action=action, state="exited")

    async def run(
        self,
        admitted: Admitted[ContainerSpec],
        *,
        detach: bool,
        pull: str,
        wait_timeout: float,
        max_bytes: int,
        judge: Callable[[ContainerDescription], None],
        auth_config: Mapping[str, str] | None = None,
    ) -> RunResult:
        spec = admitted.unwrap()
        self.calls.append(f"create {spec.image}")
        judge(self.created)  # the engine's description of what it created, before the start
        self.calls.append("start")
        return RunResult(id="0123456789ab", name="web", image=spec.image, state="running")

    async def exec(self, admitted: Admitted[ExecSpec], *, timeout: float, max_bytes: int) -> ExecResult:
        self.calls.append(f"exec {admitted.unwrap().command}")
        return ExecResult(exit_code=0, stdout="ok\n", stderr="")


@dataclass
class FakeAdmission:
    """An AdmissionPort describing existing containers as told."""

    described: dict[str, ContainerDescription] = field(default_factory=dict)

    async def container(self, ref: str) -> ContainerDescription:
        return self.described.get(ref, PLAIN)

    async def bind_sources(self) -> tuple[tuple[str, bool, str], ...]:
        return ()

    async def service(
        self, ref: str, *, previous: bool = False
    ) -> tuple[str, dict[str, Any], list[str], dict[str, VolumeInfo], dict[str, NetworkInfo]]:
        raise AssertionError("not used here")

    async def project(self, project: str) -> ProjectResources:
        return ProjectResources()

    async def project_containers(
        self, project: str, services: Iterable[str], built_images: frozenset[str]
    ) -> list[ContainerDescription]:
        return []

    async def remove(self, made: ProjectResources) -> None:
        return None


@dataclass
class Rig:
    client: Client
    containers: FakeContainers
    admission: FakeAdmission


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def rig(policy: Policy | None = None) -> AsyncIterator[Rig]:
    containers, admission = FakeContainers(), FakeAdmission()
    settings = load_settings({"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    server = build_server(
        settings, policy=policy or Policy(), facades=Facades(containers=containers, admission=admission)
    )
    async with Client(server) as client:
        yield Rig(client, containers, admission)


@pytest.fixture
async def tools() -> AsyncIterator[Rig]:
    async for made in rig():
        yield made


def text(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_a_listing_goes_to_the_engine_once_and_keeps_its_shape(tools: Rig) -> None:
    result = await tools.client.call_tool("list-containers", {"name": "we"})
    assert not result.is_error
    content = result.structured_content
    assert content is not None
    assert content["total"] == 1
    assert [(c["id"], c["name"], c["state"]) for c in content["containers"]] == [
        ("0123456789ab", "web", "running")
    ]
    assert tools.containers.calls == ["list name=we"]


async def test_a_privileged_request_is_refused_before_any_engine_call(tools: Rig) -> None:
    result = await tools.client.call_tool(
        "run-container", {"image": "busybox:local", "privileged": True, "command": ["true"]}
    )
    assert result.is_error
    assert "policy rule 'privileged'" in text(result)
    assert tools.containers.calls == []


async def test_what_the_engine_created_is_judged_before_it_starts(tools: Rig) -> None:
    """A field the request model never sets shows up in the engine's description: refused,
    and the container never starts."""
    tools.containers.created = replace(PLAIN, host_config={**PLAIN.host_config, "CgroupParent": "/"})
    result = await tools.client.call_tool("run-container", {"image": "busybox:local", "command": ["true"]})
    assert result.is_error
    assert "HostConfig.CgroupParent" in text(result)
    assert 'allow_container_fields = ["HostConfig.CgroupParent"]' in text(result)
    assert tools.containers.calls == ["create busybox:local"]


async def test_an_unknown_engine_field_with_a_value_is_refused_by_name(tools: Rig) -> None:
    tools.containers.created = replace(PLAIN, host_config={**PLAIN.host_config, "NewKnob": {"on": True}})
    result = await tools.client.call_tool("run-container", {"image": "busybox:local"})
    assert result.is_error
    assert "policy rule 'unknown-field'" in text(result)
    assert "HostConfig.NewKnob" in text(result)


async def test_exec_and_start_judge_the_existing_container(tools: Rig) -> None:
    tools.admission.described["outsider"] = replace(
        PLAIN, name="outsider", host_config={**PLAIN.host_config, "PidMode": "host"}
    )
    for tool, args in (
        ("exec-container", {"container_id": "outsider", "command": ["id"]}),
        ("manage-container", {"container_id": "outsider", "action": "start"}),
    ):
        result = await tools.client.call_tool(tool, args)
        assert result.is_error
        assert "policy rule 'host-pid'" in text(result)
        assert "allow_foreign_containers = true" in text(result)
    stopped = await tools.client.call_tool("manage-container", {"container_id": "outsider", "action": "stop"})
    assert not stopped.is_error
    assert tools.containers.calls == ["manage outsider stop"]


async def test_an_admitted_exec_runs_and_keeps_its_result_shape(tools: Rig) -> None:
    result = await tools.client.call_tool("exec-container", {"container_id": "web", "command": "echo ok"})
    assert not result.is_error
    content = result.structured_content
    assert content is not None
    assert (content["exit_code"], content["stdout"], content["stderr"]) == (0, "ok\n", "")
    assert tools.containers.calls == ["exec ('echo', 'ok')"]


async def test_read_only_mode_refuses_exec_without_asking_the_engine() -> None:
    async for made in rig(replace(Policy(), read_only=True)):
        listed = {tool.name for tool in (await made.client.list_tools()).tools}
        assert "exec-container" not in listed
        assert "list-containers" in listed
        result = await made.client.call_tool("exec-container", {"container_id": "web", "command": ["id"]})
        assert result.is_error
        assert made.containers.calls == []


async def test_argument_errors_name_the_argument_and_the_shape(tools: Rig) -> None:
    result = await tools.client.call_tool("container-logs", {"container_id": "web", "max_bytes": 1})
    assert result.is_error
    said = text(result)
    assert re.search(r"max_bytes .*at least 512", said), said
    assert "pydantic" not in said
    assert tools.containers.calls == []


async def test_a_tool_is_a_module_level_function_callable_without_the_protocol() -> None:
    """The tool functions are importable and callable on the app state directly (the guard's
    checks and the argument model are what the MCP call adds around them)."""
    from mcp_docker_server.engine import Engine
    from mcp_docker_server.state import AppState, EngineSet
    from mcp_docker_server.tools import Guard
    from mcp_docker_server.tools.containers import list_containers

    containers = FakeContainers()
    settings = load_settings({"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    state = AppState(settings, Engine(settings.engine), Policy(), facades=Facades(containers=containers))
    guard = Guard(EngineSet([state], state.name))
    listed = await list_containers(guard, name="we")
    assert [row.name for row in listed.containers] == ["web"]
    assert containers.calls == ["list name=we"]

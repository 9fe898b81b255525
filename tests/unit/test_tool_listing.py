"""The tool list's state (tools/listing.py): swarm tools only on a swarm manager, optional
families as stubs until first called, and a change notified once per change."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp.server.subscriptions import ServerEvent, ToolsListChanged
from mcp.types import Tool, ToolAnnotations

from mcp_docker_server.tools.catalog import CATALOG, ToolName
from mcp_docker_server.tools.listing import ToolListing

pytestmark = pytest.mark.anyio


class RecordingBus:
    """A subscription bus that keeps what was published."""

    def __init__(self) -> None:
        self.events: list[ServerEvent] = []

    async def publish(self, event: ServerEvent) -> None:
        self.events.append(event)

    def subscribe(self, listener: Any) -> Any:
        return lambda: None


def tool(name: str) -> Tool:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    return Tool(
        name=name,
        title=name.title(),
        description="Does one thing. Then more, at length.",
        input_schema=schema,
        annotations=ToolAnnotations(read_only_hint=True),
    )


ALL = [tool(name) for name in CATALOG]


def listing() -> tuple[ToolListing, RecordingBus]:
    bus = RecordingBus()
    return ToolListing(CATALOG, bus), bus


def names(tools: list[Tool]) -> set[str]:
    return {t.name for t in tools}


def test_by_default_swarm_tools_are_hidden_and_optional_ones_are_stubs() -> None:
    shown = listing()[0].shape(ALL)
    assert names(shown) == set(CATALOG) - {ToolName.SERVICE_MANAGEMENT, ToolName.STACK_MANAGEMENT}
    stubs = {t.name: t for t in shown if t.input_schema == {"type": "object", "properties": {}}}
    assert set(stubs) == {ToolName.IMAGE_SECURITY, ToolName.KUBERNETES_EXPORT, ToolName.DEV_CONTAINER}
    stub = stubs[ToolName.IMAGE_SECURITY]
    summary = CATALOG[ToolName.IMAGE_SECURITY].summary
    assert stub.description == f"{summary}. Parameters: call it with {{}} once, they are then listed."
    assert stub.annotations == ToolAnnotations(read_only_hint=True)
    full = next(t for t in shown if t.name == ToolName.RUN_CONTAINER)
    assert full.input_schema["required"] == ["a"]


async def test_a_first_call_publishes_the_full_definition_once() -> None:
    state, bus = listing()
    await state.note_call(ToolName.KUBERNETES_EXPORT)
    await state.note_call(ToolName.KUBERNETES_EXPORT)
    await state.note_call(ToolName.RUN_CONTAINER)  # always listed: nothing changes
    assert bus.events == [ToolsListChanged()]
    shown = {t.name: t for t in state.shape(ALL)}
    assert shown[ToolName.KUBERNETES_EXPORT].input_schema["required"] == ["a"]
    assert shown[ToolName.IMAGE_SECURITY].input_schema == {"type": "object", "properties": {}}


async def test_swarm_tools_follow_the_engines_role() -> None:
    state, bus = listing()
    await state.note_swarm(False)
    assert bus.events == []
    await state.note_swarm(True)
    assert {ToolName.SERVICE_MANAGEMENT, ToolName.STACK_MANAGEMENT} <= names(state.shape(ALL))
    await state.note_swarm(False)
    assert ToolName.SERVICE_MANAGEMENT not in names(state.shape(ALL))
    assert bus.events == [ToolsListChanged(), ToolsListChanged()]


async def test_the_engine_is_asked_only_after_the_first_list_and_again_on_recheck() -> None:
    state, bus = listing()
    answers: list[bool | None] = [None, True, False]
    asked = 0

    async def is_manager() -> bool | None:
        nonlocal asked
        asked += 1
        return answers[asked - 1]

    async with anyio.create_task_group() as group:
        group.start_soon(state.follow_swarm, is_manager)
        await anyio.sleep(0.05)
        assert asked == 0  # no client answered yet: the engine is not asked
        state.shape(ALL)
        state.listed.set()
        await anyio.sleep(0.05)
        assert asked == 1  # the engines could not say: nothing changes
        assert bus.events == []
        state.recheck.set()
        await anyio.sleep(0.05)
        assert state.swarm_manager is True
        state.recheck.set()
        await anyio.sleep(0.05)
        assert state.swarm_manager is False
        group.cancel_scope.cancel()
    assert asked == 3
    assert bus.events == [ToolsListChanged(), ToolsListChanged()]

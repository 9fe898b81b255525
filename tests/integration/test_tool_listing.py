"""The adaptive tool list against the real engines and the official client, in both protocol
eras: swarm tools appear on a swarm manager (announced by tools/list_changed), optional tools
show their parameters after a first call."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client
from mcp.client.subscriptions import ToolsListChanged
from mcp.types import ToolListChangedNotification

from mcp_docker_server.server import build_server
from tests.conftest import env, error_text, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

SWARM_TOOLS = {"service-management", "stack-management"}


async def listed(client: Client) -> dict[str, object]:
    return {t.name: t.input_schema for t in (await client.list_tools()).tools}


async def test_on_a_swarm_manager_the_swarm_tools_are_announced_to_a_legacy_client() -> None:
    changed = anyio.Event()

    async def handler(message: object) -> None:
        if isinstance(message, ToolListChangedNotification):
            changed.set()

    server = build_server(settings_for(env("MCPD_TEST_SWARM_MANAGER_HOST")))
    async with Client(server, mode="legacy", message_handler=handler) as client:
        assert client.server_capabilities.tools is not None
        assert client.server_capabilities.tools.list_changed is True
        first = await listed(client)
        assert SWARM_TOOLS.isdisjoint(first)  # answered before the engine is asked
        with anyio.fail_after(20):
            await changed.wait()
        assert set(await listed(client)) >= SWARM_TOOLS


async def test_on_a_swarm_manager_the_swarm_tools_are_announced_on_a_listen_stream() -> None:
    server = build_server(settings_for(env("MCPD_TEST_SWARM_MANAGER_HOST")))
    async with Client(server) as client, client.listen(tools_list_changed=True) as events:
        await listed(client)
        with anyio.fail_after(20):
            async for event in events:
                if isinstance(event, ToolsListChanged):
                    break
        assert set(await listed(client)) >= SWARM_TOOLS


async def test_an_optional_tool_shows_its_parameters_after_a_first_call(unix_host: str) -> None:
    changed = anyio.Event()

    async def handler(message: object) -> None:
        if isinstance(message, ToolListChangedNotification):
            changed.set()

    async with Client(
        build_server(settings_for(unix_host)), mode="legacy", message_handler=handler
    ) as client:
        before = await listed(client)
        assert before["kubernetes-export"] == {"type": "object", "properties": {}}
        assert SWARM_TOOLS.isdisjoint(before)  # the primary engine is no swarm manager
        text = error_text(await client.call_tool("kubernetes-export", {}))
        assert "source" in text  # the error names the arguments
        with anyio.fail_after(10):
            await changed.wait()
        after = await listed(client)
        schema = after["kubernetes-export"]
        assert isinstance(schema, dict)
        assert "source" in schema["properties"]
        assert after["image-security"] == {"type": "object", "properties": {}}  # still a stub


async def test_a_hidden_tool_can_still_be_called_by_name(unix_host: str) -> None:
    async with Client(build_server(settings_for(unix_host))) as client:
        assert "service-management" not in await listed(client)
        text = error_text(await client.call_tool("service-management", {"action": "list"}))
        assert "swarm" in text.lower()

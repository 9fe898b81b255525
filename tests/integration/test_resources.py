"""docker:// resources and completions on real engines, under the operator's rules."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client, MCPError
from mcp.types import PromptReference, ResourceTemplateReference, TextResourceContents

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, env, settings_for
from tests.integration.test_engines import engines_file

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

SECRET = "hunter2-" + "x" * 12


@pytest.fixture
def chatty(docker_client: docker.DockerClient, test_image: str) -> Iterator[Any]:
    """A labelled container that printed 3,000 lines, a secret among them, and exited."""
    script = (
        'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo "line $i of a chatty container, padded out"; done; '
        f"echo password={SECRET}; echo done"
    )
    container = docker_client.containers.run(
        test_image, ["sh", "-c", script], detach=True, name=f"mcpd-res-{uuid.uuid4().hex[:8]}",
        labels={LABEL_KEY: RUN_ID}, environment={"API_TOKEN": SECRET, "MODE": "quiet-mode"},
    )  # fmt: skip
    container.wait(timeout=30)
    yield container
    container.remove(force=True)


def text(result: Any) -> str:
    content = result.contents[0]
    assert isinstance(content, TextResourceContents)
    return content.text


async def test_the_scheme_is_listed(client: Client) -> None:
    assert [r.uri for r in (await client.list_resources()).resources] == ["docker://engine/info"]
    templates = {t.uri_template: t for t in (await client.list_resource_templates()).resource_templates}
    assert set(templates) == {
        "docker://containers/{container}/inspect",
        "docker://containers/{container}/logs{?tail}",
        "docker://containers/{container}/stats",
        "docker://images/{+image}",
        "docker://networks/{network}",
        "docker://volumes/{volume}",
        "docker://compose/{project}",
    }
    assert templates["docker://containers/{container}/logs{?tail}"].mime_type == "text/plain"
    listed = json.dumps([t.model_dump(mode="json") for t in templates.values()])
    assert len(listed) < 4000  # every client that lists them pays for the text


async def test_container_inspect_hides_env_values_and_secrets(client: Client, chatty: Any) -> None:
    shown = json.loads(text(await client.read_resource(f"docker://containers/{chatty.name}/inspect")))
    assert shown["name"] == chatty.name
    assert shown["state"]["status"] == "exited"
    assert shown["env"]["API_TOKEN"] != SECRET
    assert shown["env"]["MODE"] != "quiet-mode"  # values hidden, as inspect-container without show_env
    assert SECRET not in json.dumps(shown)


async def test_container_logs_are_bounded_delimited_and_redacted(client: Client, chatty: Any) -> None:
    body = text(await client.read_resource(f"docker://containers/{chatty.id[:12]}/logs"))
    match = re.search(r"<<<DATA-([0-9a-f]{8})\n(.*)\nDATA-\1>>>", body, re.S)
    assert match, body[:300]
    lines = match.group(2).splitlines()
    assert lines[-1] == "done"
    assert len(lines) == 100  # the default tail
    assert SECRET not in body
    assert "untrusted" in body
    tail = text(await client.read_resource(f"docker://containers/{chatty.name}/logs?tail=1000"))
    assert len(tail.encode()) < 16 * 1024 + 600  # 1,000 lines cut to the byte budget
    assert "line 3000 of" in tail
    assert "newest" in tail  # says how to get more
    with pytest.raises(MCPError, match="tail must be"):
        await client.read_resource(f"docker://containers/{chatty.name}/logs?tail=0")


async def test_stats_image_network_volume_and_engine_resources(
    client: Client, docker_client: docker.DockerClient, test_image: str, unique_name: str
) -> None:
    network = docker_client.networks.create(unique_name, labels={LABEL_KEY: RUN_ID})
    volume = docker_client.volumes.create(unique_name, labels={LABEL_KEY: RUN_ID})
    running = docker_client.containers.run(
        test_image, ["sleep", "60"], detach=True, labels={LABEL_KEY: RUN_ID}, name=unique_name
    )
    try:
        stats = json.loads(text(await client.read_resource(f"docker://containers/{unique_name}/stats")))
        assert stats["name"] == unique_name
        assert stats["memory_bytes"] > 0
        image = json.loads(text(await client.read_resource(f"docker://images/{test_image}")))
        assert test_image in image["image"]["tags"]
        net = json.loads(text(await client.read_resource(f"docker://networks/{unique_name}")))
        assert net["network"]["name"] == unique_name
        vol = json.loads(text(await client.read_resource(f"docker://volumes/{unique_name}")))
        assert vol["volume"]["name"] == unique_name
        info = json.loads(text(await client.read_resource("docker://engine/info")))
        assert info["version"]["api_version"] == docker_client.version()["ApiVersion"]
    finally:
        running.remove(force=True)
        network.remove()
        volume.remove()


async def test_a_compose_project_is_read_from_its_labels(
    client: Client, docker_client: docker.DockerClient, test_image: str
) -> None:
    project = f"mcpd-res-{uuid.uuid4().hex[:6]}"
    made = [
        docker_client.containers.run(
            test_image,
            ["sh", "-c", f"exit {code}"],
            detach=True,
            name=f"{project}-{service}-1",
            labels={
                LABEL_KEY: RUN_ID,
                "com.docker.compose.project": project,
                "com.docker.compose.service": service,
            },
        )
        for service, code in (("web", 0), ("worker", 3))
    ]
    try:
        for container in made:
            container.wait(timeout=30)
        shown = json.loads(text(await client.read_resource(f"docker://compose/{project}")))
        assert shown["project"] == project
        assert [(s["service"], s.get("exit_code")) for s in shown["services"]] == [("web", 0), ("worker", 3)]
        with pytest.raises(MCPError, match="No such compose project"):
            await client.read_resource(f"docker://compose/{project}-none")
    finally:
        for container in made:
            container.remove(force=True)


async def test_missing_things_are_not_found_with_the_next_step(client: Client) -> None:
    with pytest.raises(MCPError, match="No such container: nope-") as caught:
        await client.read_resource(f"docker://containers/nope-{uuid.uuid4().hex[:6]}/inspect")
    assert caught.value.error.code == -32602
    assert "list-containers" in caught.value.error.message
    with pytest.raises(MCPError, match="Unknown resource"):
        await client.read_resource("docker://containers/x/top")


async def test_a_resource_never_shows_what_its_tool_would_refuse(
    unix_host: str, chatty: Any, docker_client: docker.DockerClient, test_image: str
) -> None:
    outsider = docker_client.containers.create(test_image, ["true"], name=f"mcpd-res-{uuid.uuid4().hex[:8]}")
    try:
        denied = replace(Policy(), deny_tools=("container-logs",), deny_actions=("image-operations:inspect",))
        async with Client(build_server(settings_for(unix_host), policy=denied)) as client:
            with pytest.raises(MCPError, match="container-logs is disabled"):
                await client.read_resource(f"docker://containers/{chatty.name}/logs")
            with pytest.raises(MCPError, match="image-operations inspect is disabled"):
                await client.read_resource(f"docker://images/{test_image}")
            assert chatty.name in text(
                await client.read_resource(f"docker://containers/{chatty.name}/inspect")
            )
        scoped = replace(Policy(), label_scope=LABEL, read_only=True)  # read-only hides no read
        async with Client(build_server(settings_for(unix_host), policy=scoped)) as client:
            with pytest.raises(MCPError, match="does not carry the label"):
                await client.read_resource(f"docker://containers/{outsider.name}/inspect")
            with pytest.raises(MCPError, match="compose-stack ps cannot be limited"):
                await client.read_resource("docker://compose/anything")
            assert "done" in text(await client.read_resource(f"docker://containers/{chatty.name}/logs"))
    finally:
        outsider.remove(force=True)


async def test_with_several_engines_uris_name_theirs(tmp_path: Path, test_image: str) -> None:
    settings = load_settings({"MCP_DOCKER_ENGINES_FILE": str(engines_file(tmp_path)), "DOCKER_TIMEOUT": "30"})
    second = docker.DockerClient(base_url=env("MCPD_TEST_SECOND_UNIX_HOST"))
    name = f"mcpd-res-{uuid.uuid4().hex[:8]}"
    only_there = second.containers.create(
        test_image, ["true"], name=name, network_mode="none", labels={LABEL_KEY: RUN_ID}
    )
    try:
        async with Client(build_server(settings)) as client:
            uris = {r.uri for r in (await client.list_resources()).resources}
            assert uris == {
                "docker://engine/info",
                "docker://engine/info?engine=local",
                "docker://engine/info?engine=remote",
                "docker://engine/info?engine=prod",
            }
            templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
            assert "docker://containers/{container}/logs{?tail,engine}" in templates
            shown = json.loads(
                text(await client.read_resource(f"docker://containers/{name}/inspect?engine=remote"))
            )
            assert shown["id"] == str(only_there.id)[:12]
            with pytest.raises(MCPError, match=f"No such container: {name}"):
                await client.read_resource(f"docker://containers/{name}/inspect")  # the default engine
            with pytest.raises(MCPError, match="no engine is called 'nowhere'"):
                await client.read_resource(f"docker://containers/{name}/inspect?engine=nowhere")
            done = await client.complete(
                ResourceTemplateReference(
                    type="ref/resource", uri="docker://containers/{container}/inspect{?engine}"
                ),
                {"name": "container", "value": name[:12]},
                context_arguments={"engine": "remote"},
            )
            assert done.completion.values == [name]
            engines = await client.complete(
                PromptReference(type="ref/prompt", name="debug-container"), {"name": "engine", "value": "r"}
            )
            assert engines.completion.values == ["remote"]
    finally:
        only_there.remove(force=True)
        second.close()


async def test_completions_offer_names_of_each_kind(
    client: Client, chatty: Any, docker_client: docker.DockerClient, test_image: str, unique_name: str
) -> None:
    network = docker_client.networks.create(unique_name, labels={LABEL_KEY: RUN_ID})
    volume = docker_client.volumes.create(unique_name, labels={LABEL_KEY: RUN_ID})
    try:
        for template, argument, value, expected in (
            ("docker://containers/{container}/inspect", "container", chatty.name[:13], chatty.name),
            ("docker://images/{+image}", "image", test_image[:4], test_image),
            ("docker://networks/{network}", "network", unique_name, unique_name),
            ("docker://volumes/{volume}", "volume", unique_name, unique_name),
        ):
            done = await client.complete(
                ResourceTemplateReference(type="ref/resource", uri=template),
                {"name": argument, "value": value},
            )
            assert expected in done.completion.values, (template, done.completion)
            assert all(v.startswith(value) for v in done.completion.values)
        prompt = await client.complete(
            PromptReference(type="ref/prompt", name="debug-container"),
            {"name": "container", "value": chatty.name},
        )
        assert prompt.completion.values == [chatty.name]
    finally:
        network.remove()
        volume.remove()


async def test_completions_hide_what_the_listing_tool_would_hide(
    unix_host: str, chatty: Any, docker_client: docker.DockerClient, test_image: str
) -> None:
    outsider = docker_client.containers.create(test_image, ["true"], name=f"mcpd-res-{uuid.uuid4().hex[:8]}")
    ref = ResourceTemplateReference(type="ref/resource", uri="docker://containers/{container}/inspect")
    try:
        scoped = replace(Policy(), label_scope=LABEL)
        async with Client(build_server(settings_for(unix_host), policy=scoped)) as client:
            names = (
                await client.complete(ref, {"name": "container", "value": "mcpd-res-"})
            ).completion.values
        assert chatty.name in names
        assert outsider.name not in names
        denied = replace(Policy(), deny_tools=("list-containers",))
        async with Client(build_server(settings_for(unix_host), policy=denied)) as client:
            names = (await client.complete(ref, {"name": "container", "value": ""})).completion.values
        assert names == []
    finally:
        outsider.remove(force=True)

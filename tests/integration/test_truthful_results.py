"""Results that tell the truth, against the real engine (issue 16): bounded readers keep the
newest bytes, grep searches the whole log and says what it searched, TTY output reads as a
terminal shows it, stats of a stopped container say so, port specs as `docker run -p` reads
them, name filters are substrings, and volume prune keeps named volumes unless asked.

Fixture containers are made with docker-py (labelled, removed by the session's leak check);
what is under test is always read through the MCP client.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from mcp_docker_server.engine import _containers_sync
from mcp_docker_server.results.shaping import CUT_MARKER
from tests.conftest import error_text, ok

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

LONG_LINE = "head -c {n} /dev/zero | tr '\\0' x; echo END"


@pytest.fixture
def made(docker_client: docker.DockerClient) -> Iterator[list[Any]]:
    """Containers a test started; removed (with their anonymous volumes) afterwards."""
    containers: list[Any] = []
    yield containers
    for container in containers:
        container.remove(force=True, v=True)


def finished(
    docker_client: docker.DockerClient,
    made: list[Any],
    image: str,
    name: str,
    labels: dict[str, str],
    script: str,
    **options: Any,
) -> Any:
    """A container that ran ``script`` to the end."""
    container = docker_client.containers.run(
        image, ["sh", "-c", script], name=name, labels=labels, detach=True, **options
    )
    made.append(container)
    assert container.wait(timeout=60)["StatusCode"] == 0
    return container


async def logs(client: Client, name: str, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("container-logs", {"container_id": name, **args}))


# --------------------------------------------------------------------------- 1: newest bytes


async def test_a_newest_line_longer_than_max_bytes_shows_its_newest_bytes(
    client: Client, docker_client: docker.DockerClient, made: list[Any], test_image: str,
    run_labels: dict[str, str], unique_name: str,
) -> None:  # fmt: skip
    finished(docker_client, made, test_image, unique_name, run_labels, LONG_LINE.format(n=20_000))
    result = await logs(client, unique_name, max_bytes=4096)
    assert result["lines"] == 1
    assert result["text"].startswith(CUT_MARKER)
    assert result["text"].endswith("xxxxEND\n")
    assert 4000 < len(result["text"]) <= 4096 + len(CUT_MARKER)
    assert result["truncated"] is True
    assert "longer than max_bytes" in result["note"]
    grepped = await logs(client, unique_name, max_bytes=4096, grep="END$")
    assert grepped["lines"] == 1
    assert grepped["text"].endswith("xxxxEND\n")


async def test_exec_output_of_a_long_line_keeps_its_newest_bytes(
    client: Client, docker_client: docker.DockerClient, made: list[Any], test_image: str,
    run_labels: dict[str, str], unique_name: str,
) -> None:  # fmt: skip
    container = docker_client.containers.run(
        test_image, ["sleep", "300"], name=unique_name, labels=run_labels, detach=True
    )
    made.append(container)
    result = ok(
        await client.call_tool(
            "exec-container",
            {
                "container_id": unique_name,
                "command": ["sh", "-c", LONG_LINE.format(n=40_000)],
                "max_bytes": 2048,
            },
        )
    )
    assert result["exit_code"] == 0
    assert result["stdout"].startswith(CUT_MARKER)
    assert result["stdout"].endswith("xxEND\n")
    assert len(result["stdout"]) > 2000
    assert result["truncated"] is True
    assert "longer than max_bytes (2048)" in result["note"]


async def test_run_and_wait_output_of_a_long_line_keeps_its_newest_bytes(
    client: Client, docker_client: docker.DockerClient, test_image: str, run_labels: dict[str, str],
    unique_name: str,
) -> None:  # fmt: skip
    try:
        result = ok(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": unique_name,
                    "labels": run_labels,
                    "command": ["sh", "-c", LONG_LINE.format(n=40_000)],
                    "detach": False,
                },
            )
        )
        assert result["exit_code"] == 0
        assert result["output"].endswith("xxEND\n")
        assert result["output"].startswith(CUT_MARKER)
        assert result["output_truncated"] is True
    finally:
        docker_client.api.remove_container(unique_name, force=True)


async def test_a_failing_build_step_shows_the_end_of_its_output(
    client: Client, test_image: str, tmp_path: Path
) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {test_image}\nRUN head -c 5000 /dev/zero | tr '\\0' x; echo; echo last-words; exit 3\n"
    )
    text = error_text(
        await client.call_tool(
            "build-image", {"path": str(tmp_path), "tag": f"mcpd-test-fail:{tmp_path.name}"}
        )
    )
    assert "Build failed at [2/2] RUN head -c 5000" in text  # BuildKit's name for the step
    output = text.split("Last output of that step:\n", 1)[1]
    assert output.startswith(CUT_MARKER)
    assert "last-words" in output


# --------------------------------------------------------------------------- 2: grep


async def test_grep_searches_the_whole_log_not_only_the_tail(
    client: Client, docker_client: docker.DockerClient, made: list[Any], test_image: str,
    run_labels: dict[str, str], unique_name: str,
) -> None:  # fmt: skip
    script = "echo 'ERROR early'; seq 1 500; echo 'ERROR late'"
    finished(docker_client, made, test_image, unique_name, run_labels, script)
    found = await logs(client, unique_name, grep="^ERROR")
    assert found["text"] == "ERROR early\nERROR late\n"
    assert (found["lines"], found["matched"]) == (2, 2)
    assert found["searched"].startswith("the whole log (502 lines,")
    newest = await logs(client, unique_name, grep="^ERROR", tail=1)
    assert (newest["text"], newest["matched"], newest["truncated"]) == ("ERROR late\n", 2, True)
    assert "2 lines matched; showing the newest 1" in newest["note"]
    plain = await logs(client, unique_name, tail=10)
    assert plain["matched"] is None
    assert plain["searched"] is None


async def test_a_search_stopped_by_its_limit_says_where_and_how_to_go_on(
    client: Client, docker_client: docker.DockerClient, made: list[Any], test_image: str,
    run_labels: dict[str, str], unique_name: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # About 150 KB of log: more than one read of the engine's answer, so a zero time limit
    # stops the search after the first.
    script = "echo 'ERROR early'; seq 1 20000 | sed 's/$/ padding padding/'; echo 'ERROR late'"
    finished(docker_client, made, test_image, unique_name, run_labels, script)
    monkeypatch.setattr(_containers_sync, "GREP_SECONDS", 0.0)
    stopped = await logs(client, unique_name, grep="^ERROR")
    assert stopped["text"] == "ERROR early\n"
    assert stopped["truncated"] is True
    searched = stopped["searched"]
    assert "the log from its start up to 20" in searched
    assert "stopped at the 0 s time limit; search on with since=" in searched
    resume = searched.rsplit("since=", 1)[1]
    monkeypatch.undo()
    rest = await logs(client, unique_name, grep="^ERROR", since=resume)
    assert rest["text"] == "ERROR late\n"
    assert rest["searched"].startswith(f"the log since {resume} (")


# --------------------------------------------------------------------------- 3: TTY


async def test_tty_logs_end_lines_as_without_a_tty_and_keep_final_states(
    client: Client, docker_client: docker.DockerClient, made: list[Any], test_image: str,
    run_labels: dict[str, str], unique_name: str,
) -> None:  # fmt: skip
    script = "printf 'progress 10%%\\rprogress 50%%\\rprogress 100%%\\n'; echo working; echo done"
    finished(docker_client, made, test_image, unique_name, run_labels, script, tty=True)
    raw = docker_client.containers.get(unique_name).logs()
    assert b"done\r\n" in raw  # what the engine stores for a TTY
    whole = await logs(client, unique_name)
    assert whole["text"] == "progress 100%\nworking\ndone\n"
    assert (await logs(client, unique_name, grep="done$"))["text"] == "done\n"
    assert (await logs(client, unique_name, grep="^progress 100%$"))["text"] == "progress 100%\n"
    assert (await logs(client, unique_name, grep="10%"))["lines"] == 0


# --------------------------------------------------------------------------- 4: stats


async def test_stats_of_a_stopped_container_say_its_state(
    client: Client, docker_client: docker.DockerClient, made: list[Any], test_image: str,
    run_labels: dict[str, str], unique_name: str,
) -> None:  # fmt: skip
    finished(docker_client, made, test_image, unique_name, run_labels, "exit 0", mem_limit="32m")
    for processes in (False, True):
        stats = ok(
            await client.call_tool("container-stats", {"container_id": unique_name, "processes": processes})
        )
        assert stats["state"] == "exited"
        assert stats["cpu_percent"] is None
        assert stats["memory_bytes"] is None
        assert stats["pids"] is None
        assert stats["memory_limit_bytes"] == 32 * 1024 * 1024
        assert stats["processes"] is None
        assert "exited (exit code 0)" in stats["note"]


async def test_stats_of_a_running_container_say_running(
    client: Client, docker_client: docker.DockerClient, made: list[Any], test_image: str,
    run_labels: dict[str, str], unique_name: str,
) -> None:  # fmt: skip
    made.append(
        docker_client.containers.run(
            test_image, ["sleep", "300"], name=unique_name, labels=run_labels, detach=True
        )
    )
    stats = ok(await client.call_tool("container-stats", {"container_id": unique_name, "processes": True}))
    assert stats["state"] == "running"
    assert stats["pids"] >= 1
    assert stats["memory_bytes"] > 0
    assert stats["note"] is None
    assert any("sleep 300" in " ".join(p) for p in stats["processes"]["processes"])


# --------------------------------------------------------------------------- 5: ports


async def test_port_ranges_publish_as_docker_run_p_does(
    client: Client, docker_client: docker.DockerClient, test_image: str, run_labels: dict[str, str],
    unique_name: str,
) -> None:  # fmt: skip
    base = random.randrange(20_000, 30_000, 20)
    ports = {f"{base}-{base + 1}/tcp": f"{base}-{base + 1}", "80": f"{base + 5}-{base + 9}"}
    try:
        ok(
            await client.call_tool(
                "run-container",
                {"image": test_image, "name": unique_name, "labels": run_labels, "command": ["sleep", "300"],
                 "ports": ports},
            )
        )  # fmt: skip
        bound = docker_client.api.inspect_container(unique_name)["HostConfig"]["PortBindings"]
        assert bound[f"{base}/tcp"][0]["HostPort"] == str(base)
        assert bound[f"{base + 1}/tcp"][0]["HostPort"] == str(base + 1)
        assert bound["80/tcp"][0]["HostPort"] == f"{base + 5}-{base + 9}"
        live = docker_client.api.inspect_container(unique_name)["NetworkSettings"]["Ports"]
        assert base + 5 <= int(live["80/tcp"][0]["HostPort"]) <= base + 9
    finally:
        docker_client.api.remove_container(unique_name, force=True)
    refused = error_text(
        await client.call_tool(
            "run-container", {"image": test_image, "ports": {"8000-8002/tcp": "9000-9001"}}
        )
    )
    assert "a range of 3 ports" in refused
    assert "same length" in refused


# --------------------------------------------------------------------------- 6: name filters


async def test_name_filters_are_substrings_not_patterns(
    client: Client, docker_client: docker.DockerClient, made: list[Any], test_image: str,
    run_labels: dict[str, str], unique_name: str,
) -> None:  # fmt: skip
    made.extend(
        docker_client.containers.run(test_image, ["sleep", "300"], name=name, labels=run_labels, detach=True)
        for name in (f"{unique_name}-bh.v1", f"{unique_name}-bhxv1")
    )
    listed = ok(await client.call_tool("list-containers", {"name": f"{unique_name}-bh.v1"}))
    assert [row["name"] for row in listed["containers"]] == [f"{unique_name}-bh.v1"]
    both = ok(await client.call_tool("list-containers", {"name": f"{unique_name}-bh"}))
    assert sorted(row["name"] for row in both["containers"]) == [
        f"{unique_name}-bh.v1",
        f"{unique_name}-bhxv1",
    ]
    assert ok(await client.call_tool("list-containers", {"name": f"{unique_name}-bh.*"}))["containers"] == []


async def test_every_other_name_filter_is_a_substring_or_a_glob_never_a_regex(
    client: Client, docker_client: docker.DockerClient, test_image: str, run_labels: dict[str, str],
    unique_name: str,
) -> None:  # fmt: skip
    dotted, lookalike = f"{unique_name}-bh.v1", f"{unique_name}-bhxv1"
    image = docker_client.images.get(test_image)
    try:
        for name in (dotted, lookalike):
            docker_client.networks.create(name, labels=run_labels)
            docker_client.volumes.create(name, labels=run_labels)
        # An image row shows all the image's tags: only the lookalike is tagged, so a listing
        # for the dotted name must find nothing of this test.
        image.tag(lookalike, "x")
        for tool, key, rows in (
            ("network-management", "networks", "name"),
            ("volume-management", "volumes", "name"),
        ):
            listed = ok(await client.call_tool(tool, {"action": "list", "name": dotted}))
            assert [row[rows] for row in listed[key]] == [dotted], tool
        images = ok(await client.call_tool("image-operations", {"action": "list", "image": dotted}))
        assert not [tag for row in images["images"] for tag in row["tags"] if unique_name in tag]
        images = ok(await client.call_tool("image-operations", {"action": "list", "image": "bhxv1"}))
        assert f"{lookalike}:x" in [tag for row in images["images"] for tag in row["tags"]]
    finally:
        for name in (dotted, lookalike):
            for network in docker_client.networks.list(names=[name]):
                network.remove()
            for volume in docker_client.volumes.list(filters={"name": name}):
                volume.remove(force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(f"{lookalike}:x")


# --------------------------------------------------------------------------- 7: volume prune


async def test_volume_prune_takes_anonymous_volumes_and_named_ones_only_when_asked(
    client: Client, docker_client: docker.DockerClient, test_image: str,
    run_labels: dict[str, str], unique_name: str,
) -> None:  # fmt: skip
    named = docker_client.volumes.create(f"{unique_name}-data", labels=run_labels)
    # A container's declared volume with no name: the engine makes an anonymous one.
    holder = docker_client.api.create_container(test_image, ["true"], volumes=["/scratch"], labels=run_labels)
    mounts = docker_client.api.inspect_container(holder["Id"])["Mounts"]
    anonymous = next(m["Name"] for m in mounts if m["Destination"] == "/scratch")
    docker_client.api.remove_container(holder["Id"])  # the volume stays, unused
    try:
        plan = ok(
            await client.call_tool(
                "docker-system", {"action": "prune", "targets": ["volumes"], "dry_run": True}
            )
        )
        kinds = {c["name"]: c["kind"] for c in plan["prune"]["candidates"] if c["type"] == "volume"}
        assert kinds.get(anonymous) == "anonymous"
        assert named.name not in kinds
        assert "named_volumes=true" in plan["note"]
        every = ok(
            await client.call_tool(
                "docker-system",
                {"action": "prune", "targets": ["volumes"], "dry_run": True, "named_volumes": True},
            )
        )
        kinds = {c["name"]: c["kind"] for c in every["prune"]["candidates"] if c["type"] == "volume"}
        assert (kinds.get(anonymous), kinds.get(named.name)) == ("anonymous", "named")
        kept = ok(await client.call_tool("volume-management", {"action": "prune", "name": named.name}))
        assert kept["removed"] == []
        assert named.name in kept["note"]
        assert "all=true" in kept["note"]
        gone = ok(await client.call_tool("volume-management", {"action": "prune", "name": anonymous}))
        assert gone["removed"] == [anonymous]
        asked = ok(
            await client.call_tool("volume-management", {"action": "prune", "name": named.name, "all": True})
        )
        assert asked["removed"] == [named.name]
        assert not docker_client.volumes.list(filters={"name": unique_name})
    finally:
        for volume in docker_client.volumes.list(filters={"name": unique_name}):
            volume.remove(force=True)
        for volume in docker_client.volumes.list(filters={"name": anonymous}):
            volume.remove(force=True)

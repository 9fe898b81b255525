"""Every container tool against the real engine, through the official MCP client (in memory)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import anyio
import docker
import pytest
from mcp import Client

from tests.conftest import error_text, labelled, ok, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


async def run(client: Client, image: str, labels: dict[str, str], name: str, **args: Any) -> dict[str, Any]:
    args.setdefault("command", ["sleep", "300"])
    result = await client.call_tool("run-container", {"image": image, "name": name, "labels": labels, **args})
    return ok(result)


async def remove(client: Client, name: str) -> None:
    ok(await client.call_tool("manage-container", {"container_id": name, "action": "remove", "force": True}))


async def test_run_detached_publishes_ports_sets_limits_and_hides_env(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    started = await run(
        client,
        test_image,
        run_labels,
        unique_name,
        ports={"80/tcp": None},
        environment={"MODE": "test", "API_TOKEN": "canary-secret-123"},
        memory="64m",
        cpus=0.5,
        pids_limit=50,
        restart_policy="on-failure:2",
        working_dir="/tmp",
    )
    try:
        assert started["state"] == "running"
        assert started["ports"]
        assert started["ports"][0].startswith("127.0.0.1:")
        real = docker_client.containers.get(unique_name).attrs["HostConfig"]
        assert real["Memory"] == 64 * 1024 * 1024
        assert real["NanoCpus"] == 500_000_000
        assert real["PidsLimit"] == 50
        assert real["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}

        detail = ok(await client.call_tool("inspect-container", {"container_id": unique_name}))
        assert detail["env"]["MODE"] == "***"
        assert detail["limits"] == {"memory_bytes": 64 * 1024 * 1024, "cpus": 0.5, "pids": 50}
        assert detail["working_dir"] == "/tmp"
        shown = await client.call_tool("inspect-container", {"container_id": unique_name, "show_env": True})
        assert ok(shown)["env"]["MODE"] == "test"
        assert "canary-secret-123" not in text_of(shown)
    finally:
        await remove(client, unique_name)


async def test_run_attached_returns_exit_code_and_output(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    result = await run(
        client,
        test_image,
        run_labels,
        unique_name,
        command="sh -c 'echo hello; echo oops >&2; exit 3'",
        detach=False,
    )
    try:
        assert result["exit_code"] == 3
        assert "hello" in result["output"]
        assert "oops" in result["output"]
        assert result["state"] == "exited"
    finally:
        await remove(client, unique_name)


async def test_attached_auto_remove_leaves_nothing(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    result = await run(
        client, test_image, run_labels, unique_name, command=["echo", "bye"], detach=False, auto_remove=True
    )
    assert result["exit_code"] == 0
    assert result["removed"] is True
    assert "bye" in result["output"]
    assert not docker_client.containers.list(all=True, filters={"name": unique_name})


async def test_attached_run_past_its_timeout_reports_and_keeps_running(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    result = await run(
        client, test_image, run_labels, unique_name, command=["sleep", "30"], detach=False, timeout=1
    )
    try:
        assert result["exit_code"] is None
        assert result["state"] == "running"
        assert "Still running" in result["note"]
    finally:
        await remove(client, unique_name)


async def test_command_string_is_split_not_run_by_a_shell(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    result = await run(
        client, test_image, run_labels, unique_name, command="echo '$(id)' ; touch /pwned", detach=False
    )
    try:
        assert result["output"].strip() == "$(id) ; touch /pwned"
    finally:
        await remove(client, unique_name)


async def test_bind_mount_modes_are_honoured(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str, tmp_path: Path
) -> None:
    (tmp_path / "in.txt").write_text("from host\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    await run(
        client,
        test_image,
        run_labels,
        unique_name,
        volumes=[
            {"host_path": str(tmp_path), "container_path": "/data", "mode": "ro"},
            {"host_path": str(out_dir), "container_path": "/out", "mode": "rw"},
        ],
    )
    try:
        read = ok(
            await client.call_tool(
                "exec-container", {"container_id": unique_name, "command": "cat /data/in.txt"}
            )
        )
        assert read == {**read, "exit_code": 0, "stdout": "from host\n"}
        denied = ok(
            await client.call_tool(
                "exec-container", {"container_id": unique_name, "command": "touch /data/x"}
            )
        )
        assert denied["exit_code"] != 0
        assert "Read-only" in denied["stderr"]
        wrote = ok(
            await client.call_tool(
                "exec-container", {"container_id": unique_name, "command": ["sh", "-c", "echo hi > /out/x"]}
            )
        )
        assert wrote["exit_code"] == 0
        assert (out_dir / "x").read_text() == "hi\n"
        mounts = ok(await client.call_tool("inspect-container", {"container_id": unique_name}))["mounts"]
        assert {(m["target"], m["mode"]) for m in mounts} == {("/data", "ro"), ("/out", "rw")}
    finally:
        await remove(client, unique_name)


async def test_named_volume_mount(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    volume = f"{unique_name}-vol"
    await run(client, test_image, run_labels, unique_name, volumes=[f"{volume}:/state"])
    try:
        mounts = ok(await client.call_tool("inspect-container", {"container_id": unique_name}))["mounts"]
        assert mounts == [{"type": "volume", "source": volume, "target": "/state", "mode": "rw"}]
    finally:
        await remove(client, unique_name)
        docker_client.volumes.get(volume).remove()


async def test_list_filters_and_compact_rows(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    await run(client, test_image, run_labels, unique_name)
    await run(client, test_image, run_labels, unique_name + "-done", command=["true"], detach=False)
    label = next(iter(run_labels.items()))
    try:
        running = ok(await client.call_tool("list-containers", {"label": [f"{label[0]}={label[1]}"]}))
        assert [c["name"] for c in running["containers"]] == [unique_name]
        row = running["containers"][0]
        assert set(row) == {"id", "name", "image", "state", "status", "health", "ports"}
        assert len(row["id"]) == 12
        every = ok(await client.call_tool("list-containers", {"all": True, "name": unique_name}))
        assert {c["name"] for c in every["containers"]} == {unique_name, unique_name + "-done"}
        exited = ok(await client.call_tool("list-containers", {"status": "exited", "name": unique_name}))
        assert [c["name"] for c in exited["containers"]] == [unique_name + "-done"]
        limited = ok(
            await client.call_tool("list-containers", {"all": True, "name": unique_name, "limit": 1})
        )
        assert limited["total"] == 2
        assert limited["truncated"] is True
        assert len(limited["containers"]) == 1
    finally:
        await remove(client, unique_name)
        await remove(client, unique_name + "-done")


async def test_health_is_reported_from_the_healthcheck(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    await run(
        client, test_image, run_labels, unique_name, healthcheck={"test": "true", "interval": 1, "retries": 1}
    )
    try:
        with anyio.fail_after(30):
            while True:
                rows = ok(await client.call_tool("list-containers", {"name": unique_name}))["containers"]
                if rows[0]["health"] == "healthy":
                    break
                await anyio.sleep(0.5)
        state = ok(await client.call_tool("inspect-container", {"container_id": unique_name}))["state"]
        assert state["health"]["status"] == "healthy"
    finally:
        await remove(client, unique_name)


async def test_logs_tail_grep_cap_and_cleaning(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    script = "for i in $(seq 1 2000); do echo line-$i; done; printf '\\033[31mred\\033[0m\\n'"
    await run(client, test_image, run_labels, unique_name, command=["sh", "-c", script], detach=False)
    try:
        default = ok(await client.call_tool("container-logs", {"container_id": unique_name}))
        assert default["lines"] == 100
        assert default["text"].splitlines()[-1] == "red"  # ANSI colour codes stripped
        assert "\x1b" not in default["text"]
        grep = ok(
            await client.call_tool(
                "container-logs", {"container_id": unique_name, "tail": 2001, "grep": r"^line-19\d\d$"}
            )
        )
        assert grep["lines"] == 100
        assert grep["text"].startswith("line-1900\n")
        capped = ok(
            await client.call_tool(
                "container-logs", {"container_id": unique_name, "tail": 2001, "max_bytes": 1024}
            )
        )
        assert capped["truncated"] is True
        assert "max_bytes" in capped["note"]
        assert len(capped["text"].encode()) <= 1024
        assert capped["text"].endswith("red\n")
        bad = error_text(await client.call_tool("container-logs", {"container_id": unique_name, "grep": "("}))
        assert "Invalid grep pattern" in bad
        bad_since = error_text(
            await client.call_tool("container-logs", {"container_id": unique_name, "since": "soon"})
        )
        assert "Invalid since" in bad_since
    finally:
        await remove(client, unique_name)


@pytest.mark.parametrize("tty", [False, True])
async def test_logs_read_both_streams_with_or_without_a_tty_in_one_request(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str, tty: bool
) -> None:
    """Logs are unframed without asking the engine about the TTY: both kinds must come out whole."""
    script = "for i in 1 2 3; do echo out-$i; echo err-$i >&2; done; printf 'no newline at the end'"
    command = ["sh", "-c", script]
    await run(client, test_image, run_labels, unique_name, command=command, detach=False, tty=tty)
    try:
        logs = ok(await client.call_tool("container-logs", {"container_id": unique_name}))
        # Each stream keeps its order; how the engine interleaves the two is its own business.
        lines = logs["text"].splitlines()
        assert [line for line in lines if line.startswith("out-")] == ["out-1", "out-2", "out-3"]
        assert [line for line in lines if line.startswith("err-")] == ["err-1", "err-2", "err-3"]
        assert len(lines) == 7
        assert lines[-1] == "no newline at the end"
        assert logs["lines"] == 7
        missing = error_text(await client.call_tool("container-logs", {"container_id": "no-such-ctr-x"}))
        assert "No such container: no-such-ctr-x" in missing
        assert "list-containers" in missing
    finally:
        await remove(client, unique_name)


async def test_exec_output_exit_code_env_workdir_and_timeout(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    await run(client, test_image, run_labels, unique_name)
    try:
        result = ok(
            await client.call_tool(
                "exec-container",
                {
                    "container_id": unique_name,
                    "command": ["sh", "-c", 'echo "$GREETING from $(pwd)"; echo warn >&2; exit 4'],
                    "environment": {"GREETING": "hi"},
                    "workdir": "/bin",
                    "user": "65534",
                },
            )
        )
        assert result["exit_code"] == 4
        assert result["stdout"] == "hi from /bin\n"
        assert result["stderr"] == "warn\n"
        whoami = ok(
            await client.call_tool(
                "exec-container", {"container_id": unique_name, "command": "id -u", "user": "65534"}
            )
        )
        assert whoami["stdout"].strip() == "65534"
        with anyio.fail_after(15):
            slow = ok(
                await client.call_tool(
                    "exec-container", {"container_id": unique_name, "command": "sleep 20", "timeout": 1}
                )
            )
        assert slow["exit_code"] is None
        assert "Still running" in slow["note"]
    finally:
        await remove(client, unique_name)


async def test_exec_in_a_stopped_container_says_to_start_it(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    await run(client, test_image, run_labels, unique_name, command=["true"], detach=False)
    try:
        text = error_text(
            await client.call_tool("exec-container", {"container_id": unique_name, "command": "ls"})
        )
        assert "exited" in text
        assert "action=start" in text
    finally:
        await remove(client, unique_name)


async def test_stats_and_processes(
    client: Client, test_image: str, run_labels: dict[str, str], unique_name: str
) -> None:
    await run(client, test_image, run_labels, unique_name, memory="32m")
    try:
        stats = ok(
            await client.call_tool("container-stats", {"container_id": unique_name, "processes": True})
        )
        assert stats["name"] == unique_name
        assert stats["memory_limit_bytes"] == 32 * 1024 * 1024
        assert 0 < stats["memory_bytes"] < 32 * 1024 * 1024
        assert stats["pids"] >= 1
        assert "CMD" in stats["processes"]["titles"]
        assert any("sleep 300" in " ".join(p) for p in stats["processes"]["processes"])
    finally:
        await remove(client, unique_name)


async def test_lifecycle_actions_report_the_new_state(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    await run(
        client,
        test_image,
        run_labels,
        unique_name,
        command=["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"],
    )
    try:
        steps: list[tuple[dict[str, Any], str]] = [
            ({"action": "pause"}, "paused"),
            ({"action": "unpause"}, "running"),
            ({"action": "stop", "timeout": 5}, "exited"),
            ({"action": "start"}, "running"),
            ({"action": "restart", "timeout": 5}, "running"),
            ({"action": "kill"}, "exited"),
        ]
        for args, state in steps:
            result = ok(await client.call_tool("manage-container", {"container_id": unique_name, **args}))
            assert result["state"] == state, (args, result)
            assert docker_client.containers.get(unique_name).status == state
        ok(await client.call_tool("manage-container", {"container_id": unique_name, "action": "start"}))
        busy = error_text(
            await client.call_tool("manage-container", {"container_id": unique_name, "action": "remove"})
        )
        assert "force" in busy
    finally:
        removed = ok(
            await client.call_tool(
                "manage-container", {"container_id": unique_name, "action": "remove", "force": True}
            )
        )
    assert removed["state"] == "removed"
    assert not docker_client.containers.list(all=True, filters={"name": unique_name})


async def test_unknown_container_is_a_clear_error(client: Client) -> None:
    text = error_text(
        await client.call_tool("manage-container", {"container_id": "no-such-ctr", "action": "stop"})
    )
    assert "No such container: no-such-ctr" in text
    assert "list-containers" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"image": "Bad Image"}, "Invalid image reference"),
        ({"image": "mcpd-absent/nothing:1"}, "pull failed"),
        ({"command": "echo 'unbalanced"}, "Cannot split command"),
        ({"ports": {"80/xyz": 1}}, "Invalid container port"),
        ({"volumes": [{"host_path": "relative/dir", "container_path": "/x"}]}, "absolute"),
        ({"restart_policy": "sometimes"}, "Invalid restart policy"),
        ({"memory": "1k"}, "minimum"),
        ({"gpus": "all", "command": ["true"]}, "GPU"),
        ({"network": "mcpd-no-such-network"}, "mcpd-no-such-network"),
    ],
)
async def test_bad_requests_get_clear_errors_and_leave_nothing(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
    args: dict[str, Any],
    expected: str,
) -> None:
    before = len(labelled(docker_client))
    call = {"image": test_image, "name": unique_name, "labels": run_labels, "command": ["sleep", "5"], **args}
    text = error_text(await client.call_tool("run-container", call))
    assert expected in text
    assert "Next:" in text or "refused" in text
    assert len(labelled(docker_client)) == before


async def test_name_in_use_is_a_conflict_and_keeps_the_original(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    first = await run(client, test_image, run_labels, unique_name)
    try:
        text = error_text(
            await client.call_tool(
                "run-container", {"image": test_image, "name": unique_name, "labels": run_labels}
            )
        )
        assert "already in use" in text
        assert "choose another name" in text
        assert [c.short_id for c in labelled(docker_client) if c.name == unique_name] == [first["id"]]
    finally:
        await remove(client, unique_name)


async def test_port_taken_is_a_clear_error_and_leaves_nothing(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        first = await client.call_tool(
            "run-container",
            {
                "image": test_image,
                "name": unique_name,
                "labels": run_labels,
                "command": ["sleep", "5"],
                "ports": {"80": port},
            },
        )
    # The engine's proxy, not the socket above, holds the port when it could bind it; either way
    # the second container must fail and vanish.
    if not first.is_error:
        second = await client.call_tool(
            "run-container",
            {"image": test_image, "name": unique_name + "-2", "labels": run_labels, "ports": {"80": port}},
        )
        text = error_text(second)
        await remove(client, unique_name)
    else:
        text = error_text(first)
    assert "port is already" in text.lower() or "address already in use" in text.lower()
    assert "another host port" in text
    assert labelled(docker_client) == []


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ({"privileged": True}, "privileged"),
        ({"network": "host"}, "host-network"),
        ({"cap_add": ["SYS_ADMIN"]}, "cap-add"),
        ({"volumes": [{"host_path": "/var/run/docker.sock", "container_path": "/s"}]}, "socket-bind"),
        ({"volumes": [{"host_path": "/", "container_path": "/host"}]}, "sensitive-bind"),
        ({"volumes": [{"host_path": "/tmp/../etc", "container_path": "/e"}]}, "sensitive-bind"),
        ({"volumes": ["//proc//:/p:ro"]}, "sensitive-bind"),
        ({"volumes": [{"host_path": "/sys", "container_path": "/s"}]}, "sensitive-bind"),
        ({"volumes": [{"host_path": "/dev", "container_path": "/d"}]}, "sensitive-bind"),
        ({"volumes": [{"host_path": "/boot", "container_path": "/b"}]}, "sensitive-bind"),
    ],
)
async def test_policy_denials_name_the_rule_and_create_nothing(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    docker_client: docker.DockerClient,
    args: dict[str, Any],
    rule: str,
) -> None:
    text = error_text(
        await client.call_tool(
            "run-container", {"image": test_image, "name": unique_name, "labels": run_labels, **args}
        )
    )
    assert f"policy rule '{rule}'" in text
    assert labelled(docker_client) == []


async def test_symlink_to_a_sensitive_path_is_denied(
    client: Client,
    test_image: str,
    run_labels: dict[str, str],
    unique_name: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:
    link = tmp_path / "innocent"
    link.symlink_to("/etc")
    text = error_text(
        await client.call_tool(
            "run-container",
            {"image": test_image, "name": unique_name, "labels": run_labels, "volumes": [f"{link}:/x:ro"]},
        )
    )
    assert "resolves to /etc" in text
    assert labelled(docker_client) == []


async def test_list_containers_is_one_engine_request(
    unix_host: str, docker_client: docker.DockerClient
) -> None:
    from mcp_docker_server.engine import Engine
    from mcp_docker_server.server import build_server
    from tests.conftest import settings_for

    settings = settings_for(unix_host)
    engine = Engine(settings.engine)
    api = engine.client().api
    requests_made: list[str] = []
    original = api.send

    def counting_send(request: Any, **kwargs: Any) -> Any:
        requests_made.append(f"{request.method} {request.path_url}")
        return original(request, **kwargs)

    api.send = counting_send  # type: ignore[method-assign]
    async with Client(build_server(settings, engine=engine)) as mcp_client:
        # After the first tools/list the server asks the engine once whether it is a swarm
        # manager (the swarm tools are listed only then): let that happen first.
        await mcp_client.list_tools()
        with anyio.fail_after(10):
            while not any("/info" in r for r in requests_made):
                await anyio.sleep(0.05)
        requests_made.clear()
        ok(await mcp_client.call_tool("list-containers", {"all": True}))
    assert len(requests_made) == 1, requests_made
    assert requests_made[0].startswith("GET /v1.")
    assert "/containers/json" in requests_made[0]

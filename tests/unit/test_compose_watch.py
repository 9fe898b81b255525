"""Compose watch: develop.watch judged (pure), Compose's watch output read as events, the watch
argv, and the watch manager on a stand-in process (a shell that talks like `compose watch` and
starts a child, as the docker CLI starts its Compose plugin)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from mcp_docker_server.compose.plan import ComposePlan, watch_argv
from mcp_docker_server.compose.watch import WatchManager, parse_watch_line
from mcp_docker_server.errors import ComposeError, InvalidArgument, PolicyDenied
from mcp_docker_server.policy import PathInfo, Policy, admit, lexical_resolver
from mcp_docker_server.policy.develop import judge_develop, pin_watch_paths, watch_hooks
from mcp_docker_server.results.compose import WatchEvent

POLICY = Policy()


def project(*triggers: Mapping[str, Any], **service: Any) -> dict[str, Any]:
    develop = {"develop": {"watch": list(triggers)}} if triggers else {}
    return {"name": "proj", "services": {"web": {"build": {"context": "/src/app"}, **develop, **service}}}


SYNC = {"action": "sync", "path": "/src/app/src", "target": "/app/src"}


def test_a_project_with_develop_watch_names_its_watched_services() -> None:
    config = project(SYNC, {"action": "rebuild", "path": "/src/app/package.json"})
    config["services"]["db"] = {"image": "busybox:1.36"}
    assert judge_develop(POLICY, config, lexical_resolver) == ("web",)


def test_no_develop_watch_says_what_to_add() -> None:
    with pytest.raises(InvalidArgument) as caught:
        judge_develop(POLICY, project(), lexical_resolver)
    assert "develop.watch" in caught.value.message
    assert caught.value.hint is not None
    assert "action: sync" in caught.value.hint
    assert "target: /app/src" in caught.value.hint


@pytest.mark.parametrize("path", ["/etc", "/root/.ssh", "/var/run/docker.sock", "/"])
def test_a_sensitive_watched_path_is_refused_naming_the_entry(path: str) -> None:
    with pytest.raises(PolicyDenied) as caught:
        judge_develop(POLICY, project(SYNC, {**SYNC, "path": path}), lexical_resolver)
    assert "service web: develop.watch[1]" in caught.value.reason
    assert "watched folder" in caught.value.reason


def test_a_watched_folder_holding_a_socket_is_refused_as_a_mount() -> None:
    def resolver(path: str) -> PathInfo:
        return PathInfo(real_path=path, is_socket=False, holds_socket=f"{path}/agent.sock")

    with pytest.raises(PolicyDenied) as caught:
        judge_develop(POLICY, project(SYNC), resolver)
    assert "agent.sock" in caught.value.reason


def test_a_symlinked_watch_path_is_judged_and_pinned_where_it_leads() -> None:
    def resolver(path: str) -> PathInfo:
        real = path.replace("/src/app/link", "/etc")
        return PathInfo(real_path=real, is_socket=False)

    linked = {**SYNC, "path": "/src/app/link"}
    with pytest.raises(PolicyDenied):
        judge_develop(POLICY, project(linked), resolver)

    def harmless(path: str) -> PathInfo:
        return PathInfo(real_path=path.replace("/src/app/link", "/src/app/real"), is_socket=False)

    pinned = pin_watch_paths(project(linked), harmless)
    assert pinned["services"]["web"]["develop"]["watch"][0]["path"] == "/src/app/real"
    assert pinned["services"]["web"]["build"] == {"context": "/src/app"}


@pytest.mark.parametrize(
    ("trigger", "words"),
    [
        ({**SYNC, "path": "./src"}, "not an absolute path"),
        ({**SYNC, "path": "${HOME}/src"}, "not an absolute path"),
        ({**SYNC, "action": "mount"}, "action 'mount'"),
        ({**SYNC, "privileged_sync": True}, "privileged_sync"),
        (
            {**SYNC, "action": "sync+exec", "exec": {"command": ["true"], "privileged": True}},
            "privileged exec",
        ),
        ({**SYNC, "exec": {"command": ["true"], "cap_add": ["ALL"]}}, "exec.cap_add"),
    ],
)
def test_what_cannot_be_judged_is_refused(trigger: Mapping[str, Any], words: str) -> None:
    with pytest.raises(PolicyDenied) as caught:
        judge_develop(POLICY, project(trigger), lexical_resolver)
    assert words in caught.value.reason


def test_a_privileged_exec_passes_where_the_operator_allows_it() -> None:
    trigger = {**SYNC, "action": "sync+exec", "exec": {"command": ["true"], "privileged": True}}
    assert judge_develop(Policy(allow_privileged=True), project(trigger), lexical_resolver) == ("web",)


def test_x_develop_is_refused_it_would_be_read_outside_the_judgement() -> None:
    config = project(SYNC)
    config["services"]["web"]["x-develop"] = {"watch": [{"action": "sync", "path": "../../etc"}]}
    with pytest.raises(PolicyDenied) as caught:
        judge_develop(POLICY, config, lexical_resolver)
    assert "x-develop" in caught.value.reason


def test_sync_exec_hooks_are_read_for_the_exec_rules() -> None:
    hook = {"command": ["sh", "-c", "kill -HUP 1"], "user": "1000", "environment": {"A": "1"}}
    config = project(SYNC, {**SYNC, "action": "sync+exec", "exec": hook}, {**SYNC, "exec": {"command": None}})
    (only,) = watch_hooks(config)
    assert only.service == "web"
    assert only.command == ("sh", "-c", "kill -HUP 1")
    assert only.user == "1000"
    assert only.environment == {"A": "1"}
    assert not only.privileged


def test_watch_argv_watches_without_bringing_anything_up() -> None:
    plan = ComposePlan(
        files=(Path("/private/compose.json"),),
        project="proj",
        action="watch",
        services=("web",),
        project_directory=Path("/private"),
    )
    argv = watch_argv(admit(plan))
    assert argv[-3:] == ["watch", "--no-up", "web"]
    assert argv[argv.index("-f") + 1] == "/private/compose.json"
    assert argv[argv.index("--project-directory") + 1] == "/private"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Watch enabled", ("info", "Watch enabled")),
        ('Syncing service "web" after 3 changes were detected', ("sync", None)),
        ('Rebuilding service(s) ["web"] after changes were detected...', ("rebuild", None)),
        ('service(s) ["web"] successfully built', ("built", None)),
        ('service(s) ["web"] restarted', ("restart", None)),
        ("Build failed. Error: failed to solve: exit code 1", ("error", None)),
        ("#7 [2/3] COPY manifest.txt /manifest.txt", None),
        ("#7 ERROR: failed to calculate checksum", ("error", None)),
        (
            'time="2026-01-01T00:00:00Z" level=warning msg="Error handling changed files: boom"',
            ("warning", None),
        ),
        ("reloaded by the hook", ("output", None)),
        ("   ", None),
    ],
)
def test_compose_watch_lines_become_events(line: str, expected: tuple[str, str | None] | None) -> None:
    parsed = parse_watch_line(line)
    if expected is None:
        assert parsed is None
        return
    assert parsed is not None
    assert parsed[0] == expected[0]
    assert parsed[1] == (expected[1] or parsed[1])
    assert len(parsed[1]) <= 160


def test_a_long_line_is_cut_short() -> None:
    parsed = parse_watch_line("Build failed. Error: " + "x" * 1000)
    assert parsed is not None
    assert len(parsed[1]) == 160
    assert parsed[1].endswith("…")


# A stand-in for `docker compose watch`: talks like it, starts a child (as the docker CLI
# starts its Compose plugin) and runs until it is interrupted.
FAKE = """
sleep 300 &
echo $! > "$CHILD"
echo "Watch enabled"
echo 'Syncing service "web" after 1 changes were detected'
if [ -n "$BUILT" ]; then echo 'service(s) ["web"] successfully built'; fi
trap 'echo "Watch disabled"; kill $!; exit 0' INT
while :; do sleep 0.1; done
"""


class FakeRunner:
    async def prefix(self) -> tuple[str, ...]:
        return ("sh", "-c", FAKE, "compose")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return status != "Z"


@pytest.mark.anyio
async def test_the_manager_runs_one_watch_keeps_its_events_and_stops_its_whole_group(tmp_path: Path) -> None:
    child_file = tmp_path / "child"
    manager = WatchManager(FakeRunner(), {**os.environ, "CHILD": str(child_file)})  # type: ignore[arg-type]
    heard: list[WatchEvent] = []

    async def listener(project: str, event: WatchEvent) -> None:
        heard.append(event)

    folder = tmp_path / "private"
    folder.mkdir()
    async with manager.running():
        watch = await manager.start(
            "proj", [], files=(tmp_path / "compose.yaml",), services=["web"], folder=folder,
            listener=("conn", listener),
        )  # fmt: skip
        with anyio.fail_after(5):
            while len(watch.events) < 2:
                await anyio.sleep(0.05)
        child = int(child_file.read_text())
        assert alive(child)
        status = watch.status()
        assert status.state == "running"
        assert [e.kind for e in status.events] == ["info", "sync"]
        assert [e.kind for e in heard] == ["info", "sync"]
        assert manager.find(None, (tmp_path / "compose.yaml",)) is watch
        assert manager.find("other", ()) is None

        stopped = await manager.stop("proj", "asked to")
        assert stopped is watch
        assert watch.status().state == "stopped"
        assert watch.status().reason == "asked to"
        assert not alive(child)
        assert not alive(watch.process.pid)
        assert not folder.exists()
        assert manager.get("proj") is None


@pytest.mark.anyio
async def test_a_refused_recreated_container_stops_the_watch(tmp_path: Path) -> None:
    manager = WatchManager(FakeRunner(), {**os.environ, "CHILD": str(tmp_path / "child"), "BUILT": "1"})  # type: ignore[arg-type]
    judged: list[str] = []

    async def rejudge() -> str | None:
        judged.append("yes")
        return "proj-web-1 removed: privileged mode gives the container full host access"

    folder = tmp_path / "private"
    folder.mkdir()
    async with manager.running():
        watch = await manager.start("proj", [], files=(), services=["web"], folder=folder, rejudge=rejudge)
        with anyio.fail_after(10):
            await watch.finished.wait()
        assert judged == ["yes"]
        status = watch.status()
        assert status.state == "stopped"
        assert status.reason is not None
        assert "refused" in status.reason
        assert any("privileged" in e.text for e in status.events if e.kind == "error")
        assert manager.get("proj") is watch  # kept, so the status says why it ended
        assert not alive(int((tmp_path / "child").read_text()))


@pytest.mark.anyio
async def test_the_lifespan_end_stops_every_watch(tmp_path: Path) -> None:
    manager = WatchManager(FakeRunner(), {**os.environ, "CHILD": str(tmp_path / "child")})  # type: ignore[arg-type]
    folder = tmp_path / "private"
    folder.mkdir()
    async with manager.running():
        watch = await manager.start("proj", [], files=(), services=["web"], folder=folder)
    assert watch.status().state == "stopped"
    assert watch.status().reason == "the server is shutting down"
    assert not alive(watch.process.pid)
    assert not alive(int((tmp_path / "child").read_text()))


@pytest.mark.anyio
async def test_a_watch_that_ends_before_watching_says_what_compose_said(tmp_path: Path) -> None:
    class Failing:
        async def prefix(self) -> tuple[str, ...]:
            return ("sh", "-c", "echo 'none of the selected services is configured for watch' >&2; exit 1")

    manager = WatchManager(Failing(), dict(os.environ))  # type: ignore[arg-type]
    folder = tmp_path / "private"
    folder.mkdir()
    async with manager.running():
        with pytest.raises(ComposeError, match=r"did not start watching: .*configured for watch"):
            await manager.start("proj", [], files=(), services=["web"], folder=folder)
        assert manager.get("proj") is None
    assert not folder.exists()


@pytest.mark.anyio
async def test_no_watch_outside_the_lifespan(tmp_path: Path) -> None:
    manager = WatchManager(FakeRunner(), dict(os.environ))  # type: ignore[arg-type]
    with pytest.raises(ComposeError, match="lifespan"):
        await manager.start("proj", [], files=(), services=[], folder=tmp_path)

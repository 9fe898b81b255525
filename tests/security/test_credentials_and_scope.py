"""Credentials go only where they belong, results are redacted at the one exit, and a label
scope has no gaps: on the real engine, with loopback registries that record what they are sent."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import docker
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from mcp_docker_server.errors import NotFound, PolicyDenied
from mcp_docker_server.policy import Policy
from mcp_docker_server.results.swarm import ServiceResult, ServiceRow
from mcp_docker_server.server import build_server
from mcp_docker_server.tools._scope import check_scope, scoped_result
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, accept_all, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

CANARY = "cnry-" + RUN_ID + "-pw0x"
# What the registry's own error text carries: it must not reach the model.
LEAKED_BEARER = "leakedBearer" + RUN_ID
LEAKED_URL_PASSWORD = "leakedurlpw" + RUN_ID
OTHER_LABEL = {f"{LABEL_KEY}.other": RUN_ID}  # for cleanup only: outside the scope LABEL


# --------------------------------------------------------------------------- recording registries


@dataclass
class Recorder:
    """A loopback 'registry' that asks for Basic credentials and records every request."""

    host: str
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    def authorizations(self) -> list[str]:
        return [auth for _, _, auth in self.seen if auth]


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def answer(self) -> None:
            recorder.seen.append((self.command, self.path, self.headers.get("Authorization")))
            message = (
                f"denied: upstream said Authorization: Bearer {LEAKED_BEARER} "
                f"via https://robot:{LEAKED_URL_PASSWORD}@mirror.example/"
            )
            body = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": message}]}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            self.send_header("WWW-Authenticate", 'Basic realm="recorder"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = answer

    return Handler


@pytest.fixture
def recorders() -> Iterator[tuple[Recorder, Recorder]]:
    """Registry A (the credentials' own) and registry B (any other)."""
    servers, made = [], []
    for _ in range(2):
        recorder = Recorder(host="")
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
        recorder.host = f"127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        made.append(recorder)
    try:
        yield made[0], made[1]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_server_wide_credentials_go_to_their_registry_only(
    unix_host: str,
    recorders: tuple[Recorder, Recorder],
    test_image: str,
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    a, b = recorders
    settings = settings_for(
        unix_host, REGISTRY_USERNAME="robot", REGISTRY_PASSWORD=CANARY, REGISTRY_SERVER=a.host
    )
    pushed = f"{b.host}/mcpd/app:{RUN_ID}"
    docker_client.images.get(test_image).tag(pushed)
    try:
        async with Client(build_server(settings), elicitation_callback=accept_all) as client:
            # Registry B: a pull, a push, and run-container's own pull; none carries credentials.
            error_text(
                await client.call_tool("image-operations", {"image": f"{b.host}/x/y:1", "action": "pull"})
            )
            error_text(await client.call_tool("image-operations", {"image": pushed, "action": "push"}))
            error_text(
                await client.call_tool(
                    "run-container",
                    {"image": f"{b.host}/x/run:1", "name": unique_name, "labels": {LABEL_KEY: RUN_ID}},
                )
            )
            assert b.seen, "registry B was never asked: the test proves nothing"
            assert b.authorizations() == []
            # Registry A, the one they were set for, does get them (the control).
            denied = error_text(
                await client.call_tool("image-operations", {"image": f"{a.host}/x/y:1", "action": "pull"})
            )
        assert basic("robot", CANARY) in a.authorizations()
        # The registry's own words are redacted on the way out (the error path of the one exit).
        assert "upstream said" in denied
        assert "[redacted]" in denied
        assert LEAKED_BEARER not in denied
        assert LEAKED_URL_PASSWORD not in denied
        assert CANARY not in denied
        assert not docker_client.containers.list(all=True, filters={"name": f"^{unique_name}$"})
    finally:
        docker_client.images.remove(pushed, force=True)


async def test_without_registry_server_they_are_for_docker_hub_only(
    unix_host: str, recorders: tuple[Recorder, Recorder]
) -> None:
    a, _ = recorders
    settings = settings_for(unix_host, REGISTRY_USERNAME="robot", REGISTRY_PASSWORD=CANARY)
    async with Client(build_server(settings), elicitation_callback=accept_all) as client:
        error_text(await client.call_tool("image-operations", {"image": f"{a.host}/x/y:1", "action": "pull"}))
    assert a.seen
    assert a.authorizations() == []


async def test_push_question_names_registry_repository_and_tag(
    unix_host: str, recorders: tuple[Recorder, Recorder], test_image: str, docker_client: docker.DockerClient
) -> None:
    _, b = recorders
    asked: list[str] = []

    async def decline(context: Any, params: ElicitRequestParams) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="decline")

    local = f"mcpd/app:{RUN_ID}"
    docker_client.images.get(test_image).tag(local)
    try:
        async with Client(build_server(settings_for(unix_host)), elicitation_callback=decline) as client:
            text = error_text(
                await client.call_tool(
                    "image-operations", {"image": local, "action": "push", "registry": b.host}
                )
            )
        assert "did not confirm" in text
        assert asked == [f"push image {local} to registry {b.host}, repository mcpd/app, tag {RUN_ID}"]
        assert b.seen == []  # declined: nothing was sent, nothing tagged
        assert not docker_client.images.list(name=f"{b.host}/mcpd/app")
    finally:
        docker_client.images.remove(local, force=True)


async def test_read_only_server_contacts_no_registry_unless_allowed(
    unix_host: str, recorders: tuple[Recorder, Recorder]
) -> None:
    _, b = recorders
    ref = f"{b.host}/x/absent:1"
    read_only = replace(Policy(), read_only=True)
    async with Client(build_server(settings_for(unix_host), policy=read_only)) as client:
        for action in ("resolve-digest", "verify"):
            text = error_text(await client.call_tool("image-security", {"action": action, "target": ref}))
            assert "policy rule 'read-only'" in text, text
            assert "read_only_registry_reads = true" in text
    assert b.seen == []
    allowed = replace(read_only, read_only_registry_reads=True)
    async with Client(build_server(settings_for(unix_host), policy=allowed)) as client:
        text = error_text(
            await client.call_tool("image-security", {"action": "resolve-digest", "target": ref})
        )
        assert "read-only" not in text
    assert b.seen  # the operator allowed it: the registry was asked


# --------------------------------------------------------------------------- redaction at the exit


async def test_volume_options_image_config_and_process_lists_are_redacted(
    client: Client, test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    volume = docker_client.volumes.create(
        f"{unique_name}-cifs",
        driver="local",
        driver_opts={"type": "cifs", "device": "//nas/share", "o": f"addr=nas,username=u,password={CANARY}"},
        labels={LABEL_KEY: RUN_ID},
    )
    base = docker_client.containers.create(test_image, ["true"], labels={LABEL_KEY: RUN_ID})
    image = f"mcpd-redact-{RUN_ID}:t"
    base.commit(
        repository=image.split(":")[0],
        tag="t",
        conf={
            "Cmd": ["sh", "-c", f"app --password {CANARY}"],
            "Entrypoint": ["env", f"TOKEN={CANARY}"],
            "Healthcheck": {"Test": ["CMD-SHELL", f"wget --header 'Authorization: Bearer {CANARY}' x"]},
        },
    )
    running = docker_client.containers.run(
        test_image,
        ["sh", "-c", f"sleep 300; echo --token {CANARY}"],
        name=unique_name,
        detach=True,
        labels={LABEL_KEY: RUN_ID},
    )
    try:
        results = [
            await client.call_tool("volume-management", {"name": volume.name, "action": "inspect"}),
            await client.call_tool("volume-management", {"name": volume.name, "action": "list"}),
            await client.call_tool("image-operations", {"image": image, "action": "inspect"}),
            await client.call_tool("container-stats", {"container_id": unique_name, "processes": True}),
        ]
        for result in results:
            ok(result)
            everything = json.dumps(result.model_dump(mode="json"), default=str)
            assert CANARY not in everything
        inspected = ok(results[0])["volume"]["options"]
        assert inspected["o"] == "addr=nas,username=u,password=[redacted]"
        detail = ok(results[2])["image"]
        assert detail["cmd"] == ["sh", "-c", "app --password [redacted]"]
        assert detail["entrypoint"] == ["env", "TOKEN=[redacted]"]
        assert "Bearer [redacted]" in detail["healthcheck"][1]
        rows = ok(results[3])["processes"]["processes"]
        assert any("--token [redacted]" in " ".join(row) for row in rows)
        # The resources are the other way out: the same redaction.
        for resource in (f"docker://images/{image}", f"docker://volumes/{volume.name}"):
            read = await client.read_resource(resource)
            body = json.dumps(read.model_dump(mode="json"))
            assert "[redacted]" in body, resource
            assert CANARY not in body, resource
    finally:
        running.remove(force=True)
        base.remove(force=True)
        docker_client.images.remove(image, force=True)
        volume.remove(force=True)


# --------------------------------------------------------------------------- label scope


@pytest.fixture
async def scoped(unix_host: str, docker_client: docker.DockerClient) -> AsyncIterator[Client]:
    policy = replace(Policy(), label_scope=LABEL)
    async with Client(
        build_server(settings_for(unix_host), policy=policy), elicitation_callback=accept_all
    ) as c:
        yield c


@pytest.fixture
def outsiders(
    docker_client: docker.DockerClient, test_image: str, unique_name: str
) -> Iterator[dict[str, str]]:
    """A network, a volume and a running container this server did not make."""
    network = docker_client.networks.create(f"{unique_name}-out-net", labels=OTHER_LABEL)
    volume = docker_client.volumes.create(f"{unique_name}-out-vol", labels=OTHER_LABEL)
    container = docker_client.containers.run(
        test_image, ["sleep", "300"], name=f"{unique_name}-out", detach=True, labels=OTHER_LABEL
    )
    yield {"network": str(network.name), "volume": str(volume.name), "container": str(container.name)}
    container.remove(force=True)
    network.remove()
    volume.remove(force=True)


@pytest.mark.parametrize(
    ("argument", "kind"),
    [
        ({"network": "{network}"}, "network"),
        ({"network": "container:{container}"}, "container"),
        ({"volumes": ["{volume}:/data"]}, "volume"),
        ({"volumes": [{"volume": "{volume}", "container_path": "/data"}]}, "volume"),
    ],
)
async def test_run_container_with_a_network_or_volume_outside_the_scope_is_refused(
    scoped: Client,
    outsiders: dict[str, str],
    test_image: str,
    unique_name: str,
    docker_client: docker.DockerClient,
    argument: dict[str, Any],
    kind: str,
) -> None:
    filled = json.loads(
        json.dumps(argument)
        .replace("{network}", outsiders["network"])
        .replace("{volume}", outsiders["volume"])
        .replace("{container}", outsiders["container"])
    )
    text = error_text(
        await scoped.call_tool("run-container", {"image": test_image, "name": unique_name, **filled})
    )
    assert "label-scope" in text
    assert f"{kind} " in text
    assert not docker_client.containers.list(all=True, filters={"name": f"^{unique_name}$"})


async def test_a_volume_the_engine_would_create_unlabelled_is_refused(
    scoped: Client, test_image: str, unique_name: str, docker_client: docker.DockerClient
) -> None:
    fresh = f"{unique_name}-fresh"
    text = error_text(
        await scoped.call_tool(
            "run-container", {"image": test_image, "name": unique_name, "volumes": [f"{fresh}:/data"]}
        )
    )
    assert "label-scope" in text
    assert "volume-management action=create" in text
    assert not docker_client.volumes.list(filters={"name": fresh})
    assert not docker_client.containers.list(all=True, filters={"name": f"^{unique_name}$"})


async def test_scoped_network_and_volume_work_and_listings_and_events_are_cut(
    scoped: Client,
    outsiders: dict[str, str],
    test_image: str,
    unique_name: str,
    docker_client: docker.DockerClient,
) -> None:
    network, volume = f"{unique_name}-in-net", f"{unique_name}-in-vol"
    ok(await scoped.call_tool("network-management", {"name": network, "action": "create"}))
    ok(await scoped.call_tool("volume-management", {"name": volume, "action": "create"}))
    try:
        ran = ok(
            await scoped.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": unique_name,
                    "command": ["sleep", "60"],
                    "network": network,
                    "volumes": [f"{volume}:/data"],
                },
            )
        )
        assert ran["name"] == unique_name
        # connect/disconnect: a container outside the scope is refused, even to a scoped network.
        text = error_text(
            await scoped.call_tool(
                "network-management",
                {"name": network, "action": "connect", "containers": [outsiders["container"]]},
            )
        )
        assert "label-scope" in text
        assert (
            network
            not in docker_client.containers.get(outsiders["container"]).attrs["NetworkSettings"]["Networks"]
        )
        networks = [
            n["name"]
            for n in ok(await scoped.call_tool("network-management", {"name": "*", "action": "list"}))[
                "networks"
            ]
        ]
        assert network in networks
        assert outsiders["network"] not in networks
        assert "bridge" not in networks
        volumes = [
            v["name"]
            for v in ok(await scoped.call_tool("volume-management", {"name": "*", "action": "list"}))[
                "volumes"
            ]
            or []
        ]
        assert volume in volumes
        assert outsiders["volume"] not in volumes
        events = ok(
            await scoped.call_tool(
                "docker-system", {"action": "events", "since": "2m", "filters": {"type": "container"}}
            )
        )["events"]
        actors = {e["actor"] for e in events}
        assert unique_name in actors
        assert outsiders["container"] not in actors
    finally:
        docker_client.containers.get(unique_name).remove(force=True)
        docker_client.networks.get(network).remove()
        docker_client.volumes.get(volume).remove(force=True)


# --------------------------------------------------------------------------- service create (pure)


class _System:
    def __init__(self, labels: dict[str, dict[str, str]]) -> None:
        self.labels = labels
        self.asked: list[tuple[str, str]] = []

    async def labels_of(self, kind: str, ref: str) -> dict[str, str]:
        self.asked.append((kind, ref))
        if ref not in self.labels:
            raise NotFound(kind, ref)
        return self.labels[ref]


@dataclass
class _State:
    system: _System
    policy: Policy = field(default_factory=lambda: replace(Policy(), label_scope=LABEL))


@pytest.mark.parametrize(
    ("arguments", "refused"),
    [
        ({"networks": ["in-net"], "volumes": ["in-vol:/data"]}, None),
        ({"networks": ["out-net"]}, "network out-net"),
        ({"networks": ["in-net"], "volumes": ["out-vol:/data"]}, "volume out-vol"),
        ({"volumes": ["/srv/data:/data", "new-vol:/x"]}, "volume new-vol does not exist"),
    ],
)
async def test_service_create_checks_its_networks_and_volumes(
    arguments: dict[str, Any], refused: str | None
) -> None:
    key, value = LABEL.split("=")
    system = _System({"in-net": {key: value}, "in-vol": {key: value}, "out-net": {}, "out-vol": {}})
    state: Any = _State(system)
    call = {"action": "create", "name": "web", "image": "busybox", **arguments}
    if refused is None:
        await check_scope("service-management", "create", call, state)
        assert ("volume", "in-vol") in system.asked
        return
    with pytest.raises(PolicyDenied, match=refused):
        await check_scope("service-management", "create", call, state)
    assert ("volume", "/srv/data") not in system.asked  # a bind is judged by the path rule


class _Listing(_System):
    async def labelled(self, kind: str, label: str) -> frozenset[str]:
        self.asked.append((kind, label))
        return frozenset(name for name, labels in self.labels.items() if labels)


async def test_service_listing_is_cut_to_the_scope() -> None:
    key, value = LABEL.split("=")
    system = _Listing({"in-svc": {key: value}, "out-svc": {}})
    state: Any = _State(system)
    rows = [
        ServiceRow(id=name, name=name, image="busybox", mode="replicated", running=1, desired=1)
        for name in ("in-svc", "out-svc")
    ]
    result = await scoped_result(
        "service-management", "list", ServiceResult(action="list", services=rows), state
    )
    assert [row.name for row in result.services or []] == ["in-svc"]
    assert system.asked == [("service", LABEL)]
    unscoped: Any = _State(system, policy=Policy())
    whole = await scoped_result(
        "service-management", "list", ServiceResult(action="list", services=rows), unscoped
    )
    assert len(whole.services or []) == 2

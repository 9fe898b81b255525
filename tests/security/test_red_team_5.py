"""Red-team findings, fifth pass: the "nested writable binds" rule (``allow_nested_binds``),
attacked through every entry point on the real engines through the official MCP client.

A container that can write a host folder can plant a symlink in it; whatever the engine,
Compose, buildx or the swarm reads later under that folder follows the link out to the host.
Each test asserts the SAFE outcome (refused, naming ``allow_nested_binds``, nothing left).
BLOCKED marks an attack that was tried and is refused; "was a FAULT" one that was let through
before it was fixed (bind-like volumes, Compose builds, build-image, swarm services and stacks,
writers on another engine of this host). Nothing here plants a link to a real system folder:
the refusal is the point, and a hole is shown by the call being let through."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import docker.types
import pytest
from mcp import Client
from mcp.types import CallToolResult

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL, LABEL_KEY, RUN_ID, accept_all, env, labelled, ok, settings_for, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

NESTED = "allow_nested_binds"
LABELS = {LABEL_KEY: RUN_ID}


def _short() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(autouse=True)
def _remove_what_a_fault_made(docker_client: docker.DockerClient) -> Iterator[None]:
    yield
    for container in labelled(docker_client):
        container.remove(force=True)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """The folder a writer container binds read-write, with data/ (what a victim binds), a
    link to it, and a compose project beside it."""
    folder = tmp_path / "shared"
    (folder / "data").mkdir(parents=True)
    (folder / "x" / "y").mkdir(parents=True)
    (folder / "data" / "ok.txt").write_text("ok")
    (tmp_path / "link").symlink_to(folder)
    return folder


@pytest.fixture
def volumes(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Named volumes a test makes (or a fault makes), removed afterwards."""
    made: list[str] = []
    yield made
    for container in labelled(docker_client):  # a volume in use cannot go
        container.remove(force=True)
    for name in made:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            docker_client.volumes.get(name).remove(force=True)


@pytest.fixture
def projects(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Compose projects a test names, taken down afterwards (containers, networks, volumes)."""
    names: list[str] = []
    yield names
    for project in names:
        label = f"com.docker.compose.project={project}"
        for container in docker_client.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)
        for network in docker_client.networks.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()
        for volume in docker_client.volumes.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.APIError):
                volume.remove(force=True)


@contextlib.asynccontextmanager
async def server(host: str, policy: Policy | None = None) -> AsyncIterator[Client]:
    async with Client(
        build_server(settings_for(host), policy=policy or Policy()), elicitation_callback=accept_all
    ) as mcp_client:
        yield mcp_client


def refused(result: CallToolResult, case: object = "", *, naming: tuple[str, ...] = ()) -> None:
    """The safe outcome: an error naming the nested-bind rule and the key that opens it (and
    each of ``naming``: the path read, the folder written, the container that writes it)."""
    assert result.is_error, f"{case}: let through: {result.structured_content}"
    words = text_of(result)
    assert "nested-bind" in words, f"{case}: {words}"
    assert NESTED in words, f"{case}: {words}"
    for name in naming:
        assert name in words, f"{case}: {name} not named: {words}"


async def run(c: Client, image: str, volumes: list[Any], **extra: Any) -> CallToolResult:
    return await c.call_tool(
        "run-container",
        {"image": image, "command": ["sleep", "60"], "volumes": volumes, "labels": LABELS, **extra},
    )


def bind(host_path: str, mode: str = "rw") -> dict[str, str]:
    return {"host_path": host_path, "container_path": "/w", "mode": mode}


def foreign_writer(
    docker_client: docker.DockerClient,
    image: str,
    folder: Path,
    *,
    form: str = "binds",
    state: str = "running",
) -> Any:
    """A container made outside the server (docker-py) that mounts ``folder`` read-write, left
    created, exited or running."""
    how: dict[str, Any] = (
        {"volumes": {str(folder): {"bind": "/w", "mode": "rw"}}}
        if form == "binds"
        else {"mounts": [docker.types.Mount("/w", str(folder), type="bind", read_only=False)]}
    )
    container = docker_client.containers.create(image, ["sleep", "60"], labels=LABELS, **how)
    if state != "created":
        container.start()
    if state == "exited":
        container.stop(timeout=0)
    return container


# --------------------------------------------------------------------------- run-container


async def test_blocked_a_bind_inside_a_writable_one_in_every_spelling(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # BLOCKED: with a container binding shared/ read-write, a bind of a folder inside it is
    # refused however it is spelled (trailing slash, `..`, a symlinked parent, --mount or -v
    # strings) and however read-only it is asked for.
    link = shared.parent / "link"
    spellings: list[Any] = [
        bind(f"{shared}/data"),
        bind(f"{shared}/data/"),
        bind(f"{shared}/x/../data"),
        bind(f"{link}/data"),
        bind(f"{shared}//data", "ro"),
        bind(f"{shared}/data", "ro,z"),
        {"type": "bind", "host_path": f"{shared}/data", "container_path": "/w", "mode": "ro"},
        f"{shared}/data:/w:ro",
        f"{link}/./data:/w",
    ]
    async with server(unix_host) as c:
        ok(await run(c, test_image, [bind(str(shared))]))
        for volume in spellings:
            refused(await run(c, test_image, [volume]), volume)
    assert len(labelled(docker_client)) == 1, "a refused container was left behind"


async def test_blocked_a_writable_bind_around_an_existing_bind_in_every_spelling(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # BLOCKED: the other order (the victim first, the writer after): a read-write bind of a
    # folder around another container's bind source is refused in every spelling of "rw".
    link = shared.parent / "link"
    spellings: list[Any] = [
        bind(str(shared)),
        bind(f"{shared}/"),
        bind(f"{shared}/data/.."),
        bind(str(link)),
        bind(str(shared), "rw,z"),
        bind(str(shared), "z"),
        bind(str(shared.parent)),
        f"{shared}:/w",
        f"{link}/:/w:rw",
    ]
    async with server(unix_host) as c:
        ok(await run(c, test_image, [bind(f"{shared}/data", "ro")]))
        for volume in spellings:
            refused(await run(c, test_image, [volume]), volume)
        # Two binds of one container, one read-write around the other: itself is a writer too.
        refused(
            await run(c, test_image, [bind(f"{shared}/x"), {**bind(f"{shared}/x/y"), "container_path": "/y"}])
        )
    assert len(labelled(docker_client)) == 1, "a refused container was left behind"


@pytest.mark.parametrize(("form", "state"), [("binds", "created"), ("mount", "exited"), ("mount", "running")])
async def test_blocked_a_bind_inside_a_folder_a_foreign_container_writes(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient, form: str, state: str
) -> None:
    # BLOCKED: the writer made outside the server (docker-py, -v or --mount), whether created,
    # exited or running, still counts: the engine mounts its folder again at its next start.
    foreign_writer(docker_client, test_image, shared, form=form, state=state)
    async with server(unix_host) as c:
        refused(await run(c, test_image, [bind(f"{shared}/data", "ro")]))
    assert len(labelled(docker_client)) == 1


async def test_read_only_and_tmpfs_writers_do_not_count(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # BLOCKED (no false alarm): read-only spellings and tmpfs mounts are not writers.
    docker_client.containers.create(
        test_image, ["sleep", "60"], labels=LABELS, volumes={str(shared): {"bind": "/w", "mode": "ro,z"}}
    )
    async with server(unix_host) as c:
        ok(await run(c, test_image, [f"{shared}:/a:ro", {"type": "tmpfs", "container_path": "/t"}]))
        ok(await run(c, test_image, [bind(f"{shared}/data", "ro")]))


async def test_blocked_start_and_restart_once_a_writer_appeared(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient
) -> None:
    # BLOCKED: the victim was admitted alone; a writer made outside the server afterwards
    # (running or only created) makes its next start and restart refused.
    async with server(unix_host) as c:
        victim = ok(await run(c, test_image, [bind(f"{shared}/data", "ro")]))["id"]
        docker_client.containers.get(victim).stop(timeout=0)
        writer = foreign_writer(docker_client, test_image, shared, state="created")
        refused(await c.call_tool("manage-container", {"container_id": victim, "action": "start"}))
        # Nor may the writer be started through the server: its bind wraps the victim's.
        refused(await c.call_tool("manage-container", {"container_id": writer.id, "action": "start"}))
        writer.start()
        refused(await c.call_tool("manage-container", {"container_id": victim, "action": "restart"}))
    assert docker_client.containers.get(victim).status == "exited"


# --------------------------------------------------------------------------- volumes that bind


def bind_volume(docker_client: docker.DockerClient, made: list[str], device: Path, o: str = "bind") -> str:
    name = f"mcpd-rt5-{_short()}"
    made.append(name)
    docker_client.volumes.create(
        name, driver="local", driver_opts={"type": "none", "o": o, "device": str(device)}, labels=LABELS
    )
    return name


@pytest.mark.parametrize(
    ("victim_is", "o", "how"),
    [
        ("volume", "bind", "string"),
        ("volume", "rbind,ro", "object"),
        ("writer", "bind", "string"),
        ("writer", "rbind", "object"),
    ],
)
async def test_a_bind_volume_counts_as_a_bind_for_nesting(
    unix_host: str,
    shared: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    volumes: list[str],
    victim_is: str,
    o: str,
    how: str,
) -> None:
    # BLOCKED (was a FAULT): with allow_volume_mounts (which keeps the path rule for the
    # device), a volume whose device is shared/data mounts it at every start exactly like a
    # bind: a writer of shared/ can swap data for a link first. Either side may be the volume
    # (o=bind or rbind, mounted by name in a string or an object).
    policy = replace(Policy(), allow_volume_mounts=True)

    def mount(name: str, mode: str) -> Any:
        return (
            f"{name}:/w:{mode}" if how == "string" else {"volume": name, "container_path": "/w", "mode": mode}
        )

    async with server(unix_host, policy) as c:
        if victim_is == "volume":
            writer = ok(await run(c, test_image, [bind(str(shared))]))["name"]
            name = bind_volume(docker_client, volumes, shared / "data", o)
            result = await run(c, test_image, [mount(name, "ro")])
        else:
            writer = ""  # the container being created
            ok(await run(c, test_image, [bind(f"{shared}/data", "ro")]))
            name = bind_volume(docker_client, volumes, shared, o)
            result = await run(c, test_image, [mount(name, "rw")])
    refused(result, naming=(f"{shared}/data", f"lies in {shared},", writer))
    assert len(labelled(docker_client)) == 1, "a refused container was left behind"


async def test_a_read_only_bind_volume_is_no_writer(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient, volumes: list[str]
) -> None:
    # BLOCKED (no false alarm): a bind volume mounted read-only, or whose options say ro, is
    # not a writer of its device.
    policy = replace(Policy(), allow_volume_mounts=True)
    async with server(unix_host, policy) as c:
        ok(await run(c, test_image, [f"{bind_volume(docker_client, volumes, shared)}:/w:ro"]))
        ok(await run(c, test_image, [f"{bind_volume(docker_client, volumes, shared, 'bind,ro')}:/w"]))
        ok(await run(c, test_image, [bind(f"{shared}/data", "ro")]))


# --------------------------------------------------------------------------- compose-stack

SERVICE = """\
  {name}:
    image: {image}
    command: ["sleep", "60"]
    labels:
      {label_key}: "{run}"
"""


def compose_file(folder: Path, image: str, services: dict[str, str], tail: str = "") -> Path:
    """A compose.yaml in ``folder``: each service's extra YAML (indented 4) after the common keys."""
    text = "services:\n"
    for name, extra in services.items():
        text += SERVICE.format(name=name, image=image, label_key=LABEL_KEY, run=RUN_ID) + extra
    path = folder / "compose.yaml"
    path.write_text(text + tail)
    return path


def project_containers(docker_client: docker.DockerClient, project: str) -> list[Any]:
    label = f"com.docker.compose.project={project}"
    return docker_client.containers.list(all=True, filters={"label": label})


COMPOSE_CASES = {
    # A project binds . read-write and ./shared/data into another service (short syntax).
    "own-nested-short": ({"a": '    volumes: [".:/p"]\n', "b": '    volumes: ["./shared/data:/d:ro"]\n'}, ""),
    # The same with long syntax, read_only: false spelled out, and a bind through a link.
    "own-nested-long": (
        {
            "a": "    volumes:\n      - {type: bind, source: ./link, target: /p, read_only: false}\n",
            "b": "    volumes:\n      - {type: bind, source: ./shared/data/, target: /d, read_only: true}\n",
        },
        "",
    ),
    # A secret file and a config file inside a folder the project writes.
    "secret": (
        {"a": '    volumes: ["./shared:/s:z"]\n    secrets: [s]\n'},
        "secrets:\n  s:\n    file: ./shared/data/ok.txt\n",
    ),
    "config": (
        {"a": '    volumes: ["./shared:/s"]\n    configs: [c]\n'},
        "configs:\n  c:\n    file: ./link/data/ok.txt\n",
    ),
}


@pytest.mark.parametrize("case", list(COMPOSE_CASES))
async def test_blocked_compose_up_with_nested_binds_secrets_and_configs(
    unix_host: str,
    shared: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    projects: list[str],
    case: str,
) -> None:
    # BLOCKED: a project's own read-write bind around another service's bind, a secret or a
    # config file: refused at up, and nothing of the project is left.
    services, tail = COMPOSE_CASES[case]
    path = compose_file(shared.parent, test_image, services, tail)
    project = f"mcpd-rt5-{_short()}"
    projects.append(project)
    async with server(unix_host) as c:
        result = await c.call_tool(
            "compose-stack", {"compose_file": str(path), "action": "up", "project_name": project}
        )
    refused(result, case)
    assert project_containers(docker_client, project) == []


async def test_blocked_compose_secret_watch_and_restart_in_a_folder_another_container_writes(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient, projects: list[str]
) -> None:
    # BLOCKED: a container outside the project writes shared/: the project's secret file and
    # watched folder inside it are refused (up, watch), and a project brought up before the
    # writer appeared is refused at its next restart (its bind lies inside shared/).
    project = f"mcpd-rt5-{_short()}"
    projects.append(project)
    folder = shared.parent
    async with server(unix_host) as c:
        up = compose_file(folder, test_image, {"b": '    volumes: ["./shared/data:/d:ro"]\n'})
        ok(
            await c.call_tool(
                "compose-stack", {"compose_file": str(up), "action": "up", "project_name": project}
            )
        )
        foreign_writer(docker_client, test_image, shared, state="exited")
        result = await c.call_tool(
            "compose-stack", {"compose_file": str(up), "action": "restart", "project_name": project}
        )
        refused(result, "restart")
        secret = compose_file(
            folder,
            test_image,
            {"s": "    secrets: [s]\n"},
            "secrets:\n  s:\n    file: ./shared/data/ok.txt\n",
        )
        other = f"mcpd-rt5-{_short()}"
        projects.append(other)
        result = await c.call_tool(
            "compose-stack", {"compose_file": str(secret), "action": "up", "project_name": other}
        )
        refused(result, "secret")
        watch = compose_file(
            folder,
            test_image,
            {"w": "    develop:\n      watch:\n        - {action: sync, path: ./shared/data, target: /w}\n"},
        )
        result = await c.call_tool(
            "compose-stack", {"compose_file": str(watch), "action": "watch", "project_name": other}
        )
        refused(result, "watch")
    assert project_containers(docker_client, other) == []


async def test_a_compose_bind_volume_nested_in_the_projects_writable_bind_is_refused(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient, projects: list[str]
) -> None:
    # BLOCKED (was a FAULT): a project binds . read-write into one service and a volume it
    # defines (type none, o=bind, device shared/data) into another: refused at up, nothing left.
    path = compose_file(
        shared.parent,
        test_image,
        {"a": '    volumes: [".:/p"]\n', "b": '    volumes: ["data:/d:ro"]\n'},
        f"volumes:\n  data:\n    driver_opts: {{type: none, o: bind, device: {shared}/data}}\n",
    )
    project = f"mcpd-rt5-{_short()}"
    projects.append(project)
    async with server(unix_host, replace(Policy(), allow_volume_mounts=True)) as c:
        result = await c.call_tool(
            "compose-stack", {"compose_file": str(path), "action": "up", "project_name": project}
        )
    refused(result, naming=(f"{shared}/data", f"lies in {shared.parent},"))
    assert project_containers(docker_client, project) == []


COMPOSE_BUILDS = {
    # (the build: key, the action, the path named in the refusal, relative to tmp_path)
    "context": ("build: ./shared/data", "build", "shared/data"),
    "context-through-a-link": ("build: ./link/data/", "up", "shared/data"),
    "additional-context": (
        "build: {context: ./ctx, additional_contexts: {extra: ./shared/data}}",
        "build",
        "shared/data",
    ),
    "dockerfile": ("build: {context: ./ctx, dockerfile: ../shared/data/Dockerfile}", "build", "shared/data"),
    "watch-rebuild": (
        "build: ./ctx\n    develop:\n      watch:\n        - {action: rebuild, path: ./shared/x}",
        "watch",
        "shared/x",
    ),
}


@pytest.mark.parametrize("case", list(COMPOSE_BUILDS))
async def test_a_compose_build_context_in_a_folder_a_container_writes_is_refused(
    unix_host: str,
    shared: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    projects: list[str],
    case: str,
) -> None:
    # BLOCKED (was a FAULT): buildx reads the context seconds after it was judged (after two
    # renders, the build admission and the secret scan); a container that writes shared/ can
    # swap shared/data for a link meanwhile, and the image then carries whatever host folder
    # the link names. Every local path a build reads counts: the context, an additional
    # context, the Dockerfile, and a watch's rebuild path.
    build, action, named = COMPOSE_BUILDS[case]
    (shared / "data" / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /ctx\n")
    (shared.parent / "ctx").mkdir()
    (shared.parent / "ctx" / "Dockerfile").write_text(f"FROM {test_image}\n")
    writer = foreign_writer(docker_client, test_image, shared)
    image = f"mcpd-rt5-cb:{_short()}"  # never the shared test image: Compose tags what it builds
    path = shared.parent / "compose.yaml"
    path.write_text(f"services:\n  app:\n    image: {image}\n    {build}\n")
    project = f"mcpd-rt5-{_short()}"
    projects.append(project)
    async with server(unix_host) as c:
        result = await c.call_tool(
            "compose-stack", {"compose_file": str(path), "action": action, "project_name": project}
        )
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(image, force=True)
    refused(result, case, naming=(str(shared.parent / named), f"lies in {shared},", writer.name))
    assert project_containers(docker_client, project) == []


# --------------------------------------------------------------------------- build-image


@pytest.mark.parametrize(
    "what", ["context", "context-through-a-link", "dockerfile", "cache_from", "cache_to", "secret"]
)
async def test_build_image_paths_in_a_folder_a_container_writes_are_refused(
    unix_host: str, shared: Path, test_image: str, docker_client: docker.DockerClient, what: str
) -> None:
    # BLOCKED (was a FAULT): buildx reads the context, the Dockerfile and a secret, and reads
    # or writes a type=local cache, after the judgement, following a link the writer of shared/
    # swaps in meanwhile (a cache export then writes index.json and blobs/ into any folder the
    # server's user can write).
    inside = what in ("context", "context-through-a-link")
    context = shared / "data" if inside else shared.parent / "ctx"
    context.mkdir(exist_ok=True)
    (context / "Dockerfile").write_text(f"FROM {test_image}\nENV RT5={_short()}\n")
    writer = foreign_writer(docker_client, test_image, shared)
    tag = f"mcpd-rt5-build:{_short()}"
    args: dict[str, Any] = {"path": str(context), "tag": tag}
    named = f"{shared}/data"
    if what == "context-through-a-link":
        args["path"] = f"{shared.parent}/link/data"
    elif what == "dockerfile":
        (shared / "data" / "Dockerfile").write_text(f"FROM {test_image}\n")
        args["dockerfile"] = f"{shared}/data/Dockerfile"
    elif what in ("cache_from", "cache_to"):
        (shared / "data" / "cache").mkdir()
        args[what] = [f"type=local,{'src' if what == 'cache_from' else 'dest'}={shared}/data/cache"]
    elif what == "secret":
        args["secrets"] = {"token": f"{shared}/data/ok.txt"}
    async with server(unix_host) as c:
        result = await c.call_tool("build-image", args)
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(tag, force=True)
    refused(result, what, naming=(named, f"lies in {shared},", writer.name))


# --------------------------------------------------------------------------- swarm


@pytest.fixture(scope="module")
def manager() -> Iterator[docker.DockerClient]:
    """The two-node swarm's manager (scripts/test-engine.sh up), on this machine's filesystem."""
    client = docker.DockerClient(base_url=env("MCPD_TEST_SWARM_MANAGER_HOST"), version="auto", timeout=30)
    yield client
    for service in client.services.list(filters={"label": LABEL}):
        service.remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True)
    client.close()


def services_named(manager: docker.DockerClient, prefix: str) -> list[str]:
    return [s.name for s in manager.services.list() if str(s.name).startswith(prefix)]


@pytest.mark.parametrize("side", ["victim", "writer"])
async def test_a_service_bind_nested_with_a_containers_writable_bind_is_refused(
    shared: Path, test_image: str, manager: docker.DockerClient, side: str
) -> None:
    # BLOCKED (was a FAULT): service-management create: a service binding shared/data while a
    # container on the manager writes shared/ (or a service writing shared/ around a
    # container's bind of shared/data) is refused before it is created: its tasks would mount
    # the source at once, and at every (re)start.
    name = f"mcpd-rt5-{_short()}"
    if side == "victim":
        other = foreign_writer(manager, test_image, shared)
        volume = bind(f"{shared}/data", "ro")
    else:
        other = manager.containers.create(
            test_image,
            ["sleep", "60"],
            labels=LABELS,
            volumes={f"{shared}/data": {"bind": "/d", "mode": "ro"}},
        )
        volume = bind(str(shared))
    async with server(env("MCPD_TEST_SWARM_MANAGER_HOST")) as c:
        result = await c.call_tool(
            "service-management",
            {
                "action": "create",
                "name": name,
                "image": test_image,
                "command": ["sleep", "60"],
                "volumes": [volume],
                "labels": LABELS,
                "wait": False,
            },
        )
    created = services_named(manager, name)
    for service in manager.services.list(filters={"name": name}):
        service.remove()  # type: ignore[no-untyped-call]
    refused(result, side, naming=(f"{shared}/data", f"lies in {shared},", other.name, f"service {name}"))
    assert created == [], "the refused service was created"


async def test_a_service_whose_tasks_run_on_another_node_is_a_writer(
    shared: Path, test_image: str, manager: docker.DockerClient
) -> None:
    # BLOCKED: a service made outside the server writes shared/ from a task placed on the
    # worker node (which shares this machine's filesystem): the manager lists no container
    # of it, but its service is a writer all the same, and a container on the manager binding
    # shared/data is refused, naming the service.
    name = f"mcpd-rt5-{_short()}"
    before = len(manager.containers.list(all=True, filters={"label": LABEL}))
    manager.services.create(  # type: ignore[no-untyped-call]  # docker-py leaves it untyped
        test_image,
        ["sleep", "60"],
        name=name,
        labels=LABELS,
        mounts=[docker.types.Mount("/w", str(shared), type="bind")],
        constraints=["node.role==worker"],
    )
    try:
        async with server(env("MCPD_TEST_SWARM_MANAGER_HOST")) as c:
            result = await run(c, test_image, [bind(f"{shared}/data", "ro")])
    finally:
        for service in manager.services.list(filters={"name": name}):
            service.remove()  # type: ignore[no-untyped-call]
    refused(result, naming=(f"{shared}/data", f"lies in {shared},", f"service {name}"))
    assert len(manager.containers.list(all=True, filters={"label": LABEL})) == before, (
        "a refused container was left"
    )


STACK = """\
services:
  app:
    image: {image}
    command: ["sleep", "60"]
    labels:
      {label_key}: "{run}"
    {extra}
"""

STACK_CASES = {
    "bind": 'volumes: ["{shared}/data:/d:ro"]',
    "bind-through-a-link": 'volumes: ["{shared}/../link/data/:/d:ro"]',
    "secret": "secrets: [s]\nsecrets:\n  s:\n    file: {shared}/data/ok.txt",
    "config": "configs: [c]\nconfigs:\n  c:\n    file: {shared}/../link/data/ok.txt",
    # The stack's service writes shared/, around the foreign container's bind of shared/data.
    "writer": 'volumes: ["{shared}:/w"]',
}


@pytest.mark.parametrize("case", list(STACK_CASES))
async def test_a_stack_deploy_nested_in_a_folder_a_container_writes_is_refused(
    tmp_path: Path, shared: Path, test_image: str, manager: docker.DockerClient, case: str
) -> None:
    # BLOCKED (was a FAULT): a stack whose service binds shared/data, or whose secret or config
    # file lies in shared/ (`docker stack deploy` reads it, following links), while a container
    # writes shared/; or whose service writes shared/ around a container's bind. Refused before
    # the deploy: services start as they are created.
    if case == "writer":
        other = manager.containers.create(
            test_image,
            ["sleep", "60"],
            labels=LABELS,
            volumes={f"{shared}/data": {"bind": "/d", "mode": "ro"}},
        )
    else:
        other = foreign_writer(manager, test_image, shared)
    path = tmp_path / "stack.yaml"
    extra = STACK_CASES[case].format(shared=shared)
    path.write_text(STACK.format(image=test_image, label_key=LABEL_KEY, run=RUN_ID, extra=extra))
    stack = f"rt5{_short()}"
    async with server(env("MCPD_TEST_SWARM_MANAGER_HOST")) as c:
        result = await c.call_tool(
            "stack-management",
            {
                "action": "deploy",
                "name": stack,
                "compose_file": str(path),
                "resolve_image": "never",
                "wait": False,
            },
        )
    namespace = {"label": f"com.docker.stack.namespace={stack}"}
    created = manager.services.list(filters=namespace)
    for service in created:
        service.remove()  # type: ignore[no-untyped-call]
    with contextlib.suppress(docker.errors.APIError):
        for secret in manager.secrets.list(filters=namespace):
            secret.remove()
        for network in manager.networks.list(filters=namespace):
            network.remove()
    refused(result, case, naming=(f"{shared}/data", f"lies in {shared},", str(other.name)))
    assert created == [], "the refused stack was deployed"


# --------------------------------------------------------------------------- several engines


def two_engines(tmp_path: Path, third: str = "") -> Any:
    """Settings for a server driving the primary engine ("local") and the second one, both on
    this machine (unix sockets), and ``third`` engine's TOML table when given."""
    engines = tmp_path / "engines.toml"
    engines.write_text(
        f'default = "local"\n[engines.local]\nhost = "{env("MCPD_TEST_UNIX_HOST")}"\n'
        f'[engines.second]\nhost = "{env("MCPD_TEST_SECOND_UNIX_HOST")}"\n{third}'
    )
    return load_settings({"MCP_DOCKER_ENGINES_FILE": str(engines), "DOCKER_TIMEOUT": "30"})


@pytest.fixture
def second() -> Iterator[docker.DockerClient]:
    """The second engine, its labelled containers removed afterwards."""
    client = docker.DockerClient(base_url=env("MCPD_TEST_SECOND_UNIX_HOST"), version="auto", timeout=30)
    yield client
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        container.remove(force=True)
    client.close()


async def test_a_writer_on_another_engine_of_this_host_counts(
    tmp_path: Path,
    shared: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    second: docker.DockerClient,
) -> None:
    # BLOCKED (was a FAULT): the server drives two local engines (engines file); a container
    # on the second one writes shared/; a bind of shared/data on the first, a writable bind
    # around it on the first the other way round, and a build of shared/data are refused:
    # both engines mount the same host folders.
    async with Client(build_server(two_engines(tmp_path)), elicitation_callback=accept_all) as c:
        writer = ok(await run(c, test_image, [bind(str(shared))], engine="second", network="none"))["name"]
        result = await run(c, test_image, [bind(f"{shared}/data", "ro")], engine="local")
        refused(result, naming=(f"{shared}/data", f"lies in {shared},", f"{writer} (engine second)"))
        (shared / "data" / "Dockerfile").write_text(f"FROM {test_image}\n")
        built = await c.call_tool(
            "build-image", {"path": f"{shared}/data", "tag": f"mcpd-rt5-build:{_short()}", "engine": "local"}
        )
        refused(built, "build", naming=(f"{shared}/data", f"{writer} (engine second)"))
        second.containers.get(writer).remove(force=True)
        victim = ok(await run(c, test_image, [bind(f"{shared}/x", "ro")], engine="second", network="none"))
        result = await run(c, test_image, [bind(str(shared))], engine="local")
        refused(result, "writer", naming=(f"{shared}/x", f"{victim['name']} (engine second)"))
    assert labelled(docker_client) == [], "a refused container was left behind"


async def test_an_engine_of_this_host_that_cannot_be_listed_fails_closed_for_binds_only(
    tmp_path: Path,
    shared: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    second: docker.DockerClient,
) -> None:
    # BLOCKED: a third local engine whose socket does not answer may still run containers
    # (live-restore keeps them without the daemon): a bind on the others is refused, naming
    # it; a container without binds is not held up by it.
    gone = f"unix://{tmp_path}/gone.sock"
    settings = two_engines(tmp_path, f'[engines.gone]\nhost = "{gone}"\n')
    async with Client(build_server(settings), elicitation_callback=accept_all) as c:
        result = await run(c, test_image, [bind(f"{shared}/data", "ro")], engine="local")
        refused(result, naming=(f"{shared}/data", "engine gone", gone))
        ok(await run(c, test_image, [], engine="local"))
    assert len(labelled(docker_client)) == 1

"""Red-team findings against the default policy, on the real engine through the official MCP
client. Each test asserts the SECURE behaviour; a test that fails names a bypass (its first
comment line says which). Everything a test makes carries the run's label or is removed by the
test itself."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client

from tests.conftest import LABEL_KEY, RUN_ID, error_text, labelled, ok

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

CANARY = f"canary{RUN_ID}"


def _short() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(autouse=True)
def _remove_what_a_bypass_made(docker_client: docker.DockerClient) -> Iterator[None]:
    """A bypass test that fails has made a container; remove it so one finding does not fail the
    session's leak check as well (each test asserts on what it made before this runs)."""
    yield
    for container in labelled(docker_client):
        container.remove(force=True)


@pytest.fixture
def project(docker_client: docker.DockerClient) -> Iterator[str]:
    """A compose project name whose containers and networks are removed afterwards, whatever
    the server did with them."""
    name = f"mcpd-rt-{_short()}"
    yield name
    project_filter: dict[str, str | list[str] | bool] = {"label": f"com.docker.compose.project={name}"}
    for container in docker_client.containers.list(all=True, filters=project_filter):
        container.remove(force=True)
    for network in docker_client.networks.list(filters=project_filter):
        with contextlib.suppress(docker.errors.APIError):
            network.remove()
    for volume in docker_client.volumes.list(filters=project_filter):
        with contextlib.suppress(docker.errors.APIError):
            volume.remove(force=True)


@pytest.fixture
def images(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(name, force=True)


@pytest.fixture
def networks(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        with contextlib.suppress(docker.errors.NotFound):
            network = docker_client.networks.get(name)
            for container in network.containers:
                container.remove(force=True)
            network.remove()


@pytest.fixture
def host_link() -> Iterator[list[str]]:
    """Host network interfaces a test makes (ip link), deleted afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        subprocess.run(["ip", "link", "delete", name], check=False, capture_output=True)


def add_link(made: list[str], name: str, kind: str) -> None:
    """A host interface of this test's own (a bridge needs no kernel module beyond Docker's)."""
    subprocess.run(["ip", "link", "add", name, "type", kind], check=True)
    made.append(name)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)


def image_exists(docker_client: docker.DockerClient, tag: str) -> bool:
    try:
        docker_client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def project_containers(docker_client: docker.DockerClient, project: str) -> list[Any]:
    return docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})


def envs_of(containers: list[Any]) -> str:
    return "\n".join("\n".join(c.attrs["Config"]["Env"] or []) for c in containers)


def credential_file(tmp_path: Path, relative: str, text: str) -> Path:
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def compose(client: Client, file: Path, action: str, project: str, **extra: Any) -> Any:
    return await client.call_tool(
        "compose-stack",
        {"compose_file": str(file), "action": action, "project_name": project, "timeout": 120, **extra},
    )


# --------------------------------------------------------------------------- compose: host files


@pytest.mark.parametrize("via", ["compose_file", "extra_files"])
async def test_compose_file_in_a_credential_folder_is_refused_unread(
    client: Client, tmp_path: Path, test_image: str, project: str, via: str
) -> None:
    # BYPASS: compose_file/extra_files are never path-checked; Compose's YAML errors echo the file's keys.
    secret = credential_file(tmp_path, "home/.kube/config", f"{CANARY}-key: 1\n{CANARY}-other: 2\n")
    main = tmp_path / "proj" / "compose.yaml"
    main.parent.mkdir()
    main.write_text(f"services:\n  a:\n    image: {test_image}\n")
    args = {"compose_file": str(secret)} if via == "compose_file" else {"extra_files": [str(secret)]}
    result = await client.call_tool(
        "compose-stack",
        {"compose_file": str(main), "action": "config", "project_name": project, **args},
    )
    text = error_text(result)
    assert "policy rule '" in text
    assert CANARY not in text


async def test_compose_file_etc_shadow_is_refused_unread(client: Client, project: str) -> None:
    # BYPASS: compose_file=/etc/shadow is rendered by Compose, whose validation error lists every shadow line.
    text = error_text(
        await client.call_tool(
            "compose-stack", {"compose_file": "/etc/shadow", "action": "config", "project_name": project}
        )
    )
    assert "policy rule 'sensitive-bind'" in text
    assert "root:" not in text


async def test_compose_dotenv_linked_to_a_credential_file_is_refused(
    client: Client, tmp_path: Path, test_image: str, project: str, docker_client: docker.DockerClient
) -> None:
    # BYPASS: the project's .env is never path-checked; a .env symlink to a host file reaches containers.
    secret = credential_file(tmp_path, "home/.aws/credentials", f"STOLEN={CANARY}\n")
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / ".env").symlink_to(secret)
    file = folder / "compose.yaml"
    file.write_text(
        textwrap.dedent(
            f"""\
            services:
              a:
                image: {test_image}
                command: sleep 60
                labels: {{{LABEL_KEY}: "{RUN_ID}"}}
                environment:
                  LEAK: ${{STOLEN:-none}}
            """
        )
    )
    text = error_text(await compose(client, file, "up", project))
    assert "policy rule '" in text
    assert CANARY not in envs_of(project_containers(docker_client, project))
    assert project_containers(docker_client, project) == []


async def test_compose_include_env_file_from_a_credential_folder_is_refused(
    client: Client, tmp_path: Path, test_image: str, project: str, docker_client: docker.DockerClient
) -> None:
    # BYPASS: include[].env_file is never path-checked; its values are interpolated into included services.
    secret = credential_file(tmp_path, "home/.ssh/environment", f"STOLEN={CANARY}\n")
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "inc.yaml").write_text(
        textwrap.dedent(
            f"""\
            services:
              b:
                image: {test_image}
                command: sleep 60
                labels: {{{LABEL_KEY}: "{RUN_ID}"}}
                environment:
                  LEAK: ${{STOLEN:-none}}
            """
        )
    )
    file = folder / "compose.yaml"
    file.write_text(f"include:\n  - path: inc.yaml\n    env_file: {secret}\n")
    text = error_text(await compose(client, file, "up", project))
    assert "policy rule '" in text
    assert CANARY not in envs_of(project_containers(docker_client, project))
    assert project_containers(docker_client, project) == []


async def test_compose_extends_file_from_a_credential_folder_is_refused(
    client: Client, tmp_path: Path, test_image: str, project: str, docker_client: docker.DockerClient
) -> None:
    # BYPASS: extends.file is never path-checked; a file in a credential folder is merged into the service.
    secret = credential_file(
        tmp_path, "home/.kube/base.yaml", f"services:\n  base:\n    environment:\n      LEAK: {CANARY}\n"
    )
    file = tmp_path / "proj" / "compose.yaml"
    file.parent.mkdir()
    file.write_text(
        textwrap.dedent(
            f"""\
            services:
              a:
                image: {test_image}
                command: sleep 60
                labels: {{{LABEL_KEY}: "{RUN_ID}"}}
                extends:
                  file: {secret}
                  service: base
            """
        )
    )
    text = error_text(await compose(client, file, "up", project))
    assert "policy rule '" in text
    assert CANARY not in envs_of(project_containers(docker_client, project))
    assert project_containers(docker_client, project) == []


@pytest.mark.parametrize(
    "remote",
    [
        "include:\n  - https://github.com/docker/awesome-compose.git#master:nginx-golang\n",
        "services:\n  a:\n    extends:\n      file: git@github.com:docker/compose.git#main:compose.yaml\n"
        "      service: x\n",
    ],
    ids=["include", "extends"],
)
async def test_compose_remote_resources_run_no_host_program(
    client: Client, tmp_path: Path, project: str, monkeypatch: pytest.MonkeyPatch, remote: str
) -> None:
    # BYPASS: a remote include/extends makes Compose run the host's git (with the server user's keys).
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    marker = tmp_path / "git-ran"
    git = bin_folder / "git"
    git.write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexit 1\n')
    git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}:{os.environ.get('PATH', '')}")
    file = tmp_path / "compose.yaml"
    file.write_text(remote)
    text = error_text(await compose(client, file, "config", project))
    assert "policy rule '" in text
    assert not marker.exists()


async def test_compose_seccomp_profile_file_is_path_checked_and_not_echoed(
    client: Client, tmp_path: Path, test_image: str, project: str, docker_client: docker.DockerClient
) -> None:
    # BYPASS: security_opt seccomp=<host file> is read by Compose unchecked; the refusal echoes its JSON.
    secret = credential_file(tmp_path, "home/.docker/config.json", f'{{"note": "{CANARY}"}}')
    file = tmp_path / "compose.yaml"
    file.write_text(
        textwrap.dedent(
            f"""\
            services:
              a:
                image: {test_image}
                command: sleep 60
                labels: {{{LABEL_KEY}: "{RUN_ID}"}}
                security_opt: ["seccomp={secret}"]
            """
        )
    )
    text = error_text(await compose(client, file, "up", project))
    assert "policy rule '" in text
    assert CANARY not in text
    assert project_containers(docker_client, project) == []


async def test_compose_build_refuses_secret_looking_files_in_its_context(
    client: Client,
    tmp_path: Path,
    test_image: str,
    project: str,
    docker_client: docker.DockerClient,
    images: list[str],
) -> None:
    # BYPASS: compose builds send .env and id_rsa from the context; only build-image refuses such files.
    context = tmp_path / "ctx"
    context.mkdir()
    (context / ".env").write_text(f"DB_PASSWORD={CANARY}\n")
    (context / "id_rsa").write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n"
    )
    (context / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /app\n")
    tag = f"mcpd-rt-build-{_short()}:latest"
    images.append(tag)
    file = tmp_path / "compose.yaml"
    file.write_text(f"services:\n  a:\n    image: {tag}\n    build:\n      context: ctx\n")
    text = error_text(await compose(client, file, "build", project))
    assert ".env" in text
    assert not image_exists(docker_client, tag)


async def test_a_refused_compose_update_leaves_the_running_service_alone(
    client: Client, tmp_path: Path, test_image: str, project: str, docker_client: docker.DockerClient
) -> None:
    # WRONG (not a bypass): an external network named "host" is judged only after Compose recreated the
    # service, so the refusal removes the project's running, allowed container.
    file = tmp_path / "compose.yaml"
    service = f"services:\n  a:\n    image: {test_image}\n    command: sleep 120\n"
    file.write_text(service)
    ok(await compose(client, file, "up", project))
    [before] = project_containers(docker_client, project)
    file.write_text(service + "    networks: [h]\nnetworks:\n  h:\n    external: true\n    name: host\n")
    text = error_text(await compose(client, file, "up", project))
    assert "policy rule 'host-network'" in text
    after = project_containers(docker_client, project)
    assert [c.id for c in after] == [before.id]
    assert after[0].status == "running"


# --------------------------------------------------------------------------- build-image


@pytest.mark.parametrize("name", ["id_ed25519_backup", "deploy_key", "keys/prod-signing.txt"])
async def test_build_refuses_private_keys_under_other_names(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    images: list[str],
    name: str,
) -> None:
    # BYPASS: secret detection is by file name only; a private key named anything else is sent into the image.
    key = credential_file(
        tmp_path,
        name,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    )
    assert key.exists()
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /app\n")
    tag = f"mcpd-rt-key-{_short()}:latest"
    images.append(tag)
    result = await client.call_tool(
        "build-image", {"path": str(tmp_path), "tag": tag, "labels": {LABEL_KEY: RUN_ID}, "timeout": 120}
    )
    text = error_text(result)
    assert name.rsplit("/", 1)[-1] in text
    assert not image_exists(docker_client, tag)


async def test_build_context_of_a_folder_linked_to_etc_is_refused(client: Client, tmp_path: Path) -> None:
    # HOLDS: a build context reached through a symlink is judged on its real path.
    link = tmp_path / "conf"
    link.symlink_to("/etc")
    text = error_text(
        await client.call_tool("build-image", {"path": str(link), "tag": "x:y", "dry_run": True})
    )
    assert "policy rule 'sensitive-bind'" in text


# --------------------------------------------------------------------------- networks


@pytest.mark.parametrize("driver", ["macvlan", "ipvlan"])
async def test_network_management_refuses_drivers_that_reach_host_interfaces(
    client: Client, docker_client: docker.DockerClient, networks: list[str], host_link: list[str], driver: str
) -> None:
    # BYPASS: network-management makes macvlan/ipvlan networks on a host interface (compose refuses them).
    parent = f"mcpdrt{_short()}"
    add_link(host_link, parent, "bridge")
    name = f"mcpd-rt-{driver}-{_short()}"
    networks.append(name)
    text = error_text(
        await client.call_tool(
            "network-management",
            {"name": name, "action": "create", "driver": driver, "options": {"parent": parent}},
        )
    )
    assert "policy rule '" in text
    assert docker_client.networks.list(names=[name]) == []


async def test_run_container_refuses_a_macvlan_network_made_elsewhere(
    client: Client,
    docker_client: docker.DockerClient,
    networks: list[str],
    host_link: list[str],
    test_image: str,
) -> None:
    # BYPASS: run-container attaches to an existing macvlan network, putting the container on the host's link.
    parent = f"mcpdrt{_short()}"
    add_link(host_link, parent, "bridge")
    name = f"mcpd-rt-macvlan-{_short()}"
    docker_client.networks.create(name, driver="macvlan", options={"parent": parent})
    networks.append(name)
    text = error_text(
        await client.call_tool(
            "run-container",
            {"image": test_image, "command": "sleep 30", "network": name, "labels": {LABEL_KEY: RUN_ID}},
        )
    )
    assert "policy rule '" in text
    assert labelled(docker_client) == []


async def test_network_management_refuses_taking_over_a_host_bridge(
    client: Client, docker_client: docker.DockerClient, networks: list[str], host_link: list[str]
) -> None:
    # BYPASS: com.docker.network.bridge.name adopts an existing host bridge (with docker0: re-addressed it,
    # and removing the network dropped the default bridge's iptables rules, cutting its containers off).
    bridge = f"mcpdrt{_short()}"
    add_link(host_link, bridge, "bridge")
    name = f"mcpd-rt-bridge-{_short()}"
    networks.append(name)
    text = error_text(
        await client.call_tool(
            "network-management",
            {"name": name, "action": "create", "options": {"com.docker.network.bridge.name": bridge}},
        )
    )
    assert "policy rule '" in text
    assert docker_client.networks.list(names=[name]) == []


async def test_compose_refuses_taking_over_a_host_bridge(
    client: Client,
    tmp_path: Path,
    test_image: str,
    project: str,
    docker_client: docker.DockerClient,
    host_link: list[str],
) -> None:
    # BYPASS: compose bridge networks accept com.docker.network.bridge.name naming an existing host bridge.
    bridge = f"mcpdrt{_short()}"
    add_link(host_link, bridge, "bridge")
    file = tmp_path / "compose.yaml"
    file.write_text(
        textwrap.dedent(
            f"""\
            services:
              a:
                image: {test_image}
                command: sleep 60
                labels: {{{LABEL_KEY}: "{RUN_ID}"}}
                networks: [lan]
            networks:
              lan:
                driver: bridge
                driver_opts:
                  com.docker.network.bridge.name: {bridge}
            """
        )
    )
    text = error_text(await compose(client, file, "up", project))
    assert "policy rule '" in text
    assert project_containers(docker_client, project) == []


# --------------------------------------------------------------------------- run-container binds


async def test_bind_of_a_proc_magic_link_gets_a_readable_refusal(
    client: Client, docker_client: docker.DockerClient, test_image: str
) -> None:
    # WRONG (not a bypass): realpath('/proc/1/root') raises PermissionError; the tool fails with no message.
    text = error_text(
        await client.call_tool(
            "run-container",
            {
                "image": test_image,
                "command": "true",
                "volumes": ["/proc/1/root:/x"],
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    )
    assert "policy rule 'sensitive-bind'" in text
    assert labelled(docker_client) == []


@pytest.fixture
def socket_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder holding a listening unix socket, as a daemon's run folder does (the second test
    engine's state folder, with its docker.sock, is one such folder on these machines)."""
    folder = tmp_path / "daemon"
    folder.mkdir()
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(folder / "engine.sock"))
        listener.listen()
        yield folder


async def test_bind_of_a_folder_holding_a_socket_is_refused(
    client: Client, docker_client: docker.DockerClient, test_image: str, socket_folder: Path
) -> None:
    # BYPASS: the socket rule checks only the bind source itself; binding its folder (even :ro) hands over the
    # socket (shown with /work/main/.test-engine/d2: a container read the second engine's /info through it).
    text = error_text(
        await client.call_tool(
            "run-container",
            {
                "image": test_image,
                "command": "sleep 30",
                "volumes": [f"{socket_folder}:/run/daemon:ro"],
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    )
    assert "policy rule 'socket-bind'" in text
    assert labelled(docker_client) == []


async def test_compose_config_file_naming_a_folder_with_a_socket_is_refused(
    client: Client,
    tmp_path: Path,
    test_image: str,
    project: str,
    docker_client: docker.DockerClient,
    socket_folder: Path,
) -> None:
    # BYPASS: a compose config/secret "file" may be a folder; Compose bind-mounts it, socket and all.
    file = tmp_path / "compose.yaml"
    file.write_text(
        textwrap.dedent(
            f"""\
            services:
              a:
                image: {test_image}
                command: sleep 60
                labels: {{{LABEL_KEY}: "{RUN_ID}"}}
                configs: [{{source: c, target: /run/daemon}}]
            configs:
              c:
                file: {socket_folder}
            """
        )
    )
    text = error_text(await compose(client, file, "up", project))
    assert "policy rule 'socket-bind'" in text
    assert project_containers(docker_client, project) == []


async def test_stack_file_etc_shadow_is_refused_unread(client: Client) -> None:
    # BYPASS: stack-management compose_file is not path-checked either; Compose's error lists shadow lines.
    text = error_text(
        await client.call_tool(
            "stack-management",
            {"action": "deploy", "name": f"mcpdrt{_short()}", "compose_file": "/etc/shadow"},
        )
    )
    assert "policy rule 'sensitive-bind'" in text
    assert "root:" not in text


async def test_bind_of_a_missing_host_folder_does_not_create_it(
    client: Client, docker_client: docker.DockerClient, test_image: str, tmp_path: Path
) -> None:
    # HOST WRITE (not a list bypass): a missing bind source is created by the engine as a root-owned folder,
    # e.g. "/etc " (trailing space) makes a new folder at the host's root.
    missing = tmp_path / "made-by-the-engine"
    result = await client.call_tool(
        "run-container",
        {
            "image": test_image,
            "command": "true",
            "volumes": [{"host_path": str(missing), "container_path": "/x"}],
            "labels": {LABEL_KEY: RUN_ID},
        },
    )
    for container in labelled(docker_client):
        container.remove(force=True)
    assert result.is_error
    assert not missing.exists()


@pytest.mark.parametrize(
    "volume",
    [
        "/ETC:/x",
        "//etc:/x",
        "/./etc:/x",
        "/tmp/../etc:/x",
        "/var/lib/docker/volumes:/x",
        "/home:/x",
        "/var:/x",
    ],
)
async def test_sensitive_bind_spellings_hold(
    client: Client, docker_client: docker.DockerClient, test_image: str, volume: str
) -> None:
    # HOLDS: spellings of sensitive bind sources are refused and leave nothing.
    text = error_text(
        await client.call_tool(
            "run-container",
            {"image": test_image, "command": "true", "volumes": [volume], "labels": {LABEL_KEY: RUN_ID}},
        )
    )
    assert "policy rule '" in text
    assert labelled(docker_client) == []


# --------------------------------------------------------------------------- foreign containers


@pytest.mark.parametrize(
    "host_config",
    [
        {"network_mode": "host"},
        {"pid_mode": "host"},
        {"cap_add": ["SYS_ADMIN"]},
        {"security_opt": ["seccomp=unconfined"]},
        {"binds": ["/etc:/x:ro"]},
    ],
    ids=["net-host", "pid-host", "cap", "seccomp", "etc"],
)
async def test_exec_and_start_of_a_foreign_dangerous_container_are_refused(
    client: Client, docker_client: docker.DockerClient, test_image: str, host_config: dict[str, Any]
) -> None:
    # HOLDS: containers made outside the server that the policy would not create are not exec'd or restarted.
    api = docker_client.api
    made = api.create_container(
        test_image,
        command=["sleep", "60"],
        labels={LABEL_KEY: RUN_ID},
        host_config=api.create_host_config(**host_config),
    )
    container = docker_client.containers.get(made["Id"])
    container.start()
    try:
        text = error_text(
            await client.call_tool("exec-container", {"container_id": container.id, "command": "id"})
        )
        assert "policy rule '" in text
        text = error_text(
            await client.call_tool("manage-container", {"container_id": container.id, "action": "restart"})
        )
        assert "policy rule '" in text
    finally:
        container.remove(force=True)


# --------------------------------------------------------------------------- swarm stacks


async def test_stack_deploy_dotenv_linked_to_a_credential_file_is_refused(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path, test_image: str
) -> None:
    # BYPASS: stack deploy renders with the folder's .env unchecked; a .env symlink leaks a host file.
    secret = credential_file(tmp_path, "home/.aws/credentials", f"STOLEN={CANARY}\n")
    folder = tmp_path / "stack"
    folder.mkdir()
    (folder / ".env").symlink_to(secret)
    file = folder / "compose.yaml"
    file.write_text(
        textwrap.dedent(
            f"""\
            services:
              a:
                image: {test_image}
                command: sleep 60
                environment:
                  LEAK: ${{STOLEN:-none}}
            """
        )
    )
    stack = f"mcpdrt{_short()}"
    joined = docker_client.info()["Swarm"]["LocalNodeState"] == "active"
    if not joined:
        docker_client.swarm.init(advertise_addr="127.0.0.1")
    try:
        result = await client.call_tool(
            "stack-management",
            {"action": "deploy", "name": stack, "compose_file": str(file), "wait": False, "timeout": 120},
        )
        services = docker_client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"})
        envs = "\n".join(
            "\n".join(s.attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []) for s in services
        )
        for service in services:
            service.remove()  # type: ignore[no-untyped-call]  # docker-py's stubs leave it untyped
        assert CANARY not in envs
        assert "policy rule '" in error_text(result)
    finally:
        for network in docker_client.networks.list(filters={"label": f"com.docker.stack.namespace={stack}"}):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()
        if not joined:
            docker_client.swarm.leave(force=True)


# --------------------------------------------------------------------------- volumes


async def test_volume_bind_options_hold(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    # HOLDS: volume options that mount host things are refused in every spelling tried.
    link = tmp_path / "conf"
    link.symlink_to("/etc")
    for options in (
        {"type": "none", "o": "bind", "device": str(link)},
        {"Type": "none", "O": "bind", "Device": "/etc"},
        {"type": "tmpfs", "device": "/etc"},
        {"type": "overlay", "device": "overlay", "o": "lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w"},
        {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,bind"},
    ):
        name = f"mcpd-rt-vol-{_short()}"
        text = error_text(
            await client.call_tool(
                "volume-management",
                {"name": name, "action": "create", "options": options, "labels": {LABEL_KEY: RUN_ID}},
            )
        )
        assert "policy rule '" in text
        assert docker_client.volumes.list(filters={"name": name}) == []


async def test_plain_tmpfs_volume_is_allowed(client: Client, docker_client: docker.DockerClient) -> None:
    # HOLDS: a plain tmpfs volume is created.
    name = f"mcpd-rt-tmpfs-{_short()}"
    try:
        ok(
            await client.call_tool(
                "volume-management",
                {
                    "name": name,
                    "action": "create",
                    "options": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"},
                    "labels": {LABEL_KEY: RUN_ID},
                },
            )
        )
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(name).remove(force=True)

"""One rule for every host path, on the real engine: build contexts and Dockerfiles, bind
sources, volume driver options, image-security targets and the containerize prompt. Each
refusal is asserted together with what did not happen (no image, no container, no volume)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mcp_docker_server.policy import Policy
from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, env, error_text, labelled, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


def tag_for(name: str) -> str:
    return f"mcpd-test-hostpath-{name}:{RUN_ID}"


@pytest.fixture
def images(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    for name in made:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(name, force=True)


def image_exists(docker_client: docker.DockerClient, tag: str) -> bool:
    try:
        docker_client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


async def run_output(client: Client, image: str, command: str) -> str:
    result = ok(
        await client.call_tool(
            "run-container",
            {
                "image": image,
                "command": command,
                "detach": False,
                "auto_remove": True,
                "labels": {LABEL_KEY: RUN_ID},
            },
        )
    )
    return str(result["output"])


async def build(client: Client, **args: Any) -> Any:
    return await client.call_tool("build-image", {"labels": {LABEL_KEY: RUN_ID}, **args})


# --------------------------------------------------------------------------- build contexts


@pytest.mark.parametrize("context", ["/etc", "/etc/", "/tmp/../etc", "/root", "/var/spool/cron"])
async def test_a_host_folder_as_build_context_is_refused_and_nothing_is_built(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path, test_image: str, context: str
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {test_image}\nCOPY . /loot\n")
    tag = tag_for("etc")
    text = error_text(await build(client, path=context, dockerfile=str(dockerfile), tag=tag))
    assert "policy rule 'sensitive-bind'" in text
    assert "build context" in text
    assert "allow_sensitive_binds = true" in text
    assert not image_exists(docker_client, tag)


async def test_a_link_to_etc_as_build_context_is_judged_by_its_target(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path, test_image: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /loot\n")
    (tmp_path / "innocent").symlink_to("/etc")
    tag = tag_for("etclink")
    text = error_text(await build(client, path=str(tmp_path / "innocent"), tag=tag))
    assert "resolves to /etc" in text
    assert not image_exists(docker_client, tag)


async def test_a_dockerfile_from_a_sensitive_place_is_refused(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    tag = tag_for("df")
    text = error_text(await build(client, path=str(tmp_path), dockerfile="/etc/passwd", tag=tag))
    assert "policy rule 'sensitive-bind'" in text
    assert "Dockerfile /etc/passwd" in text
    assert not image_exists(docker_client, tag)


async def test_a_dockerignore_with_a_byte_order_mark_keeps_its_first_line(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path, test_image: str, images: list[str]
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /ctx/\n")
    (tmp_path / "secret.txt").write_text("TOP-SECRET-CANARY\n")
    (tmp_path / "kept.txt").write_text("kept\n")
    (tmp_path / "notes.log").write_text("log\n")
    # Saved by a Windows editor: a UTF-8 byte-order mark, CRLF line ends, a comment.
    (tmp_path / ".dockerignore").write_bytes(b"\xef\xbb\xbfsecret.txt\r\n# logs\r\n*.log\r\n")
    tag = tag_for("bom")
    images.append(tag)
    ok(await build(client, path=str(tmp_path), tag=tag))
    listing = await run_output(client, tag, "sh -c 'ls -a /ctx; cat /ctx/secret.txt 2>&1 || true'")
    assert "kept.txt" in listing
    assert "secret.txt" not in listing.split()
    assert "TOP-SECRET-CANARY" not in listing
    assert "notes.log" not in listing


async def test_links_in_the_context_are_sent_as_links_never_followed(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path, test_image: str, images: list[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "loot.txt").write_text("OUTSIDE-CANARY\n")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /ctx/\n")
    (context / "leak").symlink_to(outside / "loot.txt")
    (context / "dirleak").symlink_to(outside)
    tag = tag_for("links")
    images.append(tag)
    ok(await build(client, path=str(context), tag=tag))
    output = await run_output(
        client,
        tag,
        "sh -c 'test -L /ctx/leak && echo leak-is-a-link; test -L /ctx/dirleak && echo dir-is-a-link; "
        "cat /ctx/leak /ctx/dirleak/loot.txt 2>&1 || true'",
    )
    assert "leak-is-a-link" in output
    assert "dir-is-a-link" in output
    assert "OUTSIDE-CANARY" not in output


async def test_a_dry_run_previews_the_context_and_builds_nothing(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path, test_image: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /app/\n")
    (tmp_path / "app.py").write_text("print('hi')\n")
    (tmp_path / "data.bin").write_bytes(b"x" * 40_000)
    (tmp_path / ".env").write_text("DB_PASSWORD=hunter2\n")
    (tmp_path / "ignored.bin").write_bytes(b"y" * 90_000)
    (tmp_path / ".dockerignore").write_text("ignored.bin\n")
    tag = tag_for("dry")
    preview = ok(await build(client, path=str(tmp_path), tag=tag, dry_run=True))
    assert preview["files"] == 5  # Dockerfile, app.py, data.bin, .env, .dockerignore
    assert preview["largest"][0] == {"path": "data.bin", "size_bytes": 40_000}
    assert preview["secret_files"] == [".env"]
    assert preview["dockerignore"] == ["ignored.bin"]
    assert preview["total_bytes"] < 90_000
    assert "nothing was built" in preview["note"]
    assert "hunter2" not in str(preview)
    assert not image_exists(docker_client, tag)


async def test_secret_looking_files_are_refused_unless_excluded_or_allowed(
    client: Client, docker_client: docker.DockerClient, tmp_path: Path, test_image: str, images: list[str]
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /app/\n")
    (tmp_path / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-really\n")
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text("[default]\naws_secret_access_key=abc\n")
    tag = tag_for("secrets")
    images.append(tag)
    text = error_text(await build(client, path=str(tmp_path), tag=tag))
    assert "policy rule 'secret-files'" in text
    assert "id_rsa" in text
    assert ".aws/credentials" in text
    assert ".dockerignore" in text
    assert "allow_secret_files set to true" in text
    assert not image_exists(docker_client, tag)
    # Listed in .dockerignore: the build goes ahead without them.
    (tmp_path / ".dockerignore").write_text("id_rsa\n.aws\n")
    ok(await build(client, path=str(tmp_path), tag=tag))
    assert "id_rsa" not in await run_output(client, tag, "ls -a /app")
    # Or the call says they belong in the image.
    (tmp_path / ".dockerignore").unlink()
    ok(await build(client, path=str(tmp_path), tag=tag, allow_secret_files=True))
    assert "id_rsa" in await run_output(client, tag, "ls -a /app")


async def test_the_servers_own_configuration_is_no_build_context_or_bind_source(
    unix_host: str, docker_client: docker.DockerClient, tmp_path: Path, test_image: str, unique_name: str
) -> None:
    policy_file = tmp_path / "conf" / "policy.toml"
    policy_file.parent.mkdir()
    policy_file.write_text("read_only = false\n")
    (tmp_path / "conf" / "Dockerfile").write_text(f"FROM {test_image}\nCOPY . /loot\n")
    settings = settings_for(unix_host, MCP_DOCKER_POLICY_FILE=str(policy_file))
    tag = tag_for("own")
    async with Client(build_server(settings), elicitation_callback=accept_all) as client:
        text = error_text(await build(client, path=str(tmp_path / "conf"), tag=tag))
        assert "policy rule 'server-file'" in text
        bind = error_text(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": unique_name,
                    "labels": {LABEL_KEY: RUN_ID},
                    "volumes": [f"{tmp_path}:/x:ro"],
                },
            )
        )
        assert "policy rule 'server-file'" in bind
    assert not image_exists(docker_client, tag)
    assert labelled(docker_client) == []


# --------------------------------------------------------------------------- binds


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("/var/spool/cron", "sensitive-bind"),
        ("/var/spool/cron/crontabs", "sensitive-bind"),
        ("/etc/cron.d", "sensitive-bind"),
        ("/home/someone", "home-folder"),
        ("/home/someone/.bashrc", "startup-file"),
        ("/home/someone/.config/autostart", "startup-file"),
        ("/home/someone/.git-credentials", "credential-bind"),
    ],
)
async def test_binds_that_run_code_on_the_host_or_read_its_credentials_are_refused(
    client: Client,
    docker_client: docker.DockerClient,
    test_image: str,
    unique_name: str,
    source: str,
    rule: str,
) -> None:
    text = error_text(
        await client.call_tool(
            "run-container",
            {
                "image": test_image,
                "name": unique_name,
                "labels": {LABEL_KEY: RUN_ID},
                "volumes": [f"{source}:/x"],
            },
        )
    )
    assert f"policy rule '{rule}'" in text
    assert f"bind source {source}" in text
    assert labelled(docker_client) == []


async def test_the_engines_own_data_root_as_it_reports_it_cannot_be_bound(
    docker_client: docker.DockerClient, test_image: str, unique_name: str
) -> None:
    # The second engine keeps its data in a folder of the test state, not /var/lib/docker:
    # only the engine's own answer can name it.
    second_host = env("MCPD_TEST_SECOND_UNIX_HOST")
    second = docker.DockerClient(base_url=second_host)
    try:
        root = str(second.info()["DockerRootDir"])
        assert not root.startswith("/var/lib/docker")
        async with Client(build_server(settings_for(second_host)), elicitation_callback=accept_all) as client:
            text = error_text(
                await client.call_tool(
                    "run-container",
                    {
                        "image": test_image,
                        "name": unique_name,
                        "network": "none",
                        "labels": {LABEL_KEY: RUN_ID},
                        "volumes": [f"{root}/volumes:/x"],
                    },
                )
            )
        assert "policy rule 'engine-data-root'" in text
        assert root in text
        assert not second.containers.list(all=True, filters={"label": f"{LABEL_KEY}={RUN_ID}"})
    finally:
        second.close()


# --------------------------------------------------------------------------- volume options


@pytest.mark.parametrize(
    ("options", "rule"),
    [
        (
            {"type": "overlay", "device": "overlay", "o": "lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w"},
            "sensitive-bind",
        ),
        (
            {"type": "overlay", "device": "overlay", "o": "lowerdir=/srv/a,upperdir=/srv/u,workdir=/srv/w"},
            "volume-mount",
        ),
        ({"type": "ext4", "device": "/dev/sda1"}, "volume-mount"),
        ({"type": "nfs", "o": "addr=127.0.0.1,ro", "device": ":/export"}, "volume-mount"),
        ({"type": "none", "o": "bind", "device": "/srv"}, "volume-mount"),
        ({"type": "tmpfs", "o": "bind", "device": "/etc"}, "sensitive-bind"),
        ({"type": "tmpfs", "device": "tmpfs", "o": "remount"}, "volume-mount"),
    ],
)
async def test_volume_options_that_mount_something_are_refused_and_nothing_is_created(
    client: Client, docker_client: docker.DockerClient, unique_name: str, options: dict[str, str], rule: str
) -> None:
    text = error_text(
        await client.call_tool(
            "volume-management", {"name": unique_name, "action": "create", "options": options}
        )
    )
    assert f"policy rule '{rule}'" in text
    assert not [v for v in docker_client.volumes.list() if v.name == unique_name]


async def test_a_plugin_volume_driver_is_refused_by_name(
    client: Client, docker_client: docker.DockerClient, unique_name: str
) -> None:
    text = error_text(
        await client.call_tool(
            "volume-management", {"name": unique_name, "action": "create", "driver": "vieux/sshfs"}
        )
    )
    assert "policy rule 'volume-driver'" in text
    assert "'vieux/sshfs'" in text
    assert "allowed_volume_drivers" in text
    assert not [v for v in docker_client.volumes.list() if v.name == unique_name]


async def test_a_tmpfs_volume_is_still_allowed(
    client: Client, docker_client: docker.DockerClient, unique_name: str
) -> None:
    options = {"type": "tmpfs", "device": "tmpfs", "o": "size=8m"}
    try:
        created = ok(
            await client.call_tool(
                "volume-management", {"name": unique_name, "action": "create", "options": options}
            )
        )
        assert created["volume"]["options"] == options
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(unique_name).remove()


async def test_an_overlay_volume_made_elsewhere_cannot_be_mounted(
    client: Client, docker_client: docker.DockerClient, test_image: str, unique_name: str
) -> None:
    # Made behind the server's back; mounting it would read /etc through the overlay.
    docker_client.volumes.create(
        unique_name,
        driver_opts={
            "type": "overlay",
            "device": "overlay",
            "o": "lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w",
        },
    )
    try:
        text = error_text(
            await client.call_tool(
                "run-container",
                {
                    "image": test_image,
                    "name": unique_name,
                    "labels": {LABEL_KEY: RUN_ID},
                    "volumes": [f"{unique_name}:/x"],
                },
            )
        )
        assert "policy rule 'sensitive-bind'" in text
        assert f"existing volume {unique_name}" in text
        assert labelled(docker_client) == []
    finally:
        docker_client.volumes.get(unique_name).remove()


# --------------------------------------------------------------------------- image-security, prompt


async def test_image_security_reads_and_writes_only_where_the_rule_allows(client: Client) -> None:
    lint = error_text(await client.call_tool("image-security", {"action": "lint", "target": "/etc"}))
    assert "policy rule 'sensitive-bind'" in lint
    assert "Dockerfile to lint /etc/Dockerfile" in lint
    sbom = error_text(
        await client.call_tool(
            "image-security",
            {"action": "sbom", "target": "busybox:local", "output": "/var/spool/cron/x.json"},
        )
    )
    assert "policy rule 'sensitive-bind'" in sbom
    assert "SBOM output folder" in sbom
    assert not Path("/var/spool/cron/x.json").exists()


@pytest.mark.parametrize("folder", ["/var/spool/cron", "/home/someone", "/etc/systemd"])
async def test_the_containerize_prompt_reads_only_folders_the_rule_allows(
    client: Client, folder: str
) -> None:
    with pytest.raises(MCPError) as caught:
        await client.get_prompt("containerize-project", {"path": folder})
    assert "Denied by policy rule" in str(caught.value)
    assert "project folder" in str(caught.value)


async def test_an_operator_can_confine_builds_to_allowed_roots(
    unix_host: str, docker_client: docker.DockerClient, tmp_path: Path, test_image: str
) -> None:
    (tmp_path / "Dockerfile").write_text(f"FROM {test_image}\n")
    server = build_server(settings_for(unix_host), policy=Policy(allowed_bind_roots=("/srv/projects",)))
    tag = tag_for("roots")
    async with Client(server, elicitation_callback=accept_all) as client:
        text = error_text(await build(client, path=str(tmp_path), tag=tag))
    assert "policy rule 'bind-root'" in text
    assert "allowed_bind_roots" in text
    assert not image_exists(docker_client, tag)

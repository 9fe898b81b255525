"""image-security against the real engine, on images the fixtures build from busybox:local.

Dockerfiles live in tests/fixtures/supply/. Secrets are per-run canaries passed as build
arguments, so no test can pass on a hard-coded value, and every image is removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from mcp import Client

from mcp_docker_server.server import build_server
from tests.conftest import LABEL_KEY, RUN_ID, accept_all, error_text, ok, settings_for

pytestmark = [pytest.mark.anyio, pytest.mark.docker]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "supply"
CANARY = "ghp_" + ("supply" + RUN_ID).ljust(36, "z")


def _build(docker_client: docker.DockerClient, folder: str, tag: str, **args: str) -> str:
    docker_client.images.build(
        path=str(FIXTURES / folder), tag=tag, buildargs=args, labels={LABEL_KEY: RUN_ID}, rm=True
    )
    return tag


@pytest.fixture(scope="module")
def root_secret_image(docker_client: docker.DockerClient) -> Iterator[str]:
    tag = _build(docker_client, "root-secret", f"mcpd-supply-secret:{RUN_ID}", CANARY=CANARY)
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def clean_image(docker_client: docker.DockerClient) -> Iterator[str]:
    tag = _build(docker_client, "lint-clean", f"mcpd-supply-clean:{RUN_ID}")
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def sbom_image(docker_client: docker.DockerClient) -> Iterator[str]:
    tag = _build(docker_client, "sbom", f"mcpd-supply-sbom:{RUN_ID}")
    yield tag
    docker_client.images.remove(tag, force=True)


# --------------------------------------------------------------------------- lint


async def test_lint_reports_known_findings_with_lines_and_fixes(client: Client) -> None:
    result = ok(
        await client.call_tool(
            "image-security", {"action": "lint", "target": str(FIXTURES / "lint-bad" / "Dockerfile")}
        )
    )
    found = {(f["rule"], f.get("line")) for f in result["findings"]}
    # hadolint's own rules...
    assert {("DL3006", 2), ("DL4000", 3), ("DL3003", 4), ("DL3025", 7)} <= found
    # ...and the checks hadolint lacks.
    assert {("MCPD002", 5), ("MCPD003", 6), ("MCPD004", None)} <= found
    assert all(f["fix"] for f in result["findings"])
    levels = [f["level"] for f in result["findings"]]
    assert levels == sorted(levels, key=["error", "warning", "info", "style"].index)
    assert result["counts"]["error"] >= 2


async def test_lint_of_a_clean_dockerfile_finds_nothing(client: Client) -> None:
    result = ok(
        await client.call_tool("image-security", {"action": "lint", "target": str(FIXTURES / "lint-clean")})
    )
    assert result["findings"] == []
    assert result["counts"] == {}


async def test_lint_reads_only_dockerfile_names(client: Client, tmp_path: Path) -> None:
    text = error_text(await client.call_tool("image-security", {"action": "lint", "target": "/etc/passwd"}))
    assert "not a Dockerfile name" in text
    missing = error_text(
        await client.call_tool("image-security", {"action": "lint", "target": str(tmp_path / "Dockerfile")})
    )
    assert "Dockerfile not found" in missing


# --------------------------------------------------------------------------- audit


async def test_audit_finds_root_secrets_and_ssh_and_redacts_the_secret(
    client: Client, root_secret_image: str
) -> None:
    raw = await client.call_tool("image-security", {"action": "audit", "target": root_secret_image})
    result = ok(raw)
    rules = {f["rule"]: f for f in result["findings"]}
    assert rules["MCPA001"]["message"].startswith("the image runs as root")
    assert rules["MCPA002"]["where"] == "env API_TOKEN"
    history = [f for f in result["findings"] if f["rule"] == "MCPA004"]
    assert history, result["findings"]
    assert all("[redacted]" in f["where"] for f in history)
    assert rules["MCPA005"]["where"] == "exposed port 22/tcp"
    assert "MCPA006" in rules  # no healthcheck
    assert result["findings"][0]["level"] == "error"
    assert result["exposed_ports"] == ["22/tcp", "8080/tcp"]
    assert result["image"]["user"] == ""
    assert result["image"]["age_days"] == 0
    assert result["biggest_layers"]
    everything = json.dumps(raw.model_dump(mode="json"))
    assert CANARY not in everything
    assert CANARY[:20] not in everything


async def test_audit_of_a_clean_image_keeps_only_what_applies(client: Client, clean_image: str) -> None:
    result = ok(await client.call_tool("image-security", {"action": "audit", "target": clean_image}))
    assert result["findings"] == []
    assert result["image"]["user"] == "10001:10001"
    assert result["image"]["tags"] == [clean_image]


async def test_audit_of_a_missing_image_says_so(client: Client) -> None:
    text = error_text(
        await client.call_tool("image-security", {"action": "audit", "target": f"mcpd-none-{RUN_ID}:1"})
    )
    assert "No such image" in text


# --------------------------------------------------------------------------- digests and signatures


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's docker-registry on loopback, no auth (the engine trusts 127.0.0.0/8)."""
    binary = shutil.which("docker-registry")
    if not binary:
        pytest.fail("docker-registry is missing: scripts/test-engine.sh up installs it")
    root = tmp_path_factory.mktemp("supply-registry")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = {
        "version": 0.1,
        "storage": {"filesystem": {"rootdirectory": f"{root}/data"}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    (root / "config.yml").write_text(json.dumps(config))  # YAML is a superset of JSON
    with (root / "registry.log").open("w") as log:
        process = subprocess.Popen([binary, "serve", str(root / "config.yml")], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 20
            while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"registry did not start: {(root / 'registry.log').read_text()[-2000:]}")
                time.sleep(0.1)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)


@pytest.fixture(scope="module")
def pushed(docker_client: docker.DockerClient, registry: str, test_image: str) -> Iterator[tuple[str, str]]:
    """busybox:local pushed to the registry: (tag reference, the digest the push reported)."""
    ref = f"{registry}/mcpd-supply:{RUN_ID}"
    docker_client.images.get(test_image).tag(ref)
    digest = ""
    for line in docker_client.images.push(ref, stream=True, decode=True):
        assert "error" not in line, line
        digest = (line.get("aux") or {}).get("Digest") or digest
    assert digest.startswith("sha256:")
    yield ref, digest
    # By name only: the pushed image *is* busybox:local, which must stay.
    for image in docker_client.images.list(name=f"{registry}/mcpd-supply"):
        for name in [*image.tags, *image.attrs.get("RepoDigests", [])]:
            if name.startswith(f"{registry}/mcpd-supply"):
                with contextlib.suppress(docker.errors.ImageNotFound):
                    docker_client.images.remove(name)


async def test_resolve_digest_locally_then_from_the_registry(
    client: Client, pushed: tuple[str, str], docker_client: docker.DockerClient, test_image: str
) -> None:
    ref, digest = pushed
    local = ok(await client.call_tool("image-security", {"action": "resolve-digest", "target": ref}))
    assert (local["digest"], local["source"]) == (digest, "local")
    assert local["pinned"] == ref.rsplit(":", 1)[0] + "@" + digest
    docker_client.images.remove(ref)  # the registry is asked when the engine has no record
    remote = ok(await client.call_tool("image-security", {"action": "resolve-digest", "target": ref}))
    assert (remote["digest"], remote["source"]) == (digest, "registry")
    docker_client.images.get(test_image).tag(ref)


async def test_resolve_digest_of_an_unknown_tag_says_what_failed(client: Client, registry: str) -> None:
    text = error_text(
        await client.call_tool(
            "image-security", {"action": "resolve-digest", "target": f"{registry}/nothing:{RUN_ID}"}
        )
    )
    assert "could not resolve" in text


async def test_digest_only_policy_refuses_a_tag_and_runs_the_digest(
    unix_host: str,
    pushed: tuple[str, str],
    unique_name: str,
    tmp_path: Path,
    docker_client: docker.DockerClient,
) -> None:
    ref, digest = pushed
    pinned = ref.rsplit(":", 1)[0] + "@" + digest
    settings = settings_for(unix_host, MCP_DOCKER_REQUIRE_DIGEST="1")
    compose_file = tmp_path / "compose.yaml"
    compose_file.write_text(f"services:\n  app:\n    image: {ref}\n    command: [sleep, '5']\n")
    async with Client(build_server(settings), elicitation_callback=accept_all) as client:
        refused = error_text(
            await client.call_tool("run-container", {"image": ref, "labels": {LABEL_KEY: RUN_ID}})
        )
        assert "require-digest" in refused
        assert "resolve-digest" in refused
        refused = error_text(
            await client.call_tool(
                "compose-stack",
                {"compose_file": str(compose_file), "action": "up", "project_name": unique_name},
            )
        )
        assert "service app" in refused
        assert "require-digest" in refused
        refused = error_text(
            await client.call_tool(
                "service-management", {"action": "create", "name": unique_name, "image": ref}
            )
        )
        assert "require-digest" in refused
        assert not docker_client.containers.list(all=True, filters={"name": unique_name})
        run = ok(
            await client.call_tool(
                "run-container",
                {
                    "image": pinned,
                    "name": unique_name,
                    "command": ["echo", "pinned"],
                    "detach": False,
                    "auto_remove": True,
                    "labels": {LABEL_KEY: RUN_ID},
                },
            )
        )
    assert run["output"].strip() == "pinned"


async def test_verify_without_cosign_says_so_and_required_signatures_refuse(
    unix_host: str, pushed: tuple[str, str], tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """cosign cannot be installed on these machines: the absent path is the one tested."""
    assert shutil.which("cosign") is None
    ref, digest = pushed
    pinned = ref.rsplit(":", 1)[0] + "@" + digest
    key = tmp_path / "cosign.pub"
    key.write_text("-----BEGIN PUBLIC KEY-----\nnot-a-real-key\n-----END PUBLIC KEY-----\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[supply]\nrequire_signature = true\ncosign_key = "{key}"\n')
    settings = settings_for(unix_host, MCP_DOCKER_POLICY_FILE=str(policy))
    async with Client(build_server(settings), elicitation_callback=accept_all) as client:
        text = error_text(await client.call_tool("image-security", {"action": "verify", "target": ref}))
        assert "cosign is not installed" in text
        assert "install cosign" in text
        refused = error_text(
            await client.call_tool("run-container", {"image": pinned, "labels": {LABEL_KEY: RUN_ID}})
        )
    assert "require-signature" in refused
    assert "cosign is not installed" in refused
    assert "require_signature = false" in refused
    assert not docker_client.containers.list(
        all=True, filters={"label": f"{LABEL_KEY}={RUN_ID}", "ancestor": pinned}
    )


# --------------------------------------------------------------------------- sbom

EXPECTED = {
    "pkg:deb/debian/base-files@12.4%2Bdeb12u11?arch=amd64",
    "pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64",
    "pkg:deb/debian/tzdata@2025b-0%2Bdeb12u2?arch=all",
    "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64",
    "pkg:apk/debian/musl@1.2.5-r0?arch=x86_64",
    "pkg:apk/debian/busybox@1.36.1-r29?arch=x86_64",
    "pkg:rpm/debian/mcpd-demo@1.2.3-4?arch=noarch&epoch=2",
    "pkg:rpm/debian/mcpd-tool@0.9-4?arch=noarch",
    "pkg:pypi/six@1.17.0",
    "pkg:npm/left-pad@1.3.0",
    "pkg:npm/%40mcpd/util@0.2.1",
}


async def test_sbom_reads_package_databases_without_running_the_image(
    client: Client, sbom_image: str, docker_client: docker.DockerClient
) -> None:
    before = {c.id for c in docker_client.containers.list(all=True)}
    result = ok(await client.call_tool("image-security", {"action": "sbom", "target": sbom_image}))
    assert {c.id for c in docker_client.containers.list(all=True)} == before  # nothing created or run
    bom = result["bom"]
    purls = {c["purl"] for c in bom["components"] if c["type"] == "library"}
    assert purls == EXPECTED  # the removed deb, the deleted npm package and lib/package.json are absent
    assert result["sbom"]["by_type"] == {"deb": 4, "apk": 2, "rpm": 2, "pypi": 1, "npm": 2}
    assert result["sbom"]["components"] == 11
    assert result["sbom"]["os"] == "Debian GNU/Linux 12 (bookworm)"
    licenses = {c["name"]: c.get("licenses") for c in bom["components"]}
    assert licenses["six"] == [{"license": {"id": "MIT"}}]
    assert licenses["mcpd-tool"] == [{"license": {"id": "Apache-2.0"}}]
    assert bom["metadata"]["component"]["type"] == "container"
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(json.dumps(bom)) is None


async def test_sbom_goes_to_a_new_file_only(client: Client, sbom_image: str, tmp_path: Path) -> None:
    target = tmp_path / "sbom.json"
    result = ok(
        await client.call_tool(
            "image-security", {"action": "sbom", "target": sbom_image, "output": str(target)}
        )
    )
    assert result["sbom"]["written"] == str(target)
    assert result["bom"] is None
    document = json.loads(target.read_text())
    assert document["bomFormat"] == "CycloneDX"
    assert len([c for c in document["components"] if c["type"] == "library"]) == 11
    again = error_text(
        await client.call_tool(
            "image-security", {"action": "sbom", "target": sbom_image, "output": str(target)}
        )
    )
    assert "already exists" in again
    relative = error_text(
        await client.call_tool("image-security", {"action": "sbom", "target": sbom_image, "output": "x.json"})
    )
    assert "absolute path" in relative
    # The folder is judged like a bind mount of it: no writing into /etc or a credential folder.
    for folder in ("/etc", "/root"):
        denied = error_text(
            await client.call_tool(
                "image-security", {"action": "sbom", "target": sbom_image, "output": f"{folder}/sbom.json"}
            )
        )
        assert "Denied by policy rule" in denied
        assert not Path(folder, "sbom.json").exists()


# --------------------------------------------------------------------------- scan


async def test_scan_without_a_scanner_says_so_and_how_to_install_one(
    client: Client, clean_image: str
) -> None:
    """Neither trivy nor grype can be installed on these machines: the absent path is tested."""
    assert shutil.which("trivy") is None
    assert shutil.which("grype") is None
    text = error_text(await client.call_tool("image-security", {"action": "scan", "target": clean_image}))
    assert "No vulnerability scanner is installed" in text
    assert "install Trivy" in text
    assert "Grype" in text
    assert "vulnerability_db" in text
    assert "action=sbom" in text

"""image-security against the real engine, on images the fixtures build from busybox:local.

Dockerfiles live in tests/fixtures/supply/. Secrets are per-run canaries passed as build
arguments, so no test can pass on a hard-coded value, and every image is removed afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from mcp import Client

from tests.conftest import LABEL_KEY, RUN_ID, error_text, ok

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

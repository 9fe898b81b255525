"""Operator settings are validated and kept as written: policy keys, tool and action names,
the registry the server-wide credentials belong to. Pure (plus one start-up of the CLI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field

from mcp_docker_server.config.settings import DOCKER_HUB, RegistrySettings, load_settings, registry_host
from mcp_docker_server.doctor.checks import registry_lines
from mcp_docker_server.errors import ConfigError, PolicyDenied
from mcp_docker_server.policy import Policy, check_host_path, lexical_resolver, load_policy
from mcp_docker_server.policy.load import check_exposure
from mcp_docker_server.policy.model import CREDENTIAL_DIRS
from mcp_docker_server.server import build_server, tool_actions
from mcp_docker_server.tools._confirm import push_destination

TOOLS = {
    "run-container": frozenset(),
    "image-operations": frozenset({"pull", "push", "list"}),
    "exec-container": frozenset(),
}


def policy_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "policy.toml"
    path.write_text(body)
    return str(path)


# --------------------------------------------------------------------------- keys kept as written


def test_credential_dirs_are_kept_as_written_and_still_protect(tmp_path: Path) -> None:
    """Case 6 of the issue: the loader upper-cased the folders, so `.ssh` became `.SSH` and the
    rule matched nothing."""
    policy = load_policy(policy_file(tmp_path, 'credential_dirs = [".ssh", ".config/gcloud"]\n'), {})
    assert {".ssh", ".config/gcloud"} <= policy.credential_dirs
    with pytest.raises(PolicyDenied):
        check_host_path(policy, "/home/dev/.ssh", lexical_resolver, purpose="bind source")
    with pytest.raises(PolicyDenied):
        check_host_path(policy, "/home/dev/.config/gcloud", lexical_resolver, purpose="bind source")


def test_every_default_credential_dir_survives_a_round_trip(tmp_path: Path) -> None:
    listed = ", ".join(f'"{d}"' for d in sorted(CREDENTIAL_DIRS))
    policy = load_policy(policy_file(tmp_path, f"credential_dirs = [{listed}]\n"), {})
    assert policy.credential_dirs == CREDENTIAL_DIRS


def test_capabilities_are_read_the_engines_way(tmp_path: Path) -> None:
    policy = load_policy(policy_file(tmp_path, 'capability_allowlist = ["net_admin", "CAP_SYS_TIME"]\n'), {})
    assert policy.capability_allowlist == frozenset({"NET_ADMIN", "SYS_TIME"})


def test_lists_and_strings_keep_their_case(tmp_path: Path) -> None:
    body = (
        'image_allowlist = ["Registry.Example/App:*"]\nallowed_bind_roots = ["/srv/Data"]\n'
        'label_scope = "Team=A"\nsensitive_paths = ["/Volumes/Secrets"]\n'
    )
    policy = load_policy(policy_file(tmp_path, body), {})
    assert policy.image_allowlist == ("Registry.Example/App:*",)
    assert policy.allowed_bind_roots == ("/srv/Data",)
    assert policy.label_scope == "Team=A"
    # Added to the built-in list, which stays (a list meant to add must not drop /etc).
    assert policy.sensitive_paths[-1] == "/Volumes/Secrets"
    assert "/etc" in policy.sensitive_paths


def test_registry_reads_key_defaults_off(tmp_path: Path) -> None:
    assert Policy().read_only_registry_reads is False
    policy = load_policy(policy_file(tmp_path, "read_only = true\nread_only_registry_reads = true\n"), {})
    assert policy.read_only_registry_reads


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[containers]\nallow_privileged = true\n[other]\nallow_privileged = false\n", "set twice"),
        ('credential_dirs = ["/root/.ssh"]\n', "relative to a home folder"),
        ('credential_dirs = ["../.ssh"]\n', "relative to a home folder"),
        ('credential_dirs = [""]\n', "relative to a home folder"),
        ('allowed_bind_roots = ["srv"]\n', "absolute paths"),
        ('sensitive_paths = ["etc"]\n', "absolute paths"),
        ('label_scope = "has space"\n', "label key or key=value"),
        ("default_memory_bytes = 1024\n", "unknown key 'default_memory_bytes'"),
        ("read_only_registry_reads = 1\n", "true or false"),
    ],
)
def test_policy_values_that_would_not_mean_what_they_say_stop_startup(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_policy(policy_file(tmp_path, body), {})


# --------------------------------------------------------------------------- tool and action names


def test_known_tools_and_actions_pass() -> None:
    policy = Policy(
        allow_tools=("run-container", "image-operations"),
        deny_tools=("exec-container",),
        deny_actions=("image-operations:push", "run-container:*"),
    )
    check_exposure(policy, TOOLS, "policy.toml")


@pytest.mark.parametrize(
    ("policy", "setting", "listed"),
    [
        (
            Policy(deny_tools=("exec-containr",)),
            "deny_tools",
            "exec-container, image-operations, run-container",
        ),
        (Policy(allow_tools=("list-containers",)), "allow_tools", "the tools are:"),
        (Policy(deny_actions=("image-operation:push",)), "deny_actions", "the tools are:"),
        (Policy(deny_actions=("image-operations:pussh",)), "deny_actions", "image-operations:push"),
        (Policy(deny_actions=("image-operations",)), "deny_actions", "image-operations:*"),
        (Policy(deny_actions=("run-container:run",)), "deny_actions", "run-container:*"),
    ],
)
def test_unknown_tools_and_actions_stop_startup_with_the_valid_ones(
    policy: Policy, setting: str, listed: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_exposure(policy, TOOLS, "policy.toml")
    assert caught.value.setting == setting
    assert listed in f"{caught.value} {caught.value.hint}"


def test_actions_are_read_from_the_tools_own_signatures() -> None:
    async def plain(name: str) -> None: ...
    async def routed(action: Literal["a", "b"], name: str) -> None: ...
    async def wrapped(action: Annotated[Literal["x", "y"], Field(description="d")] | None = None) -> None: ...

    assert tool_actions(plain) == frozenset()
    assert tool_actions(routed) == frozenset({"a", "b"})
    assert tool_actions(wrapped) == frozenset({"x", "y"})


def test_the_server_refuses_a_policy_naming_a_tool_it_does_not_have(tmp_path: Path) -> None:
    good = load_settings(
        {"MCP_DOCKER_POLICY_FILE": policy_file(tmp_path, 'deny_actions = ["manage-container:kill"]\n')}
    )
    build_server(good)
    bad = load_settings(
        {"MCP_DOCKER_POLICY_FILE": policy_file(tmp_path, 'deny_actions = ["manage-container:destroy"]\n')}
    )
    with pytest.raises(ConfigError, match="names no action of manage-container") as caught:
        build_server(bad)
    assert "manage-container:kill" in str(caught.value.hint)


def test_the_cli_exits_2_naming_the_unknown_tool(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_docker_server"],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "MCP_DOCKER_POLICY_FILE": policy_file(tmp_path, 'deny_tools = ["exec-containers"]\n'),
        },
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "unknown tool 'exec-containers'" in done.stderr
    assert "exec-container," in done.stderr


# --------------------------------------------------------------------------- registry credentials


@pytest.mark.parametrize(
    ("given", "host"),
    [
        ("docker.io", DOCKER_HUB),
        ("https://index.docker.io/v1/", DOCKER_HUB),
        ("registry-1.docker.io", DOCKER_HUB),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        ("http://Registry.Example:5000/", "registry.example:5000"),
        ("ghcr.io", "ghcr.io"),
    ],
)
def test_registry_names_compare_as_the_engine_reads_them(given: str, host: str) -> None:
    assert registry_host(given) == host


def test_server_wide_credentials_belong_to_docker_hub_by_default() -> None:
    settings = load_settings({"REGISTRY_USERNAME": "robot", "REGISTRY_PASSWORD": "pw"})
    assert settings.registry.server == DOCKER_HUB
    assert settings.registry.credentials_for("docker.io") == ("robot", "pw")
    assert settings.registry.credentials_for("index.docker.io") == ("robot", "pw")
    assert settings.registry.credentials_for("127.0.0.1:5000") is None
    assert settings.registry.credentials_for("ghcr.io") is None
    assert settings.registry.credentials_for("docker.io.evil.example") is None


def test_registry_server_binds_them_to_that_registry_only() -> None:
    settings = load_settings(
        {
            "REGISTRY_USERNAME": "robot",
            "REGISTRY_PASSWORD": "pw",
            "REGISTRY_SERVER": "https://127.0.0.1:5000/",
        }
    )
    assert settings.registry.server == "127.0.0.1:5000"
    assert settings.registry.credentials_for("127.0.0.1:5000") == ("robot", "pw")
    assert settings.registry.credentials_for("127.0.0.1:5001") is None
    assert settings.registry.credentials_for("docker.io") is None
    assert RegistrySettings().credentials_for("docker.io") is None


@pytest.mark.parametrize("bad", ["not a host", "a b:1", "-x.example", "host:port"])
def test_a_broken_registry_server_stops_startup(bad: str) -> None:
    with pytest.raises(ConfigError, match="REGISTRY_SERVER"):
        load_settings({"REGISTRY_SERVER": bad})


@pytest.mark.parametrize(
    ("image", "registry", "where"),
    [
        ("app", None, ("docker.io", "library/app", "latest")),
        ("team/app:v1", None, ("docker.io", "team/app", "v1")),
        ("app:v1", "127.0.0.1:5000", ("127.0.0.1:5000", "app", "v1")),
        ("127.0.0.1:5000/team/app:v2", None, ("127.0.0.1:5000", "team/app", "v2")),
        ("team/app", "https://ghcr.io/", ("ghcr.io", "team/app", "latest")),
        ("localhost/app:1", None, ("localhost", "app", "1")),
        ("index.docker.io/team/app", None, ("docker.io", "team/app", "latest")),
    ],
)
def test_push_destination_names_registry_repository_and_tag(
    image: str, registry: str | None, where: tuple[str, str, str]
) -> None:
    assert push_destination(image, registry) == where


def test_doctor_says_which_registry_the_credentials_are_for(tmp_path: Path) -> None:
    bound = RegistrySettings(username="robot", password="pw", server="127.0.0.1:5000")
    [line, *_] = registry_lines(bound, tmp_path, None)
    assert line.text == "REGISTRY_USERNAME/REGISTRY_PASSWORD: set, for 127.0.0.1:5000 only (REGISTRY_SERVER)"
    assert "pw" not in line.text

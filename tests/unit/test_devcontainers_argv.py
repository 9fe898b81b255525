"""The Dev Containers CLI's docker command lines, its output, and the IDE route (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_docker_server.devcontainers.cli import (
    DevContainerError,
    attach_uri,
    failure,
    find_cli,
    outcome,
    without_probe_noise,
)
from mcp_docker_server.devcontainers.names import folder_image_name, is_folder_image
from mcp_docker_server.devcontainers.runargs import (
    BuildCall,
    bind_published_ports,
    compose_split,
    injected_options,
    judged_compose_globals,
    parse_build,
    parse_exec,
    parse_run,
    start_tokens,
)
from mcp_docker_server.policy.model import Policy

CID = "a" * 64
# What the Dev Containers CLI 0.89 runs for an image-based configuration (seen in its log).
CLI_RUN = [
    "--sig-proxy=false", "-a", "STDOUT", "-a", "STDERR",
    "--mount", "type=bind,source=/tmp/dc1,target=/workspaces/dc1",
    "-l", "devcontainer.local_folder=/tmp/dc1", "-u", "0", "--entrypoint", "/bin/sh",
    "busybox:local", "-c", "echo Container started", "-",
]  # fmt: skip


def test_the_clis_run_becomes_a_create_with_the_same_options_and_an_attached_start() -> None:
    call = parse_run(CLI_RUN)
    assert call.create_options == (
        "--attach", "STDOUT", "--attach", "STDERR",
        "--mount", "type=bind,source=/tmp/dc1,target=/workspaces/dc1",
        "--label", "devcontainer.local_folder=/tmp/dc1", "--user", "0", "--entrypoint", "/bin/sh",
    )  # fmt: skip
    assert call.image_and_command == ("busybox:local", "-c", "echo Container started", "-")
    assert not call.detach
    assert not call.sig_proxy
    assert start_tokens(call, CID) == ["start", "--attach", CID]


def test_detached_and_interactive_runs_start_the_way_run_would_have() -> None:
    detached = parse_run(["-d", "--name", "x", "img"])
    assert detached.create_options == ("--name", "x")
    assert start_tokens(detached, CID) == ["start", CID]
    clustered = parse_run(["-dit", "img", "sh"])
    assert clustered.create_options == ("--interactive", "--tty")
    assert clustered.detach
    assert clustered.interactive
    interactive = parse_run(["-i", "--detach=false", "img"])
    assert start_tokens(interactive, CID) == ["start", "--attach", "--interactive", CID]


def test_values_that_look_like_flags_stay_values() -> None:
    call = parse_run(["-e", "-d", "--label=x=-d", "-eA=1", "--label", "--privileged", "img", "-d"])
    assert not call.detach
    assert call.create_options == (
        "--env",
        "-d",
        "--label",
        "x=-d",
        "--env",
        "A=1",
        "--label",
        "--privileged",
    )
    assert call.image_and_command == ("img", "-d")
    assert "--privileged" not in call.options_given


def test_a_double_dash_is_refused_rather_than_moved() -> None:
    # docker would read the word after `--` as the image; a create line without it would read
    # what follows as options nobody judged.
    with pytest.raises(ValueError, match="`--`"):
        parse_run(["--", "--env-file", "/x", "img"])


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (["-tp9999:80"], ("--tty", "--publish", "9999:80")),
        (["-tp", "9998:80"], ("--tty", "--publish", "9998:80")),
        (["-dtp=9997:80"], ("--tty", "--publish", "9997:80")),
        (["-te", "X=1", "--env-file", "/e"], ("--tty", "--env", "X=1", "--env-file", "/e")),
        (["-itu0"], ("--interactive", "--tty", "--user", "0")),
        (["-P=false", "-t"], ("--publish-all=false", "--tty")),
    ],
)
def test_short_option_clusters_are_read_as_the_docker_cli_reads_them(
    args: list[str], options: tuple[str, ...]
) -> None:
    call = parse_run([*args, "img", "sh"])
    assert call.create_options == options
    assert call.image_and_command == ("img", "sh")
    assert bind_published_ports(call, "127.0.0.1").create_options[-1] in (
        options[-1],
        f"127.0.0.1:{options[-1]}",
    )
    with pytest.raises(ValueError, match="unknown docker run option -Z"):
        parse_run(["-tZ", "img"])


def test_a_run_without_an_image_and_a_bad_id_are_refused() -> None:
    with pytest.raises(ValueError, match="without an image"):
        parse_run(["--rm", "-v", "/a:/b"])
    with pytest.raises(ValueError, match="not a container id"):
        start_tokens(parse_run(["img"]), "abc; rm -rf /")


def test_the_server_adds_its_scope_label_and_defaults_unless_the_command_sets_them() -> None:
    policy = Policy(default_memory_bytes=512 * 1024**2, default_pids_limit=100)
    added = injected_options(policy, parse_run(["img"]), {"team": "a"})
    assert added == [
        "--label", "team=a", "--security-opt", "no-new-privileges=true",
        "--memory", str(512 * 1024**2), "--pids-limit", "100",
    ]  # fmt: skip
    own = parse_run(["--security-opt", "no-new-privileges=false", "-m", "1g", "--pids-limit", "5", "img"])
    assert injected_options(policy, own, {}) == []


def test_compose_global_options_are_split_from_the_subcommand() -> None:
    args = ["--project-name", "p", "-f", "a.yml", "-f", "b.yml", "up", "-d", "dev"]
    assert compose_split(args) == (["--project-name", "p", "-f", "a.yml", "-f", "b.yml"], "up", ["-d", "dev"])
    assert compose_split(["version", "--short"]) == ([], "version", ["--short"])
    assert compose_split(["-p", "x"]) == (["-p", "x"], "", [])


def test_the_clis_result_is_its_last_json_line() -> None:
    stdout = 'noise\n{"outcome":"success","containerId":"abc","remoteUser":"root"}\n'
    assert outcome(stdout) == {"outcome": "success", "containerId": "abc", "remoteUser": "root"}
    assert outcome("no json here") is None


def test_offline_features_and_missing_images_get_their_own_readable_errors() -> None:
    log = json.dumps({"type": "text", "text": "Error: getaddrinfo ENOTFOUND ghcr.io"})
    error = failure("up", {"outcome": "error", "message": "getaddrinfo ENOTFOUND ghcr.io"}, log)
    assert "needs the network" in error.message
    assert "remove the Features" in (error.hint or "")
    pull = failure("up", {"message": "Command failed: /tmp/x/docker pull alpine:3.20"}, "")
    assert "needs the image alpine:3.20" in pull.message
    assert "docker save | docker load" in (pull.hint or "")


def test_a_user_missing_from_the_image_says_how_to_fix_it() -> None:
    error = failure("up", {"message": "An error occurred"}, "unable to find user root: no matching entries")
    assert '"containerUser"' in (error.hint or "")


def test_other_failures_keep_the_clis_words_and_last_log_lines() -> None:
    lines = "\n".join(json.dumps({"type": "text", "text": t}) for t in ("step one", "it broke: bad key"))
    error = failure("up", {"message": "An error occurred setting up the container."}, lines)
    assert "An error occurred setting up the container" in error.message
    assert "it broke: bad key" in error.message
    assert error.hint


def test_the_vscode_uri_is_the_attached_container_authority_with_the_name_in_hex() -> None:
    uri = attach_uri("dev-box", "/workspaces/app")
    prefix = "vscode-remote://attached-container+"
    assert uri.startswith(prefix)
    authority, _, path = uri.removeprefix(prefix).partition("/")
    assert json.loads(bytes.fromhex(authority)) == {"containerName": "/dev-box"}
    assert "/" + path == "/workspaces/app"


def test_the_clis_probe_noise_is_removed_from_exec_stderr() -> None:
    noise = (
        "{\n  message: 'Command in container failed: (cat /etc/os-release || cat /usr/lib/os-release) "
        "2>/dev/null',\n  code: 1,\n  stdout: '',\n  stderr: ''\n}\n"
    )
    assert without_probe_noise(noise + "real error\n") == "real error\n"


def test_the_cli_is_found_by_setting_then_path_and_a_bad_setting_is_named(tmp_path: Path) -> None:
    cli = tmp_path / "devcontainer"
    cli.write_text("#!/bin/sh\n")
    cli.chmod(0o755)
    assert find_cli(str(cli), {"PATH": ""}) == str(cli)
    assert find_cli(None, {"PATH": str(tmp_path)}) in (str(cli), find_cli(None, {"PATH": ""}))
    with pytest.raises(DevContainerError, match="MCP_DOCKER_DEVCONTAINER_CLI"):
        find_cli(str(tmp_path / "missing"), {"PATH": ""})


def test_exec_lines_name_the_container_user_and_privilege() -> None:
    call = parse_exec(["-i", "-u", "root", "-e", "A=-u", "-w", "/w", "c1", "/bin/sh", "-u"])
    assert (call.container, call.user, call.privileged, call.command) == (
        "c1",
        "root",
        False,
        ("/bin/sh", "-u"),
    )
    assert parse_exec(["--privileged", "--user=1000", "c1", "id"]).privileged
    assert parse_exec(["-it", "-uroot", "c1"]).user == "root"
    assert parse_exec(["c1", "true"]).user is None
    with pytest.raises(ValueError, match="without a container"):
        parse_exec(["-i"])
    with pytest.raises(ValueError, match="unreadable"):
        parse_exec(["-xyz", "c1"])


def test_published_ports_without_an_address_are_bound_to_the_publish_address() -> None:
    call = parse_run(
        ["-p", "8080:80", "--publish=9000", "-p127.0.0.2:1:2", "-p", "[::1]:3:4", "-p", ":5:6",
         "--publish", "published=7,target=8,protocol=udp", "-P", "-e", "A=1", "--label", "-p", "img"]
    )  # fmt: skip
    assert bind_published_ports(call, "127.0.0.1").create_options == (
        "--publish", "127.0.0.1:8080:80", "--publish", "127.0.0.1::9000", "--publish", "127.0.0.2:1:2",
        "--publish", "[::1]:3:4", "--publish", "127.0.0.1:5:6", "--publish", "127.0.0.1:7:8/udp",
        "--publish-all", "--env", "A=1", "--label", "-p",
    )  # fmt: skip
    with pytest.raises(ValueError, match="long syntax knows only"):
        bind_published_ports(parse_run(["-p", "host_ip=0.0.0.0,target=80", "img"]), "127.0.0.1")


def test_a_build_line_gives_its_tags_contexts_dockerfile_and_arguments() -> None:
    call = parse_build(
        ["--load", "-f", "/w/.devcontainer/Dockerfile", "-t", "vsc-w-1", "--tag=vsc-w-1-uid", "--build-arg",
         "A=1=2", "--build-arg=B", "/w/.devcontainer"]
    )  # fmt: skip
    assert call.tags == ("vsc-w-1", "vsc-w-1-uid")
    assert call.contexts == ("/w/.devcontainer",)
    assert call.dockerfile == "/w/.devcontainer/Dockerfile"
    assert call.build_args == (("A", "1=2"),)
    assert parse_build(["-t", "x", "/ctx/"]).dockerfile == "/ctx/Dockerfile"
    assert parse_build(["-t", "x", "-"]) == BuildCall(("x",), (), "", ())


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--network", "host", "/c"], "build option --network"),
        (["--secret", "id=a,src=/etc/shadow", "/c"], "build option --secret"),
        (["--cache-from", "type=local,src=/x", "/c"], "a cache this server cannot judge"),
        (["-f", "Dockerfile", "/c"], "not an absolute path"),
        (["relative"], "not an absolute folder"),
    ],
)
def test_build_options_the_cli_does_not_pass_are_refused(args: list[str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_build(args)


def test_compose_runs_the_judged_copy_with_the_project_name_and_profiles_kept() -> None:
    original = ["--project-name", "p", "-f", "/w/a.yml", "--file=/w/b.yml", "--profile", "dev",
                "--project-directory", "/w", "--env-file", "/w/.env"]  # fmt: skip
    assert judged_compose_globals(original, Path("/s/compose.json"), Path("/s")) == [
        "--project-name", "p", "--profile", "dev", "-f", "/s/compose.json", "--project-directory", "/s",
    ]  # fmt: skip


def test_the_folders_image_names_are_the_clis() -> None:
    # Computed with the CLI's own getFolderImageName (0.89) for this path.
    assert folder_image_name("/tmp/My Folder__x") == (
        "vsc-myfolder__x-e15a2c647849cd4209f11d49be9d03bce0eb649f5a8b5249aeddbf1c4725b1e2"
    )
    own = folder_image_name("/srv/app")
    assert is_folder_image("/srv/app", own)
    assert is_folder_image("/srv/app", f"{own}-features:latest")
    assert is_folder_image("/srv/app", f"{own}-uid")
    assert not is_folder_image("/srv/app", "vsc-app-victim")
    assert not is_folder_image("/srv/other", own)
    assert not is_folder_image("/srv/app", f"registry:5000/{own}")


def test_a_failed_build_says_why_without_the_whole_command_line() -> None:
    command = "docker buildx build --load -f /tmp/x/Dockerfile -t vsc-a-1 " + "/very/long/context " * 30
    result = {"message": f"Command failed: {command}", "description": "An error occurred."}
    stderr = (
        'ERROR: failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3\n'
        f"Command failed: {command}\n"
    )
    text = str(failure("up", result, stderr))
    assert "Command failed: docker buildx build (An error occurred)" in text
    assert "Reason: ERROR: failed to solve" in text
    assert "/very/long/context" not in text
    assert len(text) < 400

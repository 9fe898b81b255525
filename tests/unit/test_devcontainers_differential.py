"""The shim's reading of docker command lines against the docker CLI's own (red team 8).

What docker does was recorded with the docker CLI 28.2.2 (pflag, no abbreviations, no name
normalising, case-sensitive: ``--privi``, ``--env_file``, ``--Privileged`` are unknown flags)
against engine 28.5.2, by ``docker create`` of each command line and inspect. Each was a hole or a
wrong refusal when written (closed since); ``tests/security/test_red_team_8.py`` plays the holes
end to end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_docker_server.devcontainers.gate import check_profile_files, judge_configuration, run_args_fields
from mcp_docker_server.devcontainers.runargs import bind_published_ports, injected_options, parse_run
from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import Policy, lexical_resolver

# `docker run --help` (28.2.2): the options that take no value, and those that take one.
DOCKER_RUN_BOOLEANS = [
    "--detach",
    "--disable-content-trust",
    "--help",
    "--init",
    "--interactive",
    "--no-healthcheck",
    "--oom-kill-disable",
    "--privileged",
    "--publish-all",
    "--quiet",
    "--read-only",
    "--rm",
    "--sig-proxy",
    "--tty",
    "--use-api-socket",
]
DOCKER_RUN_VALUED = [
    "--add-host",
    "--annotation",
    "--attach",
    "--blkio-weight",
    "--blkio-weight-device",
    "--cap-add",
    "--cap-drop",
    "--cgroup-parent",
    "--cgroupns",
    "--cidfile",
    "--cpu-period",
    "--cpu-quota",
    "--cpu-rt-period",
    "--cpu-rt-runtime",
    "--cpu-shares",
    "--cpus",
    "--cpuset-cpus",
    "--cpuset-mems",
    "--detach-keys",
    "--device",
    "--device-cgroup-rule",
    "--device-read-bps",
    "--device-read-iops",
    "--device-write-bps",
    "--device-write-iops",
    "--dns",
    "--dns-option",
    "--dns-search",
    "--domainname",
    "--entrypoint",
    "--env",
    "--env-file",
    "--expose",
    "--gpus",
    "--group-add",
    "--health-cmd",
    "--health-interval",
    "--health-retries",
    "--health-start-interval",
    "--health-start-period",
    "--health-timeout",
    "--hostname",
    "--ip",
    "--ip6",
    "--ipc",
    "--isolation",
    "--kernel-memory",
    "--label",
    "--label-file",
    "--link",
    "--link-local-ip",
    "--log-driver",
    "--log-opt",
    "--mac-address",
    "--memory",
    "--memory-reservation",
    "--memory-swap",
    "--memory-swappiness",
    "--mount",
    "--name",
    "--network",
    "--network-alias",
    "--oom-score-adj",
    "--pid",
    "--pids-limit",
    "--platform",
    "--publish",
    "--pull",
    "--restart",
    "--runtime",
    "--security-opt",
    "--shm-size",
    "--stop-signal",
    "--stop-timeout",
    "--storage-opt",
    "--sysctl",
    "--tmpfs",
    "--ulimit",
    "--user",
    "--userns",
    "--uts",
    "--volume",
    "--volume-driver",
    "--volumes-from",
    "--workdir",
    # hidden from --help, valued all the same:
    "--net",
    "--net-alias",
    "--dns-opt",
    "--cpu-count",
    "--cpu-percent",
    "--io-maxbandwidth",
    "--io-maxiops",
]


def test_the_shims_option_table_is_the_docker_clis() -> None:
    # A boolean read as valued would hide the next option (--env-file, -P) from the shim's checks.
    for flag in DOCKER_RUN_BOOLEANS:
        assert parse_run([flag, "--env-file", "/f", "img"]).options_given >= {flag, "--env-file"}, flag
    for flag in DOCKER_RUN_VALUED:
        assert parse_run([flag, "--env-file", "img"]).image_and_command == ("img",), flag


# --------------------------------------------------------------------------- holes


def _docker_publish(value: str) -> str:
    """What the docker CLI (convertToStandardNotation) makes of a -p value before parsing it:
    the long syntax becomes "<published>:<target>/<protocol>", unknown keys ignored; it has no
    host address field at all."""
    if "=" not in value:
        return value
    params = {"protocol": "tcp"} | dict(part.partition("=")[::2] for part in value.split(","))
    return f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}"


@pytest.mark.parametrize(
    "option", [["-p", "protocol=tcp,published=9991,target=80"], ["--publish=published=9991,target=80"]]
)
def test_a_long_syntax_port_is_bound_to_the_publish_address(option: list[str]) -> None:
    # Recorded: `-p 127.0.0.1::protocol=tcp,published=9991,target=80` (the shim's rewrite) ->
    # PortBindings {"80/tcp": [{"HostIp": "", "HostPort": "9991"}]}: every interface.
    out = bind_published_ports(parse_run([*option, "img"]), "127.0.0.1").create_options
    assert _docker_publish(out[-1]).startswith("127.0.0.1:"), out


def test_words_after_a_double_dash_are_not_options_of_the_create() -> None:
    # Recorded: `docker run -- --env-file f img` fails ("invalid reference format"); the shim's
    # `docker create ... --env-file f -l k=v img` reads f into the container's environment.
    with pytest.raises(ValueError, match="`--`"):
        parse_run(["-a", "STDOUT", "--", "--env-file", "/f", "-l", "k=v", "img"])


@pytest.mark.parametrize("value", ["-p", "--publish"])
def test_a_label_spelled_like_a_publish_flag_does_not_hide_a_port(value: str) -> None:
    # Recorded: `--label -p --publish=:9997:80` -> label "-p", HostIp "" (every interface).
    call = parse_run(["--label", value, "--publish=:9997:80", "img"])
    out = bind_published_ports(call, "127.0.0.1").create_options
    assert out == ("--label", value, "--publish", "127.0.0.1:9997:80"), out


def test_a_label_spelled_like_a_security_option_keeps_the_policys_default() -> None:
    # Recorded: `--label --security-opt=no-new-privileges` -> SecurityOpt null, a label.
    call = parse_run(["--label", "--security-opt=no-new-privileges", "img"])
    assert "no-new-privileges=true" in injected_options(Policy(), call, {})


@pytest.mark.parametrize("name", ["default", "{}", '{"defaultAction":"SCMP_ACT_ALLOW"}'])
def test_a_seccomp_value_the_docker_cli_reads_as_a_file_is_judged(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recorded: `--security-opt seccomp=default` -> "opening seccomp profile (default) failed:
    # open default: no such file or directory"; with ./default present its JSON is the
    # container's SecurityOpt. The CLI's special names are "builtin" and "unconfined" only, and
    # it reads a relative name from its working folder (this process's).
    credentials = tmp_path / "home" / ".docker" / "config.json"
    credentials.parent.mkdir(parents=True)
    credentials.write_text('{"auths": {}}')
    (tmp_path / name).symlink_to(credentials)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyDenied, match="seccomp profile"):
        check_profile_files(Policy(), [f"seccomp={name}"], "runArgs")
    check_profile_files(Policy(), ["seccomp=unconfined", "seccomp=builtin"], "runArgs")


# --------------------------------------------------------------------------- fail closed wrongly


def test_both_spellings_of_publish_all_false_are_read_alike() -> None:
    # Recorded: `--publish-all=false` and `-P=false` -> PublishAllPorts false; shim.run refuses
    # every option_given "--publish-all", whatever its value.
    assert (
        parse_run(["--publish-all=false", "img"]).options_given
        == parse_run(["-P=false", "img"]).options_given
    )


def test_a_label_value_that_looks_like_privileged_is_a_label() -> None:
    # Recorded: `--label --privileged` -> Labels {"--privileged": ""}, Privileged false.
    assert "Privileged" not in run_args_fields(["--label", "--privileged"])
    judge_configuration(Policy(), {"runArgs": ["--label", "--privileged"]}, None, lexical_resolver)

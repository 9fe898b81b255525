"""Red team 8: dev-container, differential. Where the shim reads a docker command line itself
(``devcontainers/runargs.py``, ``gate.py``), inputs it reads differently from the real docker CLI.

Every test asserts the SAFE outcome against the real engine, the real Dev Containers CLI and the
real docker CLI; the first group were holes when written (closed since). The docker behaviour
each one relies on is recorded in ``tests/unit/test_devcontainers_differential.py``.
Canaries live under pytest's tmp_path, in folders the host-path rule protects (``.aws``,
``.docker``, ``.ssh``); everything made is removed.
"""

from __future__ import annotations

import json
from pathlib import Path

import docker
import pytest
from mcp import Client

from tests.conftest import RUN_ID, text_of
from tests.integration.test_devcontainers import containers_of, free_port, image_config, write_project
from tests.security.test_red_team_6 import published_on, unconfined_ok
from tests.security.test_red_team_devcontainer import canary_file, cleanup, everything_about, up

__all__ = ["cleanup", "unconfined_ok"]  # fixtures, used by name

pytestmark = [pytest.mark.anyio, pytest.mark.docker]


# --------------------------------------------------------------------------- holes found


# runargs.py _publish_on reads every -p value as the short syntax; the docker CLI (v23+,
# convertToStandardNotation) also takes the long one, `published=N,target=P,protocol=tcp`, and
# ignores keys it does not know: the shim's "127.0.0.1::" prefix lands in a key of its own and
# the port listens on every interface. README: ports without an address bind to
# MCP_DOCKER_PUBLISH_ADDRESS; appPort is where a devcontainer.json asks for one.
@pytest.mark.parametrize("how", ["appPort", "runArgs --publish="])
async def test_a_long_syntax_port_binds_only_to_the_publish_address(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    how: str,
) -> None:
    value = f"protocol=tcp,published={free_port()},target=80"
    if how == "appPort":
        config = image_config(test_image, appPort=value)
    else:
        config = image_config(test_image, runArgs=[f"--publish={value}"])
    folder = write_project(tmp_path / "longport", config)
    cleanup.append(folder)
    await up(client, folder)
    assert published_on(docker_client, folder) <= {"127.0.0.1"}


# runargs.parse_run stops at `--` and drops it: what follows is "the image and its command" to
# the shim, but the create it builds has no `--` any more, so docker create reads those words as
# options. (The real `docker run -- --env-file f img` fails: "invalid reference format".) The
# checks on options_given (--env-file, --label-file, --cidfile, -P) and the -p rewrite never see
# them; the Dev Containers CLI puts its own -l labels and the image after runArgs, so the
# container comes up as usual.
@pytest.mark.parametrize("flag", ["--env-file", "--label-file", "--cidfile", "-p", "-P"])
async def test_a_double_dash_in_run_args_does_not_hide_host_side_options(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    flag: str,
) -> None:
    secret = f"double-dash-canary-{RUN_ID}"
    written = tmp_path / "host" / ".ssh" / "authorized_keys"
    if flag == "--cidfile":
        written.parent.mkdir(parents=True)
        tail = [flag, str(written)]
    elif flag == "-p":
        tail = [flag, f"{free_port()}:80"]
    elif flag == "-P":
        tail = [flag, "--expose", str(free_port())]
    else:
        tail = [flag, str(canary_file(tmp_path, ".aws/credentials", f"MCPD_RED_TEAM_KEY={secret}\n"))]
    folder = write_project(tmp_path / "dashdash", image_config(test_image, runArgs=["--", *tail]))
    cleanup.append(folder)
    result = await up(client, folder)
    assert secret not in text_of(result) + everything_about(docker_client, folder), "a host file was read"
    assert not written.exists(), "the docker CLI wrote a file in a protected folder"
    assert published_on(docker_client, folder) <= {"127.0.0.1"}


# runargs.bind_published_ports pairs any word "-p"/"--publish" with the next one, values
# included: `--label -p` makes it take the following `--publish=:N:80` as that label's port and
# keep it (two colons: "names an address"); docker reads `-p` as the label and publishes
# ":N:80", an empty address: every interface (red team 7 closed that spelling on its own).
@pytest.mark.parametrize("value", ["-p", "--publish"])
async def test_a_value_spelled_like_a_publish_flag_does_not_unbind_a_port(
    client: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    value: str,
) -> None:
    run_args = ["--label", value, f"--publish=:{free_port()}:80"]
    folder = write_project(tmp_path / "pvalue", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    await up(client, folder)
    assert published_on(docker_client, folder) <= {"127.0.0.1"}


# runargs.security_options scans words, not the parsed options: a label whose value is spelled
# `--security-opt=no-new-privileges` makes injected_options think the command line set it, so the
# policy's no-new-privileges is not added, and docker sets only the label (README: the policy's
# defaults are injected as for run-container). Low: a Compose-based dev container never gets it
# (README [defaults]: "not into compose").
async def test_a_label_spelled_like_a_security_option_does_not_drop_no_new_privileges(
    client: Client, tmp_path: Path, test_image: str, docker_client: docker.DockerClient, cleanup: list[str]
) -> None:
    run_args = ["--label", "--security-opt=no-new-privileges"]
    folder = write_project(tmp_path / "nnplabel", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    await up(client, folder)
    [container] = containers_of(docker_client, folder)
    options = container.attrs["HostConfig"]["SecurityOpt"] or []
    assert any(o in ("no-new-privileges=true", "no-new-privileges:true") for o in options), options


# gate.check_profile_files skips `seccomp=default` and `seccomp={...}` as naming no file; the
# docker CLI (parseSecurityOpts) knows only "builtin" and "unconfined" and reads any other
# value as a file, relative to its working folder: the server's, which a coding agent starts in
# the project (Claude Code does), where the project may hold a link `default` -> a credential
# file. Its JSON becomes the container's seccomp profile, shown by inspect (the operator allows
# custom profiles, allow_unconfined, not reading credential files: red team 6 closed the
# absolute path). Under the default policy the CLI reads the file too, but the judge refuses
# the profile without quoting it (longer than 40 characters, or secret-looking keys redacted).
@pytest.mark.parametrize(
    ("key", "name"), [("runArgs", "default"), ("runArgs", "{}"), ("securityOpt", "default")]
)
async def test_a_seccomp_profile_name_is_not_read_from_the_working_folder(
    unconfined_ok: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    name: str,
) -> None:
    secret = f"rs{RUN_ID}"
    path = canary_file(tmp_path, ".docker/config.json", json.dumps({"auth": secret}))
    option = f"seccomp={name}"
    config = image_config(
        test_image, **({"runArgs": ["--security-opt", option]} if key == "runArgs" else {key: [option]})
    )
    folder = write_project(tmp_path / "relseccomp", config)
    (Path(folder) / name).symlink_to(path)
    cleanup.append(folder)
    monkeypatch.chdir(folder)  # the server (and so the CLIs it starts) runs in the project
    result = await up(unconfined_ok, folder)
    seen = text_of(result) + everything_about(docker_client, folder)
    assert secret not in seen, "a host credential file was read into the container's configuration"


# --------------------------------------------------------------------------- tried, held


@pytest.mark.parametrize(
    "tail",
    [
        ["--security-opt", "seccomp={credentials}"],
        ["-v", "/etc:/h"],
        ["--privileged"],
        ["--cap-add=SYS_ADMIN"],
    ],
    ids=lambda t: " ".join(t)[:30],
)
async def test_what_the_engine_or_the_pre_check_judges_is_judged_after_a_double_dash(
    unconfined_ok: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    tail: list[str],
) -> None:
    # gate.run_args_fields reads runArgs past `--`, and the engine's description is judged
    # whatever the shim made of the command line.
    secret = f"dash-held-canary-{RUN_ID}"
    path = canary_file(
        tmp_path, ".docker/config.json", json.dumps({"auths": {"r.example": {"auth": secret}}})
    )
    run_args = ["--", *(t.format(credentials=path) for t in tail)]
    folder = write_project(tmp_path / "dashheld", image_config(test_image, runArgs=run_args))
    cleanup.append(folder)
    result = await up(unconfined_ok, folder)
    assert "Denied by policy" in text_of(result), text_of(result)
    assert secret not in text_of(result) + everything_about(docker_client, folder)
    assert containers_of(docker_client, folder) == []


async def test_a_relative_seccomp_profile_is_judged_where_the_docker_cli_reads_it(
    unconfined_ok: Client,
    tmp_path: Path,
    test_image: str,
    docker_client: docker.DockerClient,
    cleanup: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The local resolver takes a relative path from the server's working folder, as the docker
    # CLI does: the link is followed to the credential file and refused.
    secret = f"rel-held-{RUN_ID}"
    path = canary_file(tmp_path, ".docker/config.json", json.dumps({"auth": secret}))
    config = image_config(test_image, runArgs=["--security-opt", "seccomp=profile.json"])
    folder = write_project(tmp_path / "relheld", config)
    (Path(folder) / "profile.json").symlink_to(path)
    cleanup.append(folder)
    monkeypatch.chdir(folder)
    result = await up(unconfined_ok, folder)
    assert "Denied by policy" in text_of(result), text_of(result)
    assert secret not in text_of(result) + everything_about(docker_client, folder)

"""doctor's pure parts: rendering, exit status, credential sources (no secret ever printed),
the policy screen, HTTP settings, and configuration errors (exit 2)."""

from __future__ import annotations

import base64
import json
import socket
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from mcp_docker_server.config.settings import RegistrySettings, load_settings
from mcp_docker_server.doctor import run_doctor, transport_of
from mcp_docker_server.doctor.checks import (
    docker_cli_lines,
    http_lines,
    policy_data,
    policy_lines,
    registry_lines,
    warning_lines,
)
from mcp_docker_server.doctor.report import EngineProbe, Line, Report, render_json, render_text

CANARY = "canary-Zq7xV3pL9wK2"

UP = EngineProbe(
    name="local",
    host="unix:///var/run/docker.sock",
    transport="unix",
    source="engines file",
    default=True,
    read_only=False,
    elapsed_ms=12,
    reachable=True,
    engine_version="27.1.0",
    api_version="1.46",
    os_arch="linux/amd64",
)
DOWN = EngineProbe(
    name="prod",
    host="tcp://127.0.0.1:1",
    transport="tcp",
    source="engines file",
    default=False,
    read_only=True,
    elapsed_ms=3,
    reachable=False,
    error="Docker engine unreachable at tcp://127.0.0.1:1: Connection refused.",
    fix="start the engine; or fix its entry in MCP_DOCKER_ENGINES_FILE.",
)


def report(*engines: EngineProbe, lines: tuple[Line, ...] = ()) -> Report:
    return Report(version="9.9.9", budget_s=5, engines=engines, lines=lines)


def executable(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# --------------------------------------------------------------------------- rendering


def test_text_report_puts_each_fix_under_its_problem_and_ends_with_the_exit_code() -> None:
    text = render_text(
        report(
            UP,
            DOWN,
            lines=(
                Line("compose", "ok", "Compose v2.40.3 (docker compose)"),
                Line("compose", "warn", "docker CLI not on PATH", "install it."),
                Line("registry credentials", "fail", "docker-credential-x is not on PATH", "install it."),
            ),
        )
    )
    rows = text.splitlines()
    assert rows[1] == "engines (2, from MCP_DOCKER_ENGINES_FILE; probed in parallel, 5 s budget each)"
    up = next(r for r in rows if r.startswith("  ok    local"))
    assert "engine 27.1.0, API 1.46, linux/amd64" in up
    assert up.endswith("[default]")
    down = rows.index(next(r for r in rows if r.startswith("  FAIL  prod")))
    # The address is already on the line: the error keeps only the cause.
    assert "unreachable: Connection refused." in rows[down]
    assert rows[down].count("tcp://127.0.0.1:1") == 1
    assert rows[down].endswith("[read-only]")
    assert rows[down + 1] == "        fix: start the engine; or fix its entry in MCP_DOCKER_ENGINES_FILE."
    assert "        fix: install it." in rows
    assert rows[-1] == "2 problem(s), 1 warning(s); exit 1"


def test_warnings_and_facts_do_not_make_a_problem() -> None:
    done = report(UP, lines=(Line("settings", "warn", "w", "f"), Line("policy", "info", "read-only no")))
    assert done.ok
    assert done.problems == 0
    assert render_text(done).splitlines()[-1] == "all fine, 1 warning(s); exit 0"


def test_start_up_warnings_are_shown_as_warnings(tmp_path: Path) -> None:
    settings = load_settings({"HOME": str(tmp_path), "DOCKER_TLS_VERIFY": "1"})
    [line] = warning_lines(settings.warnings)
    assert line.status == "warn"
    assert "DOCKER_TLS_VERIFY" in line.text


def test_json_report_has_the_engines_and_the_judged_checks() -> None:
    data = json.loads(
        render_json(
            report(UP, DOWN, lines=(Line("compose", "ok", "Compose"), Line("policy", "info", "read-only no")))
        )
    )
    assert data["ok"] is False
    assert data["problems"] == 1
    assert [e["name"] for e in data["engines"]] == ["local", "prod"]
    assert data["engines"][1]["fix"] == DOWN.fix
    assert data["engines"][0]["api_version"] == "1.46"
    assert data["checks"] == [{"section": "compose", "status": "ok", "text": "Compose", "fix": None}]


def test_single_engine_shows_where_its_address_came_from() -> None:
    probe = replace(UP, source="default", name="default")
    assert "unix:///var/run/docker.sock  (default socket)" in render_text(report(probe))
    probe = replace(UP, source="context prod")
    assert "(context prod)" in render_text(report(probe))


# --------------------------------------------------------------------------- registry credentials


def write_config(home: Path, data: dict[str, object]) -> Path:
    folder = home / ".docker"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(data))
    return folder


def test_credential_sources_show_names_only_never_a_secret(tmp_path: Path) -> None:
    secret_auth = base64.b64encode(f"robot:{CANARY}".encode()).decode()
    config = write_config(
        tmp_path,
        {
            "auths": {
                "ghcr.io": {"auth": secret_auth},
                "registry.example:5000": {"identitytoken": CANARY},
                "index.docker.io": {"username": "robot", "password": CANARY},
            },
            "credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"},
            "credsStore": "pass",
        },
    )
    bin_dir = tmp_path / "bin"
    executable(bin_dir, "docker-credential-pass")
    registry = RegistrySettings(username="robot", password=CANARY)
    lines = registry_lines(registry, config, str(bin_dir))
    text = "\n".join(f"{ln.text} {ln.fix}" for ln in lines)
    assert CANARY not in text
    assert secret_auth not in text
    assert "REGISTRY_USERNAME/REGISTRY_PASSWORD: set" in text
    assert "auths for ghcr.io, index.docker.io, registry.example:5000" in text
    assert "credHelpers: 123.dkr.ecr.eu-west-1.amazonaws.com (ecr-login)" in text
    assert "credsStore: pass" in text
    # The store's helper is installed; the ECR one is not, and that is the one problem.
    failures = [ln for ln in lines if ln.status == "fail"]
    assert [ln.text.split()[0] for ln in failures] == ["docker-credential-ecr-login"]
    assert failures[0].fix is not None
    assert "install docker-credential-ecr-login" in failures[0].fix


def test_no_config_json_means_anonymous_pulls(tmp_path: Path) -> None:
    lines = registry_lines(RegistrySettings(), tmp_path / ".docker", None)
    assert [ln.status for ln in lines] == ["ok", "ok"]
    assert "REGISTRY_USERNAME/REGISTRY_PASSWORD: not set" in lines[0].text
    assert "absent" in lines[1].text


def test_an_unreadable_auth_config_is_a_problem_with_its_fix(tmp_path: Path) -> None:
    registry = RegistrySettings(auth_config=tmp_path / "missing.json")
    [_, line] = registry_lines(registry, tmp_path, None)
    assert line.status == "fail"
    assert "REGISTRY_AUTH_CONFIG" in line.text
    assert line.fix is not None
    assert "REGISTRY_AUTH_CONFIG" in line.fix


def test_a_broken_config_json_is_a_problem_and_its_content_is_not_echoed(tmp_path: Path) -> None:
    folder = tmp_path / ".docker"
    folder.mkdir()
    (folder / "config.json").write_text('{"auths": {"x": {"auth": "' + CANARY + '"')
    [_, line] = registry_lines(RegistrySettings(), folder, None)
    assert line.status == "fail"
    assert "not valid JSON" in line.text
    assert CANARY not in f"{line.text} {line.fix}"


def test_registry_names_are_cleaned_and_bounded(tmp_path: Path) -> None:
    auths: dict[str, object] = {f"r{i}.example": {} for i in range(12)}
    auths["\x1b[31mred.example"] = {}
    config = write_config(tmp_path, {"auths": auths})
    [_, line] = registry_lines(RegistrySettings(), config, None)
    assert "\x1b" not in line.text
    assert "(+5 more)" in line.text


def test_docker_cli_is_found_on_path_or_reported_with_its_fix(tmp_path: Path) -> None:
    assert docker_cli_lines(str(tmp_path))[0].status == "warn"
    docker = executable(tmp_path / "bin", "docker")
    [line] = docker_cli_lines(str(tmp_path / "bin"))
    assert line.status == "ok"
    assert str(docker) in line.text


# --------------------------------------------------------------------------- http and policy


def test_http_settings_say_whether_a_token_is_set_never_what_it_is(tmp_path: Path) -> None:
    settings = load_settings(
        {"HOME": str(tmp_path), "MCP_DOCKER_TRANSPORT": "http", "MCP_DOCKER_HTTP_TOKEN": CANARY}
    )
    lines = http_lines(settings.http)
    text = "\n".join(ln.text for ln in lines)
    assert "listen http://127.0.0.1:8000/mcp, body limit 1 MiB" in text
    assert "bearer token: set" in text
    assert CANARY not in text
    generated = http_lines(load_settings({"HOME": str(tmp_path), "MCP_DOCKER_TRANSPORT": "http"}).http)
    assert "printed to stderr at each start" in generated[1].text


def test_http_port_already_taken_is_a_warning() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = load_settings({"MCP_DOCKER_TRANSPORT": "http", "MCP_DOCKER_HTTP_PORT": str(port)})
        lines = http_lines(settings.http)
    assert lines[-1].status == "warn"
    assert "is taken (in use)" in lines[-1].text
    assert lines[-1].fix is not None


def test_policy_screen_shows_the_operator_choices(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(
        "[exposure]\nread_only = true\ndeny_tools = ['swarm-service']\n"
        "[containers]\nimage_allowlist = ['busybox:*']\nallowed_bind_roots = ['/srv']\n"
        "label_scope = 'team=a'\n"
        "[defaults]\ndefault_memory = '512m'\ndefault_cpus = 1.5\ndefault_pids_limit = 200\n"
    )
    settings = load_settings({"HOME": str(tmp_path), "MCP_DOCKER_POLICY_FILE": str(policy)})
    text = "\n".join(ln.text for ln in policy_lines(settings, f"file {policy}"))
    assert "read-only yes · confirm elicit · audit log off" in text
    assert "denied swarm-service" in text
    assert "images: busybox:*" in text
    assert "binds: roots /srv" in text
    assert "label scope: team=a" in text
    assert "memory 512 MiB · cpus 1.5 · pids 200" in text
    data = policy_data(settings, "file")
    assert data["default"]["image_allowlist"] == ["busybox:*"]  # type: ignore[index]
    json.dumps(data)  # every value is JSON


def test_an_engine_with_its_own_policy_is_named_with_what_differs(tmp_path: Path) -> None:
    engines = tmp_path / "engines.toml"
    engines.write_text(
        '[engines.a]\nhost = "unix:///a.sock"\n[engines.b]\nhost = "unix:///b.sock"\nread_only = true\n'
    )
    settings = load_settings({"HOME": str(tmp_path), "MCP_DOCKER_ENGINES_FILE": str(engines)})
    own = [ln.text for ln in policy_lines(settings, "defaults") if ln.text.startswith("engine ")]
    assert own == ["engine b: own policy, read_only=yes"]
    assert policy_data(settings, "defaults")["engines"] == {"b": ["read_only=yes"]}


def test_an_audit_log_that_cannot_be_written_is_a_problem(tmp_path: Path) -> None:
    settings = load_settings(
        {"HOME": str(tmp_path), "MCP_DOCKER_AUDIT_LOG": str(tmp_path / "no-such-dir" / "audit.jsonl")}
    )
    [line] = [ln for ln in policy_lines(settings, "defaults") if ln.status == "fail"]
    assert "audit log" in line.text
    assert line.fix is not None
    settings = load_settings({"HOME": str(tmp_path), "MCP_DOCKER_AUDIT_LOG": str(tmp_path / "audit.jsonl")})
    assert all(ln.status == "info" for ln in policy_lines(settings, "defaults"))


def test_transport_names_tls_with_and_without_verification(tmp_path: Path) -> None:
    for pem in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / pem).write_text("x")
    base = {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_CERT_PATH": str(tmp_path)}
    assert transport_of(load_settings({**base, "DOCKER_TLS_VERIFY": "1"}).engine) == "tls"
    assert transport_of(load_settings({**base, "DOCKER_TLS": "1"}).engine) == "tls-noverify"
    assert transport_of(load_settings({"DOCKER_HOST": "ssh://me@box"}).engine) == "ssh"


# --------------------------------------------------------------------------- configuration errors


def test_a_configuration_error_keeps_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "npipe:////./pipe/docker_engine")
    assert run_doctor(["--json"]) == 2
    out, err = capsys.readouterr()
    assert "configuration error: DOCKER_HOST" in err
    assert json.loads(out)["config_error"]["setting"] == "DOCKER_HOST"


def test_a_bad_probe_timeout_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        run_doctor(["--probe-timeout", "0"])
    assert stopped.value.code == 2
    assert "seconds in (0, 60]" in capsys.readouterr().err

"""Settings read like the docker CLI reads them; broken ones stop start-up with exit code 2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mcp_docker_server.cli import main
from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings({"HOME": str(tmp_path)})
    assert settings.engine.host == "unix:///var/run/docker.sock"
    assert settings.engine.api_version == "auto"
    assert settings.engine.timeout == 60
    assert settings.engine.tls is None
    assert settings.transport == "stdio"
    assert settings.http.host == "127.0.0.1"
    assert settings.publish_address == "127.0.0.1"


def test_flags_override_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {"HOME": str(tmp_path), "DOCKER_TIMEOUT": "10"}, {"DOCKER_TIMEOUT": "20", "DOCKER_HOST": None}
    )
    assert settings.engine.timeout == 20


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("/run/docker.sock", "unix:///run/docker.sock"),
        ("tcp://127.0.0.1", "tcp://127.0.0.1:2375"),
        ("http://localhost:2375", "tcp://localhost:2375"),
        ("ssh://me@build-box", "ssh://me@build-box"),
    ],
)
def test_host_forms(host: str, normal: str) -> None:
    assert load_settings({"DOCKER_HOST": host}).engine.host == normal


def make_context(config: Path, name: str, host: str, *, tls: bool) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))
    if tls:
        files = config / "contexts" / "tls" / digest / "docker"
        files.mkdir(parents=True)
        for pem in ("ca.pem", "cert.pem", "key.pem"):
            (files / pem).write_text("x")


def test_current_context_from_config_json(tmp_path: Path) -> None:
    make_context(tmp_path, "prod", "tcp://10.0.0.5:2376", tls=True)
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "prod"}))
    engine = load_settings({"DOCKER_CONFIG": str(tmp_path)}).engine
    assert engine.host == "tcp://10.0.0.5:2376"
    assert engine.source == "context prod"
    assert engine.tls is not None
    assert engine.tls.verify


def test_docker_context_variable_and_docker_host_precedence(tmp_path: Path) -> None:
    make_context(tmp_path, "box", "ssh://me@box", tls=False)
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "box"}
    assert load_settings(env).engine.host == "ssh://me@box"
    assert load_settings({**env, "DOCKER_HOST": "unix:///x.sock"}).engine.host == "unix:///x.sock"
    with pytest.raises(ConfigError) as caught:
        load_settings({**env, "DOCKER_CONTEXT": "missing"})
    assert caught.value.setting == "DOCKER_CONTEXT"


def test_tls_material_from_cert_path(tmp_path: Path) -> None:
    for pem in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / pem).write_text("x")
    engine = load_settings(
        {"DOCKER_HOST": "tcp://10.0.0.5:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    ).engine
    assert engine.tls is not None
    assert engine.tls.ca == tmp_path / "ca.pem"


def test_the_specifications_example_starts_with_a_warning() -> None:
    settings = load_settings(
        {
            "DOCKER_HOST": "unix:///var/run/docker.sock",
            "DOCKER_API_VERSION": "auto",
            "DOCKER_CERT_PATH": "/path/to/certs",
            "DOCKER_TLS_VERIFY": "1",
            "REGISTRY_AUTH_CONFIG": "/path/to/config.json",
        }
    )
    assert settings.engine.tls is None
    assert any("ignored" in w for w in settings.warnings)


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"DOCKER_HOST": "foo://x"}, "DOCKER_HOST"),
        ({"DOCKER_HOST": "npipe:////./pipe/docker_engine"}, "DOCKER_HOST"),
        (
            {"DOCKER_HOST": "tcp://10.0.0.5:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/nope"},
            "DOCKER_CERT_PATH",
        ),
        ({"DOCKER_HOST": "tcp://10.0.0.5:2375"}, "DOCKER_HOST"),
        ({"DOCKER_TLS_VERIFY": "maybe"}, "DOCKER_TLS_VERIFY"),
        ({"DOCKER_TIMEOUT": "abc"}, "DOCKER_TIMEOUT"),
        ({"DOCKER_TIMEOUT": "0"}, "DOCKER_TIMEOUT"),
        ({"DOCKER_API_VERSION": "1.40"}, "DOCKER_API_VERSION"),
        ({"REGISTRY_USERNAME": "me"}, "REGISTRY_PASSWORD"),
        ({"MCP_DOCKER_HTTP_HOST": "0.0.0.0"}, "MCP_DOCKER_HTTP_HOST"),
        ({"MCP_DOCKER_HTTP_TOKEN_FILE": "/nonexistent/token"}, "MCP_DOCKER_HTTP_TOKEN_FILE"),
        ({"MCP_DOCKER_HTTP_PORT": "99999"}, "MCP_DOCKER_HTTP_PORT"),
        ({"MCP_DOCKER_PUBLISH_ADDRESS": "everywhere"}, "MCP_DOCKER_PUBLISH_ADDRESS"),
    ],
)
def test_broken_settings_name_the_setting(env: dict[str, str], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env)
    assert caught.value.setting == setting
    assert caught.value.hint


def test_cert_files_missing_are_named(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    with pytest.raises(ConfigError, match=r"cert\.pem, key\.pem missing"):
        load_settings(
            {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
        )


def test_insecure_tcp_needs_an_explicit_opt_in() -> None:
    settings = load_settings({"DOCKER_HOST": "tcp://10.0.0.5:2375", "MCP_DOCKER_ALLOW_INSECURE_TCP": "1"})
    assert settings.engine.host == "tcp://10.0.0.5:2375"
    assert settings.warnings


def test_both_host_and_context_flags_contradict() -> None:
    with pytest.raises(ConfigError):
        load_settings({}, {"DOCKER_HOST": "unix:///x", "DOCKER_CONTEXT": "prod"})


def test_cli_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "foo://bar")
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "DOCKER_HOST" in err[0]


def test_cli_flags_mirror_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with pytest.raises(SystemExit) as caught:
        main(["--timeout", "-5"])
    assert caught.value.code == 2
    assert "DOCKER_TIMEOUT" in capsys.readouterr().err

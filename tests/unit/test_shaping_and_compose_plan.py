"""Output shaping, Dockerfile facts and the compose plan: pure helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_docker_server.compose.plan import ComposePlan, compose_argv, parse_ps, project_requests, up_argv
from mcp_docker_server.errors import InvalidArgument
from mcp_docker_server.policy import admit
from mcp_docker_server.results.shaping import (
    BoundedTail,
    clean_text,
    format_bound_ports,
    format_ports,
    health_from_status,
    mask_env,
    status_without_health,
)
from mcp_docker_server.specs.dockerfile import read_dockerfile


def test_clean_text_drops_escapes_and_controls_but_keeps_layout() -> None:
    raw = "\x1b[31mred\x1b[0m\tok\n\x1b]0;title\x07bell\x00\x07 done\r\n"
    assert clean_text(raw) == "red\tok\nbell done\n"


def test_env_values_hidden_unless_asked_and_secrets_always() -> None:
    pairs = ["MODE=dev", "API_TOKEN=t", "DB_PASSWORD=p", "AWS_SECRET_ACCESS_KEY=k", "EMPTY="]
    assert mask_env(pairs, show_values=False) == dict.fromkeys(
        ["MODE", "API_TOKEN", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "EMPTY"], "***"
    )
    shown = mask_env(pairs, show_values=True)
    assert shown["MODE"] == "dev"
    assert shown["API_TOKEN"] == shown["DB_PASSWORD"] == shown["AWS_SECRET_ACCESS_KEY"] == "***"


def test_port_formatting() -> None:
    assert format_ports(
        [
            {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
            {"PrivatePort": 53, "Type": "udp"},
        ]
    ) == ["127.0.0.1:8080->80/tcp", "[::]:8080->80/tcp", "53/udp"]
    assert format_bound_ports(
        {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}], "443/tcp": None}
    ) == [
        "127.0.0.1:32768->80/tcp",
        "443/tcp",
    ]


@pytest.mark.parametrize(
    ("status", "health"),
    [
        ("Up 2 minutes (healthy)", "healthy"),
        ("Up 1 second (health: starting)", "starting"),
        ("Up 3 hours (unhealthy)", "unhealthy"),
        ("Exited (0) 1 minute ago", None),
    ],
)
def test_health_from_status(status: str, health: str | None) -> None:
    assert health_from_status(status) == health
    # The row carries health in its own field; the status text says it once, not twice.
    kept = status_without_health(status)
    assert "health" not in kept
    assert kept.startswith(status.split(" (")[0])


def test_bounded_tail_keeps_the_newest_lines_only() -> None:
    tail = BoundedTail(100)
    for i in range(10_000):
        tail.add(f"line-{i}\n".encode())
        assert tail._size <= 2 * 100 + 20
    text = tail.text()
    assert tail.dropped
    assert text.endswith("line-9999\n")
    assert text.startswith("line-")
    assert len(text.encode()) <= 100


def test_dockerfile_stages_and_buildkit_features() -> None:
    facts = read_dockerfile("FROM a AS base\nRUN x\nFROM base AS final\n")
    assert facts.stages == ("base", "final")
    assert facts.buildkit_feature is None
    assert read_dockerfile("# syntax=docker/dockerfile:1\nFROM a\n").buildkit_line == 1
    mount = read_dockerfile("FROM a\nRUN --mount=type=cache,target=/c \\\n  echo\n")
    assert (mount.buildkit_feature, mount.buildkit_line) == ("RUN --mount", 2)
    assert read_dockerfile("FROM a\nRUN <<EOF\necho\nEOF\n").buildkit_feature == "a heredoc in RUN"
    assert read_dockerfile('FROM a\nRUN echo "<<not"\n').buildkit_feature is None


def plan(**changes: object) -> ComposePlan:
    return ComposePlan(**{"files": (Path("/p/compose.yaml"),), "project": "demo", "action": "ps", **changes})  # type: ignore[arg-type]


def test_compose_argv_per_action() -> None:
    base = ["--ansi", "never", "-f", "/p/compose.yaml", "-p", "demo"]
    assert compose_argv(plan(action="down")) == [*base, "down", "--remove-orphans"]
    assert compose_argv(plan(action="down", remove_volumes=True))[-1] == "--volumes"
    assert compose_argv(plan(action="logs", services=("web",), tail=5)) == [
        *base,
        "logs",
        "--no-color",
        "--tail",
        "5",
        "web",
    ]
    assert compose_argv(plan(action="config")) == [*base, "config", "--format", "json"]
    assert up_argv(admit(plan(action="up", build=True, timeout=60))) == [
        *base,
        "up",
        "--detach",
        "--build",
        "--wait",
        "--wait-timeout",
        "60",
    ]


def test_compose_up_needs_the_guards_seal() -> None:
    with pytest.raises(RuntimeError, match="admitted"):
        compose_argv(plan(action="up"))


def test_service_names_cannot_smuggle_flags() -> None:
    with pytest.raises(InvalidArgument):
        compose_argv(plan(services=("--privileged",)))


def test_ps_json_in_both_formats() -> None:
    line = (
        '{"Service":"web","Name":"demo-web-1","State":"running","Health":"healthy","ExitCode":0,'
        '"Publishers":[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"}]}'
    )
    rows = parse_ps(line + "\n")
    assert rows[0].ports == ["0.0.0.0:8080->80/tcp"]
    assert rows[0].health == "healthy"
    assert parse_ps("[" + line + "]") == rows
    assert parse_ps("") == []


def test_compose_config_becomes_policy_requests() -> None:
    config = {
        "services": {
            "app": {
                "image": "x",
                "privileged": True,
                "network_mode": "service:db",
                "cap_add": ["NET_ADMIN"],
                "volumes": [{"type": "bind", "source": "/etc", "target": "/e", "read_only": True}],
                "devices": [{"source": "/dev/kvm", "target": "/dev/kvm"}],
            },
        },
        "volumes": {
            "data": {"driver_opts": {"type": "none", "o": "bind", "device": "/srv"}},
            "ext": {"external": True, "name": "shared"},
        },
    }
    requests = project_requests(config)
    app = requests.containers[0]
    assert app.privileged
    assert app.network == "container:db"
    assert app.mounts[0].source == "/etc"
    assert app.devices == ("/dev/kvm:/dev/kvm",)
    assert requests.volumes[0].driver_opts["device"] == "/srv"
    assert requests.external_volumes == ("shared",)

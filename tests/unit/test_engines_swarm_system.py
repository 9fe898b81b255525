"""Pure parts of the engines file, event windows, service requests and their policy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.errors import ConfigError, InvalidArgument, PolicyDenied
from mcp_docker_server.policy import Policy, admit_service, admit_service_patch, in_scope, lexical_resolver
from mcp_docker_server.results.shaping import human_size
from mcp_docker_server.specs.containers import ContainerSpec, MountSpec
from mcp_docker_server.specs.swarm import (
    ServicePatch,
    ServiceSpec,
    parse_constraints,
    parse_service_ports,
    parse_update_policy,
)
from mcp_docker_server.specs.timewindow import event_window

NOW = 1_800_000_000.0


def load(tmp_path: Path, text: str, **env: str) -> object:
    path = tmp_path / "engines.toml"
    path.write_text(text)
    return load_settings({"MCP_DOCKER_ENGINES_FILE": str(path), "HOME": str(tmp_path), **env})


def test_engines_file_names_engines_in_order_with_their_policies(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        'default = "b"\n[engines.a]\nhost = "unix:///a.sock"\n'
        '[engines.b]\nhost = "ssh://me@box"\nread_only = true\n',
    )
    engines = settings.engine_configs()  # type: ignore[attr-defined]
    assert [e.name for e in engines] == ["a", "b"]
    assert settings.default_engine == "b"  # type: ignore[attr-defined]
    assert settings.engine.host == "ssh://me@box"  # type: ignore[attr-defined]
    assert [e.policy.read_only for e in engines] == [False, True]


def test_without_an_engines_file_there_is_one_engine_named_default(tmp_path: Path) -> None:
    settings = load_settings({"DOCKER_HOST": "unix:///x.sock", "HOME": str(tmp_path)})
    assert [(e.name, e.target.host) for e in settings.engine_configs()] == [("default", "unix:///x.sock")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "no [engines.<name>] tables"),
        ('[engines.Bad]\nhost = "unix:///a"\n', "names are lowercase"),
        ('[engines.a]\nhost = "unix:///a"\ncolour = "red"\n', "unknown key(s) ['colour']"),
        ('[engines.a]\nhost = "unix:///a"\ncontext = "x"\n', "both host and context"),
        ("[engines.a]\nread_only = true\n", "neither host nor context"),
        ('[engines.a]\nhost = "ftp://a"\n', "engine 'a': DOCKER_HOST: unknown scheme"),
        ('[engines.a]\nhost = "tcp://10.1.2.3:2375"\n', "plain TCP to a non-loopback"),
        ('default = "z"\n[engines.a]\nhost = "unix:///a"\n', "default = 'z' names no engine"),
        ('[engines.a]\nhost = "unix:///a"\nread_only = "yes"\n', "read_only must be true or false"),
        ("[engines.a\n", "not valid TOML"),
    ],
)
def test_a_broken_engines_file_stops_start_up_naming_the_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert expected in str(caught.value)
    assert "MCP_DOCKER_ENGINES_FILE" in str(caught.value)


def test_event_window_defaults_bounds_and_formats() -> None:
    assert event_window(None, None, NOW) == (int(NOW - 600), int(NOW) + 1)
    assert event_window("2h", "1h", NOW) == (int(NOW - 7200), int(NOW - 3600) + 1)
    assert event_window("2027-01-15T07:00:00+00:00", None, NOW)[0] == 1_799_996_400
    assert event_window("2027-01-15T07:00:00", None, NOW)[0] == 1_799_996_400  # no zone: UTC
    assert event_window("90 s", None, NOW)[0] == int(NOW - 90)
    # until never lies ahead: the engine's stream would stay open
    assert event_window("1m", str(int(NOW + 999)), NOW)[1] == int(NOW) + 1
    for since, until, message in [
        ("2d", None, "a day"),
        ("1h", "2h", "since is after until"),
        ("yesterday", None, "not a time"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            event_window(since, until, NOW)


def test_service_ports_constraints_and_update_policy_parse_strictly() -> None:
    ports = parse_service_ports(["8080:80", "53:53/udp", 9000])
    assert [(p.published, p.target, p.protocol) for p in ports] == [
        (8080, 80, "tcp"),
        (53, 53, "udp"),
        (None, 9000, "tcp"),
    ]
    for bad in ("80:", "a:b", "70000:80", "1:2/icmp", "-p 80"):
        with pytest.raises(InvalidArgument):
            parse_service_ports([bad])
    assert parse_constraints([" node.role==manager ", "node.labels.zone != b"]) == (
        "node.role==manager",
        "node.labels.zone != b",
    )
    for bad in ("node.role", "node.role==manager; rm -rf /", "--constraint x"):
        with pytest.raises(InvalidArgument):
            parse_constraints([bad])
    policy = parse_update_policy(
        {"parallelism": 2, "delay": 5, "failure_action": "rollback", "order": "start-first"}
    )
    assert policy is not None
    assert (policy.parallelism, policy.delay_seconds, policy.failure_action) == (2, 5.0, "rollback")
    wrongs: list[dict[str, object]] = [
        {"parallelism": -1},
        {"delay": "5s"},
        {"order": "random"},
        {"speed": 1},
    ]
    for wrong in wrongs:
        with pytest.raises(InvalidArgument):
            parse_update_policy(wrong)


def service(**container: object) -> ServiceSpec:
    return ServiceSpec(name="web", container=ContainerSpec(image="busybox:1", **container))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (service(mounts=(MountSpec("bind", "/etc", "/x"),)), "sensitive-bind"),
        (service(mounts=(MountSpec("bind", "/var/run/docker.sock", "/s"),)), "socket"),
        (service(cap_add=("SYS_ADMIN",)), "cap-add"),
        (replace(service(), networks=("HOST",)), "host-network"),
        (ServiceSpec(name="w", container=ContainerSpec(image="evil/miner:1")), "image-allowlist"),
    ],
)
def test_services_are_judged_like_containers(spec: ServiceSpec, rule: str) -> None:
    policy = replace(Policy(), image_allowlist=("busybox:*",))
    with pytest.raises(PolicyDenied) as caught:
        admit_service(policy, spec, lexical_resolver)
    assert rule in caught.value.rule


def test_an_admitted_service_carries_defaults_and_the_scope_label() -> None:
    policy = replace(Policy(), label_scope="team=web", default_memory_bytes=256 * 1024 * 1024)
    admitted = admit_service(policy, service(labels={"a": "1"}), lexical_resolver).unwrap()
    assert admitted.labels == {"team": "web"}
    assert admitted.container.labels == {"a": "1", "team": "web"}
    assert admitted.container.memory_bytes == 256 * 1024 * 1024
    with pytest.raises(PolicyDenied):
        admit_service_patch(replace(Policy(), image_allowlist=("busybox:*",)), ServicePatch(image="evil:1"))
    assert admit_service_patch(Policy(), ServicePatch(replicas=3)).unwrap().replicas == 3


def test_label_scope_matches_key_or_key_and_value() -> None:
    assert in_scope(Policy(), None)
    assert in_scope(replace(Policy(), label_scope="team"), {"team": "x"})
    assert not in_scope(replace(Policy(), label_scope="team"), {"other": "x"})
    assert in_scope(replace(Policy(), label_scope="team=web"), {"team": "web"})
    assert not in_scope(replace(Policy(), label_scope="team=web"), {"team": "db"})
    assert not in_scope(replace(Policy(), label_scope="team=web"), None)


def test_human_sizes_read_like_docker() -> None:
    assert [human_size(n) for n in (0, 999, 1500, 999_999, 23_000_000, 1_234_000_000)] == [
        "0 B",
        "999 B",
        "1.5 KB",
        "1 MB",
        "23 MB",
        "1.23 GB",
    ]


def test_reset_never_waits_behind_a_slow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The event loop calls reset() after a timeout; a connection attempt that hangs (an SSH
    banner waits 15 s) in a worker thread must not freeze it."""
    import threading
    import time

    from mcp_docker_server.engine import Engine, connect

    entered, release = threading.Event(), threading.Event()
    fake_client = object()

    def slow_open(target: object) -> object:
        entered.set()
        release.wait(10)
        return fake_client

    monkeypatch.setattr(connect, "open_client", slow_open)
    engine = Engine(
        load_settings({"DOCKER_HOST": "tcp://127.0.0.1:9", "MCP_DOCKER_ALLOW_INSECURE_TCP": "1"}).engine
    )
    worker = threading.Thread(target=engine.client)
    worker.start()
    assert entered.wait(5)
    started = time.monotonic()
    engine.reset()
    assert time.monotonic() - started < 0.5
    release.set()
    worker.join(5)
    assert engine.client() is fake_client  # the attempt that finished is kept


def test_a_socket_this_process_may_not_open_points_at_its_group() -> None:
    from mcp_docker_server.engine.errors import unreachable

    denied = str(unreachable("unix:///var/run/docker.sock", "Permission denied"))
    assert "--group-add" in denied
    missing = str(unreachable("unix:///var/run/docker.sock", "No such file or directory"))
    assert "is dockerd running" in missing


def test_services_get_no_new_privileges_from_api_1_44() -> None:
    from mcp_docker_server.engine._swarm_sync import _api_at_least, _no_new_privileges

    assert _no_new_privileges(("no-new-privileges",))
    assert _no_new_privileges(("no-new-privileges:true",))
    assert not _no_new_privileges(("no-new-privileges=false",))
    assert not _no_new_privileges(())
    assert _api_at_least("1.51", (1, 44))
    assert _api_at_least("1.44", (1, 44))
    assert not _api_at_least("1.41", (1, 44))
    assert not _api_at_least("", (1, 44))

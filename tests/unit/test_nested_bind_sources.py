"""What the nested-bind rule counts as a mount of a host folder (policy/admission.py), beyond
plain binds: volumes that mount a folder like a bind, on either side; a swarm service's task
template; engines of the same host that could not be listed (fail closed); and the paths a
Compose build or watch reads (tools/compose.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import Policy, lexical_resolver
from mcp_docker_server.policy.admission import (
    ContainerDescription,
    VolumeInfo,
    judge_container,
    judge_nesting,
    judge_task_template,
    listed_binds,
    own_binds,
    service_binds,
    volume_binds,
    writable_folders,
)
from mcp_docker_server.policy.paths import check_writers_listed
from mcp_docker_server.tools.compose import _build_reads, _local_context, _watched_paths

POLICY = Policy()
VOLUMES = Policy(allow_volume_mounts=True)  # the volume rule would refuse a bind volume first
BIND = VolumeInfo(options={"type": "none", "o": "bind", "device": "/srv/app/data"})


@pytest.mark.parametrize(
    ("info", "read_write", "expected"),
    [
        (BIND, True, [("/srv/app/data", True)]),
        (BIND, False, [("/srv/app/data", False)]),
        (VolumeInfo(options={"type": "none", "o": "rbind,ro", "device": "/d"}), True, [("/d", False)]),
        (VolumeInfo(options={"type": "none", "o": " BIND ", "device": "/d"}), True, [("/d", True)]),
        (
            VolumeInfo(options={"type": "overlay", "o": "lowerdir=/l1:/l2,upperdir=/u,workdir=/w"}),
            True,
            [("/l1", False), ("/l2", False), ("/u", True), ("/w", True)],
        ),
        (VolumeInfo(options={"type": "tmpfs", "device": "tmpfs"}), True, []),
        (VolumeInfo(), True, []),
        (VolumeInfo(driver="someplugin", options={"o": "bind", "device": "/d"}), True, []),
    ],
)
def test_volumes_that_mount_a_host_folder_are_binds(
    info: VolumeInfo, read_write: bool, expected: list[tuple[str, bool]]
) -> None:
    assert volume_binds(info, read_write) == expected


def test_own_binds_count_named_volumes_in_every_spelling() -> None:
    host: dict[str, Any] = {
        "Binds": ["/a:/a", "/b:/b:ro,z", "data:/d", "plain:/p", "/anonymous"],
        "Mounts": [
            {"Type": "volume", "Source": "data", "Target": "/m", "ReadOnly": True},
            {
                "Type": "volume",
                "Source": "fresh",
                "Target": "/f",
                "VolumeOptions": {"DriverConfig": {"Options": {"type": "none", "o": "bind", "device": "/x"}}},
            },
            {"Type": "bind", "Source": "/c", "Target": "/c"},
            {"Type": "tmpfs", "Target": "/t"},
        ],
    }
    volumes = {"data": BIND, "plain": VolumeInfo()}
    assert own_binds(host, volumes) == [
        ("/a", True),
        ("/b", False),
        ("/srv/app/data", True),  # -v data:/d
        ("/srv/app/data", False),  # --mount type=volume,src=data,readonly
        ("/x", True),  # an inline driver config makes the volume when it does not exist yet
        ("/c", True),
    ]
    assert own_binds(host) == [("/a", True), ("/b", False), ("/x", True), ("/c", True)]


def test_listed_binds_read_the_engines_container_list_and_inspect_bodies() -> None:
    rows: list[dict[str, Any]] = [
        {
            "Id": "1",
            "Names": ["/web"],
            "Mounts": [
                {"Type": "bind", "Source": "/srv/app", "RW": True},
                {
                    "Type": "volume",
                    "Name": "data",
                    "Source": "/var/lib/docker/volumes/data/_data",
                    "RW": False,
                },
                {
                    "Type": "volume",
                    "Name": "plain",
                    "Source": "/var/lib/docker/volumes/plain/_data",
                    "RW": True,
                },
            ],
        },
        {"Id": "2", "Name": "/db", "Mounts": [{"Type": "volume", "Name": "data", "RW": True}]},
        {"Id": "3", "Names": ["/me"], "Mounts": [{"Type": "bind", "Source": "/mine", "RW": True}]},
    ]
    volumes = {"data": BIND, "plain": VolumeInfo()}
    assert listed_binds(rows, volumes, exclude="3") == (
        ("/srv/app", True, "web"),
        ("/srv/app/data", False, "web"),
        ("/srv/app/data", True, "db"),
    )
    assert writable_folders(listed_binds(rows, volumes), lexical_resolver) == [
        ("/srv/app", "web"),
        ("/srv/app/data", "db"),
        ("/mine", "me"),
    ]


def desc(host: dict[str, Any], **extra: Any) -> ContainerDescription:
    return ContainerDescription(name="new", config={"Image": "busybox:1"}, host_config=host, **extra)


def test_a_bind_volume_inside_a_writable_folder_is_refused_and_a_writer_around_one_too() -> None:
    victim = desc({"Binds": ["data:/d:ro"]}, volumes={"data": BIND}, other_binds=(("/srv/app", True, "web"),))
    with pytest.raises(PolicyDenied, match="/srv/app/data lies in /srv/app, which container web can write"):
        judge_container(VOLUMES, victim, lexical_resolver)
    writer = desc(
        {"Mounts": [{"Type": "volume", "Source": "top", "Target": "/w"}]},
        volumes={"top": VolumeInfo(options={"type": "none", "o": "bind", "device": "/srv"})},
        other_binds=(("/srv/app/data", False, "db"),),
    )
    with pytest.raises(PolicyDenied, match="container db's bind source /srv/app/data lies in /srv"):
        judge_container(VOLUMES, writer, lexical_resolver)
    judge_container(Policy(allow_volume_mounts=True, allow_nested_binds=True), writer, lexical_resolver)
    read_only = desc(
        {"Binds": ["top:/w:ro"]},
        volumes={"top": VolumeInfo(options={"type": "none", "o": "bind", "device": "/srv"})},
        other_binds=(("/srv/app/data", False, "db"),),
    )
    judge_container(VOLUMES, read_only, lexical_resolver)


def test_an_unlisted_engine_refuses_binds_only() -> None:
    unlisted = ("engine gone (unix:///run/gone.sock): connection refused",)
    with pytest.raises(PolicyDenied) as caught:
        judge_container(POLICY, desc({"Binds": ["/srv/x:/x:ro"]}, unlisted=unlisted), lexical_resolver)
    assert caught.value.rule == "nested-bind"
    assert caught.value.setting == "allow_nested_binds = true"
    assert "/srv/x" in caught.value.reason
    assert "engine gone" in caught.value.reason
    judge_container(POLICY, desc({}, unlisted=unlisted), lexical_resolver)
    judge_container(
        Policy(allow_nested_binds=True), desc({"Binds": ["/srv/x:/x"]}, unlisted=unlisted), lexical_resolver
    )
    check_writers_listed(POLICY, "/srv/x", (), purpose="build context")


def test_a_service_is_judged_against_the_engines_other_binds() -> None:
    template = {
        "ContainerSpec": {
            "Image": "busybox:1",
            "Mounts": [{"Type": "bind", "Source": "/srv/app/data", "Target": "/d", "ReadOnly": True}],
        }
    }

    def judge(**extra: Any) -> None:
        judge_task_template(POLICY, "svc", template, [], {}, lexical_resolver, **extra)

    judge()
    with pytest.raises(
        PolicyDenied, match=r"service svc: .*/srv/app/data lies in /srv/app, which container web"
    ):
        judge(other_binds=(("/srv/app", True, "web"),))
    with pytest.raises(PolicyDenied, match="engine gone"):
        judge(unlisted=("engine gone: refused",))
    writer = {
        "ContainerSpec": {
            "Image": "busybox:1",
            "Mounts": [{"Type": "bind", "Source": "/srv", "Target": "/s"}],
        }
    }
    with pytest.raises(PolicyDenied, match="the folder project shop watches"):
        judge_task_template(POLICY, "svc", writer, [], {}, lexical_resolver, watched=(("/srv/src", "shop"),))


def test_judge_nesting_names_the_purpose_given() -> None:
    with pytest.raises(
        PolicyDenied, match=r"'nested-bind': bind source /srv/a/b lies in /srv/a, which container w can write"
    ):
        judge_nesting(
            POLICY,
            "svc",
            [("/srv/a/b", False)],
            lexical_resolver,
            other_binds=(("/srv/a", True, "w"),),
            purpose="bind source",
        )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/srv/extra", "/srv/extra"),
        ("oci-layout:///srv/layout", "/srv/layout"),
        ("oci-layout:///srv/layout:v1", "/srv/layout"),
        ("oci-layout:///srv/layout@sha256:abc", "/srv/layout"),
        ("docker-image://alpine:3", None),
        ("service:base", None),
        ("target:base", None),
        ("https://example.com/repo.git", None),
    ],
)
def test_additional_contexts_on_this_machine(value: str, expected: str | None) -> None:
    assert _local_context(value) == expected


def test_the_paths_a_compose_build_and_watch_read() -> None:
    config: dict[str, Any] = {
        "services": {
            "app": {
                "build": {
                    "context": "/srv/app",
                    "dockerfile": "docker/Dockerfile",
                    "additional_contexts": {"extra": "/srv/extra", "base": "docker-image://alpine:3"},
                },
                "develop": {"watch": [{"action": "rebuild", "path": "/srv/app/src"}, {"action": "sync"}]},
            },
            "inline": {"build": {"context": "/srv/inline", "dockerfile_inline": "FROM scratch"}},
            "remote": {"build": {"context": "https://example.com/repo.git"}},
            "image": {"image": "busybox:1"},
        }
    }
    assert _build_reads(config) == [
        ("/srv/app", "service app: build context", False),
        ("/srv/app/docker/Dockerfile", "service app: Dockerfile", True),
        ("/srv/extra", "service app: additional context extra", False),
        ("/srv/inline", "service inline: build context", False),
    ]
    assert _watched_paths(config) == [("app", "/srv/app/src")]


def test_swarm_services_are_writers_of_what_their_tasks_mount() -> None:
    services: list[dict[str, Any]] = [
        {
            "ID": "x1",
            "Spec": {
                "Name": "web",
                "TaskTemplate": {
                    "ContainerSpec": {
                        "Mounts": [
                            {"Type": "bind", "Source": "/srv/app", "Target": "/a"},
                            {"Type": "bind", "Source": "/srv/ro", "Target": "/r", "ReadOnly": True},
                            {"Type": "volume", "Source": "data", "Target": "/d"},
                        ]
                    }
                },
            },
        },
        {"ID": "x2", "Spec": {"TaskTemplate": {"ContainerSpec": {}}}},
    ]
    assert service_binds(services, {"data": BIND}) == (
        ("/srv/app", True, "service web"),
        ("/srv/ro", False, "service web"),
        ("/srv/app/data", True, "service web"),
    )

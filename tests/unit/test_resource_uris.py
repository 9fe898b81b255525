"""The docker:// URI scheme (pure), and the event feed's pure parts: parsing an engine event,
dropping what a ``since`` reconnect replays, and noticing what changed across a reconnect."""

from __future__ import annotations

import time

import pytest
from mcp.shared.uri_template import UriTemplate

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.engine._events_sync import parse_event
from mcp_docker_server.engine.events import ContainerEvent, EventFeed, _changed
from mcp_docker_server.resources.uris import Target, event_matches, parse, template, uri

ID = "4f2a" + "0" * 60


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("docker://engine/info", Target("engine")),
        ("docker://engine/info?engine=remote", Target("engine", engine="remote")),
        ("docker://containers/web/inspect", Target("container", "web", "inspect")),
        ("docker://containers/web/logs?tail=20", Target("container", "web", "logs", tail=20)),
        ("docker://containers/web/stats?engine=b", Target("container", "web", "stats", engine="b")),
        ("docker://images/reg.io:5000/team/app:1.2", Target("image", "reg.io:5000/team/app:1.2")),
        ("docker://images/app@sha256:abc", Target("image", "app@sha256:abc")),
        ("docker://images/busybox%3Alocal", Target("image", "busybox:local")),
        ("docker://networks/front", Target("network", "front")),
        ("docker://volumes/data?engine=x", Target("volume", "data", engine="x")),
        ("docker://compose/shop", Target("compose", "shop")),
    ],
)
def test_parse_reads_every_kind_of_uri(text: str, expected: Target) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "file:///etc/passwd",
        "docker://containers/web",  # no view
        "docker://containers/web/top",  # unknown view
        "docker://containers//logs",
        "docker://containers/web/logs?tail=0",
        "docker://containers/web/logs?tail=1001",
        "docker://containers/web/logs?tail=x",
        "docker://containers/web/inspect?tail=5",  # tail only on logs
        "docker://containers/web/logs?tail=1&tail=2",
        "docker://networks/a/b",
        "docker://secrets/x",
        "docker://engine/info?color=red",
        "docker://engine/other",
        "docker://volumes/v#frag",
    ],
)
def test_parse_refuses_what_is_not_ours(text: str) -> None:
    assert parse(text) is None


@pytest.mark.parametrize(
    "target",
    [
        Target("container", "web-1", "logs", "remote"),
        Target("image", "reg.io:5000/team/app:1.2"),
        Target("network", "my net"),
        Target("compose", "shop", engine="a b"),
        Target("engine", engine="local"),
    ],
)
def test_uri_and_parse_are_inverses(target: Target) -> None:
    assert parse(uri(target.kind, target.name, target.view, target.engine)) == target


def test_templates_publish_engine_only_with_several_engines() -> None:
    assert (
        template("container", "logs", several_engines=False) == "docker://containers/{container}/logs{?tail}"
    )
    assert (
        template("container", "inspect", several_engines=False) == "docker://containers/{container}/inspect"
    )
    assert template("image", several_engines=True) == "docker://images/{+image}{?engine}"
    assert template("compose", several_engines=True) == "docker://compose/{project}{?engine}"
    assert template("volume", several_engines=False) == "docker://volumes/{volume}"


def test_templates_match_the_uris_the_scheme_builds() -> None:
    """The SDK's own RFC 6570 matcher finds in a built URI what parse finds."""
    for kind, name, view in (
        ("container", "web", "logs"),
        ("image", "reg.io:5000/a/b:1", ""),
        ("compose", "s", ""),
    ):
        built = uri(kind, name, view, "remote")  # type: ignore[arg-type]
        matched = UriTemplate.parse(template(kind, view, several_engines=True)).match(built)  # type: ignore[arg-type]
        assert matched is not None
        assert name in matched.values()
        assert matched["engine"] == "remote"


def test_events_match_a_container_by_name_id_or_id_prefix_only() -> None:
    assert event_matches(Target("container", "web", "inspect"), ID, "web", None)
    assert event_matches(Target("container", ID, "logs"), ID, "other", None)
    assert event_matches(Target("container", "4f2a", "stats"), ID, "other", None)
    assert not event_matches(Target("container", "4f2b", "stats"), ID, "other", None)
    # A name that happens to look like the start of an id is a name, not a prefix.
    assert not event_matches(Target("container", "4f2a-app", "inspect"), ID, "other", None)
    assert not event_matches(Target("container", "web", "inspect"), ID, "web2", None)


def test_events_match_a_compose_project_by_its_label() -> None:
    assert event_matches(Target("compose", "shop"), ID, "shop-web-1", "shop")
    assert not event_matches(Target("compose", "shop"), ID, "shop-web-1", None)
    assert not event_matches(Target("compose", "shop"), ID, "x", "shop2")
    assert not event_matches(Target("image", "busybox"), ID, "x", None)


def test_parse_event_keeps_lifecycle_events_and_reads_health() -> None:
    raw = {
        "Type": "container",
        "Action": "health_status: unhealthy",
        "Actor": {"ID": ID, "Attributes": {"name": "web\x1b[31m", "com.docker.compose.project": "shop"}},
        "timeNano": 1_700_000_000_123_456_789,
    }
    event = parse_event(raw)
    assert event == ContainerEvent(ID, "web", "unhealthy", "shop", 1_700_000_000_123_456_789)
    assert parse_event({**raw, "Action": "exec_start: sh"}) is None
    assert parse_event({**raw, "Type": "network", "Action": "connect"}) is None


def feed() -> EventFeed:
    return EventFeed(load_settings({"DOCKER_HOST": "unix:///var/run/docker.sock"}).engine, None)


def test_a_reconnect_since_the_last_event_drops_only_the_replayed_ones() -> None:
    f = feed()
    t = f._last_nano + 10
    first = ContainerEvent(ID, "web", "die", None, t)
    same_instant = ContainerEvent(ID, "web", "stop", None, t)
    assert not f._duplicate(first)
    assert not f._duplicate(same_instant)
    # `since` is inclusive: the engine sends both again after a reconnect, and older ones too.
    assert f._duplicate(first)
    assert f._duplicate(same_instant)
    assert f._duplicate(ContainerEvent(ID, "web", "start", None, t - 1))
    assert not f._duplicate(ContainerEvent(ID, "web", "start", None, t + 1))
    assert f._duplicate(ContainerEvent(ID, "web", "start", None, t + 1))


def test_the_first_stream_starts_a_moment_before_the_subscription() -> None:
    """A change made while the first stream opens is replayed; older history is not."""
    f = feed()
    now = time.time_ns()
    assert not f._duplicate(ContainerEvent(ID, "web", "start", None, now - 500_000_000))
    assert f._duplicate(ContainerEvent(ID, "web", "start", None, now - 60_000_000_000))


def test_only_what_was_watched_before_and_changed_counts_as_changed() -> None:
    before = {"c:web": "a:running", "c:db": "b:running", "p:shop": "x"}
    after = {"c:web": "a:exited", "c:db": "b:running", "p:shop": "y", "c:new": "n:running"}
    assert sorted(_changed(before, after)) == ["c:web", "p:shop"]

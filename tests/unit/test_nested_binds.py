"""Nested writable binds (policy/paths.py check_not_container_writable, and the container judge):
a path inside a folder a container can write may be swapped for a link before it is read."""

from __future__ import annotations

import pytest

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import Policy, check_not_container_writable, lexical_resolver
from mcp_docker_server.policy.admission import ContainerDescription, judge_container

POLICY = Policy()


def desc(
    *binds: str, others: tuple[tuple[str, bool, str], ...] = (), watched: tuple[tuple[str, str], ...] = ()
) -> ContainerDescription:
    return ContainerDescription(
        name="new",
        config={"Image": "busybox:1"},
        host_config={"Binds": list(binds)},
        other_binds=others,
        watched=watched,
    )


@pytest.mark.parametrize(
    ("path", "folder", "inside_only", "refused"),
    [
        ("/srv/app/data", "/srv/app", True, True),
        ("/srv/app", "/srv/app", True, False),  # the same folder: the container cannot replace it
        ("/srv/app", "/srv/app", False, True),  # a watched folder: a link made in it is followed
        ("/srv/application", "/srv/app", True, False),  # a sibling that shares a prefix
        ("/srv", "/srv/app", True, False),
        ("/anything", "/", True, True),
    ],
)
def test_the_rule(path: str, folder: str, inside_only: bool, refused: bool) -> None:
    def check(policy: Policy) -> None:
        check_not_container_writable(
            policy, path, [(folder, "writer")], purpose="bind source", inside_only=inside_only
        )

    if refused:
        with pytest.raises(PolicyDenied) as caught:
            check(POLICY)
        assert caught.value.rule == "nested-bind"
        assert caught.value.setting == "allow_nested_binds = true"
        assert "container writer can write" in caught.value.reason
        check(Policy(allow_nested_binds=True))
    else:
        check(POLICY)


def test_a_bind_inside_another_containers_writable_bind_is_refused() -> None:
    with pytest.raises(PolicyDenied, match="lies in /srv/app, which container web can write"):
        judge_container(
            POLICY, desc("/srv/app/pgdata:/data", others=(("/srv/app", True, "web"),)), lexical_resolver
        )


def test_a_bind_inside_a_read_only_bind_or_beside_it_is_admitted() -> None:
    judge_container(
        POLICY, desc("/srv/app/pgdata:/data", others=(("/srv/app", False, "web"),)), lexical_resolver
    )
    judge_container(POLICY, desc("/srv/app:/app", others=(("/srv/app", True, "web"),)), lexical_resolver)
    judge_container(POLICY, desc("/srv/data:/data", others=(("/srv/app", True, "web"),)), lexical_resolver)


def test_a_writable_bind_around_another_containers_bind_is_refused() -> None:
    with pytest.raises(PolicyDenied, match="container db's bind source /srv/app/pgdata lies in /srv/app"):
        judge_container(
            POLICY, desc("/srv/app:/app", others=(("/srv/app/pgdata", False, "db"),)), lexical_resolver
        )
    judge_container(
        POLICY, desc("/srv/app:/app:ro", others=(("/srv/app/pgdata", True, "db"),)), lexical_resolver
    )


def test_a_container_cannot_nest_its_own_binds() -> None:
    with pytest.raises(PolicyDenied, match="which container itself can write"):
        judge_container(POLICY, desc("/srv/app:/app", "/srv/app/data:/data"), lexical_resolver)
    judge_container(POLICY, desc("/srv/app:/app:ro", "/srv/app/data:/data"), lexical_resolver)


@pytest.mark.parametrize("bind", ["/srv/app/src:/w", "/srv/app:/w", "/srv/app/src/lib:/w"])
def test_a_writable_bind_overlapping_a_watched_folder_is_refused(bind: str) -> None:
    with pytest.raises(PolicyDenied) as caught:
        judge_container(POLICY, desc(bind, watched=(("/srv/app/src", "shop"),)), lexical_resolver)
    assert caught.value.rule == "nested-bind"
    judge_container(POLICY, desc(bind + ":ro", watched=(("/srv/app/src", "shop"),)), lexical_resolver)

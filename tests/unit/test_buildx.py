"""BuildKit pieces that are pure: the rawjson stream read into steps and failures, the argv of
a build, and the build-options policy shared by build-image and Compose."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from mcp_docker_server.buildx import SolveState, build_argv
from mcp_docker_server.errors import InvalidArgument, PolicyDenied
from mcp_docker_server.policy import Policy
from mcp_docker_server.policy.builds import (
    check_build_network,
    check_build_ssh,
    check_secret_env,
    judge_cache,
    parse_cache,
)
from mcp_docker_server.policy.paths import lexical_resolver
from mcp_docker_server.specs.dockerfile import frontend_image
from mcp_docker_server.specs.images import BuildSecret, BuildSpec


def line(**status: Any) -> str:
    return json.dumps(status)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def vertex(digest: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"digest": digest, "name": name, **extra}


T = "2026-11-29T22:30:55.344459263Z"


def test_steps_cached_steps_and_progress_follow_the_graph() -> None:
    solve = SolveState()
    assert solve.feed(line(vertexes=[vertex("a", "[internal] load build definition from Dockerfile")]))
    solve.feed(
        line(
            vertexes=[
                vertex("b", "[1/3] FROM docker.io/library/busybox:local", started=T, completed=T, cached=True)
            ]
        )
    )
    solve.feed(line(vertexes=[vertex("c", "[2/3] RUN echo a", started=T, completed=T, cached=True)]))
    solve.feed(line(vertexes=[vertex("d", "[3/3] COPY . /app", started=T)]))
    solve.feed(line(statuses=[{"id": "x", "vertex": "d", "current": 1_500_000, "total": 3_000_000}]))
    done, total, message = solve.progress()
    assert (done, total) == (2, 4)
    assert message == "[3/3] COPY . /app (1.5MB/3.0MB); 1 cached"
    assert next(v.name for v in solve.steps).startswith("[1/3] FROM")
    assert len(solve.steps) == 3
    assert solve.cached_steps == 1  # the FROM is resolved, not built


def test_stage_names_count_as_steps() -> None:
    solve = SolveState()
    solve.feed(line(vertexes=[vertex("a", "[base 2/4] RUN x", started=T, completed=T)]))
    solve.feed(line(vertexes=[vertex("b", "exporting to image", started=T)]))
    assert [v.name for v in solve.steps] == ["[base 2/4] RUN x"]


def test_a_failure_names_the_step_its_error_and_its_output() -> None:
    solve = SolveState()
    solve.feed(line(vertexes=[vertex("f", "[2/2] RUN exit 3", started=T)]))
    solve.feed(line(logs=[{"vertex": "f", "stream": 1, "data": b64("before\n")}]))
    solve.feed(line(logs=[{"vertex": "f", "stream": 2, "data": b64("oops\n")}]))
    solve.feed(line(vertexes=[vertex("f", "[2/2] RUN exit 3", started=T, completed=T, error="exit code: 3")]))
    solve.feed("ERROR: failed to build: failed to solve: exit code: 3")
    failed, words = solve.failure()
    assert failed is not None
    assert failed.name == "[2/2] RUN exit 3"
    assert failed.log.text() == "before\noops\n"
    assert words == "failed to build: failed to solve: exit code: 3"
    assert solve.output.text() == "before\noops\n"


def test_cancelled_vertices_are_not_the_failure() -> None:
    solve = SolveState()
    solve.feed(line(vertexes=[vertex("a", "[2/3] RUN sleep 9", error="context canceled: context canceled")]))
    assert solve.failure() == (None, "buildx failed without saying why")


def test_warnings_and_junk_lines() -> None:
    solve = SolveState()
    warning = {
        "vertex": "a",
        "level": 1,
        "short": b64("FromAsCasing: 'as' and 'FROM' keywords' casing do not match"),
    }
    solve.feed(line(warnings=[warning, warning]))
    assert solve.warnings == ["FromAsCasing: 'as' and 'FROM' keywords' casing do not match"]
    assert not solve.feed("#1 [internal] not json")
    assert not solve.feed("")
    assert not solve.feed("[1, 2]")
    assert solve.said == ["#1 [internal] not json", "[1, 2]"]
    assert solve.failure() == (None, "[1, 2]")


def test_logs_of_a_step_keep_the_newest_bytes() -> None:
    solve = SolveState()
    solve.feed(line(vertexes=[vertex("a", "[1/1] RUN noisy", started=T)]))
    for i in range(2000):
        solve.feed(line(logs=[{"vertex": "a", "stream": 1, "data": b64(f"line {i}\n")}]))
    text = solve.vertexes["a"].log.text()
    assert text.endswith("line 1999\n")
    assert len(text) <= 8 * 1024 + 100


def test_argv_carries_every_option_and_ends_options_before_the_context(tmp_path: Path) -> None:
    spec = BuildSpec(
        path="/srv/-app",
        tag="app:1",
        dockerfile="/srv/-app/Dockerfile.dev",
        build_args={"A": "1"},
        labels={"team": "x"},
        target="final",
        no_cache=True,
        pull=True,
        platform="linux/amd64",
        secrets=(BuildSecret("npm", "file", "/srv/-app/.npmrc.ci"), BuildSecret("tok", "env", "TOKEN")),
        ssh=True,
        cache_from=("type=local,src=/srv/cache",),
        cache_to=("type=inline",),
        network="host",
        load=False,
    )
    argv = build_argv(spec, tmp_path / "iid")
    assert argv[:4] == ["docker", "buildx", "build", "--progress=rawjson"]
    assert argv[-2:] == ["--", "/srv/-app"]
    joined = " ".join(argv)
    for part in (
        "--tag app:1", "--file /srv/-app/Dockerfile.dev", "--build-arg A=1", "--label team=x",
        "--target final", "--no-cache", "--pull", "--platform linux/amd64",
        "--secret id=npm,src=/srv/-app/.npmrc.ci", "--secret id=tok,env=TOKEN", "--ssh default",
        "--network host --allow network.host", "--cache-from type=local,src=/srv/cache",
        "--cache-to type=inline", "--output type=cacheonly",
    ):  # fmt: skip
        assert part in joined, part
    assert "--load" not in argv


def test_argv_loads_by_default_and_grants_nothing(tmp_path: Path) -> None:
    argv = build_argv(BuildSpec(path="/srv/app", tag="app:1"), tmp_path / "iid")
    assert "--load" in argv
    assert not {"--allow", "--ssh", "--secret", "--network"} & set(argv)


def test_ssh_and_host_network_need_the_operator() -> None:
    with pytest.raises(PolicyDenied) as caught:
        check_build_ssh(Policy(), "build-image")
    assert caught.value.setting == "allow_build_ssh = true"
    check_build_ssh(Policy(allow_build_ssh=True), "build-image")
    with pytest.raises(PolicyDenied) as caught:
        check_build_network(Policy(), "HOST", "build-image")
    assert caught.value.setting == "allow_build_host_network = true"
    assert check_build_network(Policy(allow_build_host_network=True), "host", "x") == "host"
    assert check_build_network(Policy(), "default", "x") is None
    assert check_build_network(Policy(), None, "x") is None
    assert check_build_network(Policy(), "none", "x") == "none"
    with pytest.raises(InvalidArgument):
        check_build_network(Policy(), "bridge0", "x")


@pytest.mark.parametrize("variable", ["REGISTRY_PASSWORD", "MCP_DOCKER_HTTP_TOKEN"])
def test_the_servers_own_secrets_never_go_into_a_build(variable: str) -> None:
    with pytest.raises(PolicyDenied, match="never goes into a build"):
        check_secret_env(Policy(secret_env_allowlist=(variable,)), variable, "secret x")


def test_server_variables_need_the_allowlist() -> None:
    with pytest.raises(PolicyDenied) as caught:
        check_secret_env(Policy(), "NPM_TOKEN", "secret npm")
    assert caught.value.setting == 'secret_env_allowlist = ["NPM_TOKEN"]'
    check_secret_env(Policy(secret_env_allowlist=("NPM_TOKEN",)), "NPM_TOKEN", "secret npm")


@pytest.mark.parametrize(
    ("entry", "kind", "attrs"),
    [
        ("user/app:cache", "registry", (("ref", "user/app:cache"),)),
        ("type=local,src=/srv/c", "local", (("src", "/srv/c"),)),
        ("SRC=/srv/c, TYPE=Local", "local", (("src", "/srv/c"),)),
        ('"type=local","dest=/srv/a,b"', "local", (("dest", "/srv/a,b"),)),
        ("type=inline", "inline", ()),
    ],
)
def test_cache_entries_parse_like_buildx(entry: str, kind: str, attrs: tuple[tuple[str, str], ...]) -> None:
    parsed = parse_cache(entry, "cache_from")
    assert (parsed.type, parsed.attrs) == (kind, attrs)
    assert parse_cache(parsed.render(), "x") == parsed


@pytest.mark.parametrize(
    ("entry", "rule"),
    [
        ("type=gha", "build-cache"),
        ("type=s3,bucket=b", "build-cache"),
        ("type=local,dest=/etc/x", "sensitive-bind"),
    ],
)
def test_cache_entries_are_judged(entry: str, rule: str) -> None:
    with pytest.raises(PolicyDenied) as caught:
        judge_cache(Policy(), [entry], lexical_resolver, "cache_to", export=True)
    assert caught.value.rule == rule
    assert caught.value.reason.startswith("cache_to: ")


def test_a_judged_cache_carries_the_resolved_folder() -> None:
    judged = judge_cache(Policy(), ["type=local,src=/srv/./cache/"], lexical_resolver, "c", export=False)
    assert judged[0].render() == "type=local,src=/srv/cache"


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        ("# syntax=docker/dockerfile:1\nFROM a\n", None, "docker/dockerfile:1"),
        ("#escape=`\n# SYNTAX = x/y:2\nFROM a\n", None, "x/y:2"),
        ("FROM a\n# syntax=late/ignored\n", None, None),
        ("FROM a\n", {"BUILDKIT_SYNTAX": "from/arg:1"}, "from/arg:1"),
        ("FROM a\n", None, None),
    ],
)
def test_the_frontend_a_dockerfile_asks_for(
    text: str, args: dict[str, str] | None, expected: str | None
) -> None:
    assert frontend_image(text, args) == expected

"""Compose, as `docker compose config --format json` renders it, judged key by key (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from mcp_docker_server.errors import PolicyDenied
from mcp_docker_server.policy import PathInfo, PathResolver, Policy, lexical_resolver
from mcp_docker_server.policy.compose import (
    HARMLESS_SERVICE_KEYS,
    REFUSED_SERVICE_KEYS,
    judge_compose_config,
    pin_paths,
)

POLICY = Policy()
BIND_ETC = {"type": "none", "o": "bind", "device": "/etc"}


def fake_resolver(links: Mapping[str, str]) -> PathResolver:
    """Lexical resolution, except that each of ``links`` (a symlink) resolves to its target."""

    def resolve(path: str) -> PathInfo:
        real = lexical_resolver(path).real_path
        for link, target in links.items():
            if real == link or real.startswith(link + "/"):
                real = target + real[len(link) :]
        return PathInfo(real_path=real, is_socket=real.endswith(".sock"))

    return resolve


def project(web: Mapping[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A rendered project with one service, web (plus whatever ``web`` adds)."""
    return {"name": "proj", "services": {"web": {"image": "busybox:1.36", **(web or {})}}, **top}


def build(**keys: Any) -> dict[str, Any]:
    return project({"build": {"context": "/srv/app", "dockerfile": "Dockerfile", **keys}})


def admit(
    config: Mapping[str, Any],
    policy: Policy = POLICY,
    resolve: PathResolver = lexical_resolver,
    env_files: Mapping[str, list[str]] | None = None,
) -> None:
    judge_compose_config(policy, config, resolve, env_files=env_files)


def refused(
    config: Mapping[str, Any],
    policy: Policy = POLICY,
    resolve: PathResolver = lexical_resolver,
    env_files: Mapping[str, list[str]] | None = None,
) -> PolicyDenied:
    with pytest.raises(PolicyDenied) as caught:
        judge_compose_config(policy, config, resolve, env_files=env_files)
    return caught.value


def keys(*names: str) -> Policy:
    return Policy(allow_compose_keys=names)


def opened(name: str) -> str:
    return f'allow_compose_keys = ["{name}"]'


# --------------------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("provider", {"type": "model", "options": {"model": "ai/smollm2"}}),
        ("post_start", [{"command": ["sh", "-c", "id"], "user": "root", "privileged": True}]),
        ("pre_stop", [{"command": ["sh", "-c", "id"]}]),
        ("use_api_socket", True),
        ("models", {"llm": {}}),
        ("credential_spec", {"file": "spec.json"}),
    ],
)
def test_keys_that_act_outside_the_container_are_refused_naming_them(key: str, value: object) -> None:
    denial = refused(project({key: value}))
    assert denial.rule == "compose-key"
    assert denial.reason == f"service web: {key} {REFUSED_SERVICE_KEYS[key]}"
    assert denial.setting == opened(key)
    assert f"({opened(key)} in the policy file)" in str(denial)
    admit(project({key: value}), keys(key))


def test_opening_one_refused_key_does_not_open_another() -> None:
    denial = refused(project({"post_start": [], "pre_stop": [{"command": ["x"]}]}), keys("post_start"))
    assert denial.setting == opened("pre_stop")


def test_an_unknown_service_key_is_refused_naming_it() -> None:
    denial = refused(project({"brand_new": {"on": True}}))
    assert denial.rule == "compose-key"
    assert denial.reason == "service web: key 'brand_new' is not known to this server"
    assert denial.setting == opened("brand_new")
    admit(project({"brand_new": {"on": True}}), keys("brand_new"))


@pytest.mark.parametrize("key", ["models", "brand_new", "include"])
def test_an_unknown_top_level_key_is_refused_naming_it(key: str) -> None:
    denial = refused(project(**{key: {"x": {}}}))
    assert denial.rule == "compose-key"
    assert denial.reason == f"top-level key {key!r} is not known to this server"
    assert denial.setting == opened(key)
    admit(project(**{key: {"x": {}}}), keys(key))


def test_extensions_are_admitted_everywhere() -> None:
    config = project(
        {"x-owner": "team", "build": {"context": "/srv/app", "x-cache": {"a": 1}}},
        **{"x-common": {"restart": "always"}},
    )
    admit(config)


def test_known_top_level_keys_are_admitted() -> None:
    admit(
        project(
            version="3.9",
            networks={"default": {"name": "proj_default", "ipam": {}}},
            volumes={"data": {"name": "proj_data"}},
            secrets={"token": {"name": "proj_token", "file": "/srv/app/token"}},
            configs={"conf": {"name": "proj_conf", "content": "a=1"}},
        )
    )


# A value for each harmless key, as `docker compose config --format json` renders it.
JUDGED_VALUES: dict[str, Any] = {
    "build": {"context": "/srv/app", "dockerfile": "Dockerfile"},
    "configs": [{"source": "conf", "target": "/etc/app.conf"}],
    "secrets": [{"source": "token", "target": "/run/secrets/token"}],
    "volumes": [
        {"type": "bind", "source": "/srv/app/data", "target": "/data", "bind": {"create_host_path": True}},
        {"type": "volume", "source": "data", "target": "/var/lib/data", "volume": {}},
        {"type": "tmpfs", "target": "/run"},
    ],
    "env_file": [{"path": "/srv/app/.env", "required": True}],
    "label_file": ["/srv/app/labels"],
}


@pytest.mark.parametrize("key", sorted(HARMLESS_SERVICE_KEYS))
def test_every_harmless_service_key_is_admitted(key: str) -> None:
    admit(project({key: JUDGED_VALUES.get(key, "x")}))


def test_no_key_is_both_harmless_and_refused() -> None:
    assert not HARMLESS_SERVICE_KEYS & set(REFUSED_SERVICE_KEYS)


# --------------------------------------------------------------------------- build


@pytest.mark.parametrize(
    ("key", "value"),
    [("privileged", True), ("entitlements", ["network.host", "security.insecure"])],
)
def test_build_keys_that_hand_out_the_host_are_refused(key: str, value: object) -> None:
    denial = refused(build(**{key: value}))
    assert denial.rule == "compose-key"
    assert denial.reason.startswith(f"service web: build.{key} ")
    assert denial.setting == opened(f"build.{key}")
    admit(build(**{key: value}), keys(f"build.{key}"))


def test_an_unknown_build_key_is_refused_naming_it() -> None:
    denial = refused(build(brand_new=1))
    assert denial.rule == "compose-key"
    assert denial.reason == "service web: build key 'brand_new' is not known here"
    assert denial.setting == opened("build.brand_new")


def test_build_ssh_is_refused_as_build_image_refuses_it() -> None:
    denial = refused(build(ssh=["default"]))
    assert denial.rule == "build-ssh"
    assert denial.reason.startswith("service web: build.ssh: ssh forwards this server's SSH agent")
    assert denial.setting == "allow_build_ssh = true"
    admit(build(ssh=["default"]), Policy(allow_build_ssh=True))
    admit(build(ssh=["default"]), keys("build.ssh"))  # the older, Compose-only way to open it


@pytest.mark.parametrize("network", ["host", "HOST"])
def test_build_network_host_is_refused(network: str) -> None:
    denial = refused(build(network=network))
    assert denial.rule == "build-network"
    assert "service web: build.network: network host runs build steps in the host's network" in denial.reason
    assert denial.setting == "allow_build_host_network = true"
    admit(build(network=network), Policy(allow_build_host_network=True))
    admit(build(network=network), keys("build.network"))


@pytest.mark.parametrize("network", ["default", "none"])
def test_other_build_networks_are_admitted(network: str) -> None:
    admit(build(network=network))


def test_a_build_context_of_etc_is_refused() -> None:
    denial = refused(project({"build": {"context": "/etc"}}))
    assert (denial.rule, denial.setting) == ("sensitive-bind", "allow_sensitive_binds = true")
    assert denial.reason.startswith("service web: build context ")
    assert "/etc" in denial.reason


def test_a_build_context_is_judged_by_the_path_it_resolves_to() -> None:
    resolve = fake_resolver({"/srv/innocent": "/etc"})
    denial = refused(project({"build": {"context": "/srv/innocent"}}), resolve=resolve)
    assert denial.rule == "sensitive-bind"
    assert "/srv/innocent (resolves to /etc)" in denial.reason


@pytest.mark.parametrize("dockerfile", ["../../etc/shadow", "/etc/shadow", "../../root/Dockerfile"])
def test_a_dockerfile_outside_the_context_in_a_sensitive_place_is_refused(dockerfile: str) -> None:
    denial = refused(build(dockerfile=dockerfile))
    assert denial.rule == "sensitive-bind"
    assert denial.reason.startswith("service web: Dockerfile ")


def test_an_inline_dockerfile_reads_no_file() -> None:
    admit(build(dockerfile="/etc/shadow", dockerfile_inline="FROM busybox"))


def test_additional_contexts_in_sensitive_places_are_refused() -> None:
    denial = refused(build(additional_contexts={"base": "/srv/base", "conf": "/etc"}))
    assert (denial.rule, denial.setting) == ("sensitive-bind", "allow_sensitive_binds = true")
    assert denial.reason.startswith("service web: build additional_contexts conf ")


@pytest.mark.parametrize(
    "cache",
    [
        "type=local,src=/etc",
        "type=local,dest=/etc/cron.d",
        "type=local, src=/root/.cache",
        # buildx reads the fields in any order, case-folds the keys and lets fields be quoted.
        "src=/etc,type=local",
        "TYPE=local,SRC=/etc",
        '"src=/etc",type=local',
        'type=local,"dest=/var/spool/cron"',
    ],
)
def test_local_build_caches_in_sensitive_places_are_refused(cache: str) -> None:
    for key in ("cache_from", "cache_to"):
        denial = refused(build(**{key: [cache]}))
        assert (denial.rule, denial.setting) == ("sensitive-bind", "allow_sensitive_binds = true")
        assert denial.reason.startswith(f"service web: build.{key}: build cache")


@pytest.mark.parametrize(
    "cache",
    [
        "user/app:cache",
        "type=registry,ref=registry.local/app:cache",
        "type=local,src=/srv/cache",
        "type=inline",
    ],
)
def test_other_build_caches_are_admitted(cache: str) -> None:
    admit(build(cache_from=[cache]))
    if cache.startswith(("type=local", "type=inline")):
        admit(build(cache_to=[cache]))


@pytest.mark.parametrize("cache", ["user/app:cache", "type=registry,ref=registry.local/app:cache"])
def test_a_registry_cache_export_is_a_push_and_is_refused(cache: str) -> None:
    denial = refused(build(cache_to=[cache]))
    assert denial.rule == "build-cache-push"
    assert "without asking" in denial.reason


@pytest.mark.parametrize("cache", ["type=gha", "type=s3,region=x,bucket=y", "TYPE=azblob,name=z", "type=new"])
def test_cache_backends_that_reach_outside_services_are_refused(cache: str) -> None:
    denial = refused(build(cache_to=[cache]))
    assert denial.rule == "build-cache"
    assert denial.reason.startswith("service web: build.cache_to: cache type ")


@pytest.mark.parametrize(
    "context",
    [
        "https://github.com/docker/buildx.git#main",
        "http://example.com/context.tar.gz",
        "git://example.com/repo.git",
        "git@github.com:docker/buildx.git",
        "ssh://git@example.com/repo.git",
    ],
)
def test_remote_build_contexts_are_admitted(context: str) -> None:
    admit(project({"build": {"context": context, "dockerfile": "../../etc/shadow"}}))


@pytest.mark.parametrize(
    "source",
    ["docker-image://alpine:3", "service:base", "target:deps", "https://github.com/a/b.git"],
)
def test_remote_additional_contexts_are_admitted(source: str) -> None:
    admit(build(additional_contexts={"base": source}))


def test_an_oci_layout_context_is_judged_by_its_folder() -> None:
    admit(build(additional_contexts={"base": "oci-layout:///srv/layouts/app:v1"}))
    for source in ("oci-layout:///var/lib/containerd@sha256:" + "ab" * 32, "oci-layout:///etc:tag"):
        denial = refused(build(additional_contexts={"base": source}))
        assert denial.rule == "sensitive-bind"
        assert denial.reason.startswith("service web: build additional_contexts base ")


# --------------------------------------------------------------------------- files the project reads


@pytest.mark.parametrize("kind", ["secrets", "configs"])
def test_secret_and_config_files_in_sensitive_places_are_refused(kind: str) -> None:
    denial = refused(project(**{kind: {"db": {"name": "proj_db", "file": "/etc/shadow"}}}))
    assert (denial.rule, denial.setting) == ("sensitive-bind", "allow_sensitive_binds = true")
    assert denial.reason.startswith(f"{kind} db: file ")
    assert "/etc/shadow" in denial.reason


@pytest.mark.parametrize("kind", ["secrets", "configs"])
def test_secret_and_config_content_environment_and_external_are_admitted(kind: str) -> None:
    entries = {
        "a": {"name": "proj_a", "content": "x"},
        "b": {"name": "proj_b", "environment": "TOKEN"},
        "c": {"name": "proj_c", "file": "/srv/app/c.txt"},
        "d": {"name": "shared", "external": True, "file": "/etc/shadow"},
    }
    admit(project(**{kind: entries}), Policy(secret_env_allowlist=("TOKEN",)))


@pytest.mark.parametrize("kind", ["secrets", "configs"])
@pytest.mark.parametrize("variable", ["HOME", "AWS_SECRET_ACCESS_KEY", "REGISTRY_PASSWORD"])
def test_secrets_from_server_variables_need_the_allowlist(kind: str, variable: str) -> None:
    """Compose reads `environment:` secrets from its own environment: this server's."""
    entries = {"b": {"name": "proj_b", "environment": variable}}
    denial = refused(project(**{kind: entries}))
    assert denial.rule == "secret-env"
    assert denial.reason.startswith(f"{kind} b: ")
    if variable == "REGISTRY_PASSWORD":  # the server's own secret: never, whatever the list says
        refused(project(**{kind: entries}), Policy(secret_env_allowlist=(variable,)))
    else:
        assert denial.setting == f'secret_env_allowlist = ["{variable}"]'
        admit(project(**{kind: entries}), Policy(secret_env_allowlist=(variable,)))


def test_env_files_of_the_unrendered_project_are_judged() -> None:
    denial = refused(project(), env_files={"web": ["/srv/app/.env", "/etc/shadow"]})
    assert (denial.rule, denial.setting) == ("sensitive-bind", "allow_sensitive_binds = true")
    assert denial.reason.startswith("service web: env_file ")
    admit(project(), env_files={"web": ["/srv/app/.env"]})


@pytest.mark.parametrize(
    "value",
    ["/etc/shadow", ["/srv/app/.env", "/etc/shadow"], [{"path": "/etc/shadow", "required": False}]],
)
@pytest.mark.parametrize("key", ["env_file", "label_file"])
def test_env_and_label_files_in_sensitive_places_are_refused(key: str, value: object) -> None:
    denial = refused(project({key: value}))
    assert denial.rule == "sensitive-bind"
    assert denial.reason.startswith(f"service web: {key} ")


@pytest.mark.parametrize(
    "config",
    [
        project({"volumes": [{"type": "bind", "source": "/srv/$DIR", "target": "/x"}]}),
        project({"build": {"context": "/srv/${APP}"}}),
        project(secrets={"s": {"file": "/srv/$SECRET"}}),
    ],
)
def test_a_path_still_naming_a_variable_is_refused(config: dict[str, Any]) -> None:
    denial = refused(config)
    assert denial.rule == "host-path"
    assert "still names a variable" in denial.reason
    assert denial.setting is None


def test_service_bind_sources_are_judged_by_the_path_they_resolve_to() -> None:
    bind = {"type": "bind", "source": "/srv/innocent/x", "target": "/x"}
    denial = refused(project({"volumes": [bind]}), resolve=fake_resolver({"/srv/innocent": "/etc"}))
    assert (denial.rule, denial.setting) == ("sensitive-bind", "allow_sensitive_binds = true")
    assert denial.reason.startswith("service web: bind ")
    assert "resolves to /etc/x" in denial.reason


def test_a_service_bind_of_the_docker_socket_is_refused() -> None:
    bind = {"type": "bind", "source": "/srv/app/docker.sock", "target": "/var/run/docker.sock"}
    denial = refused(project({"volumes": [bind]}))
    assert (denial.rule, denial.setting) == ("socket-bind", "allow_socket_binds = true")


# --------------------------------------------------------------------------- volumes and networks


def test_a_volume_whose_driver_options_bind_etc_is_refused() -> None:
    denial = refused(project(volumes={"data": {"name": "proj_data", "driver_opts": BIND_ETC}}))
    assert (denial.rule, denial.setting) == ("sensitive-bind", "allow_sensitive_binds = true")
    assert denial.reason.startswith("volume data: ")
    assert "bind device /etc" in denial.reason


def test_volumes_are_judged_by_their_driver_and_options() -> None:
    tmpfs = {"type": "tmpfs", "device": "tmpfs", "o": "size=64m"}
    admit(project(volumes={"a": {"name": "proj_a"}, "b": {"driver_opts": tmpfs}, "c": None}))
    admit(project(volumes={"ext": {"external": True, "driver_opts": BIND_ETC}}))
    folder = {"type": "none", "o": "bind", "device": "/srv/data"}
    denial = refused(project(volumes={"data": {"driver_opts": folder}}))
    assert (denial.rule, denial.setting) == ("volume-mount", "allow_volume_mounts = true")
    admit(project(volumes={"data": {"driver_opts": folder}}), Policy(allow_volume_mounts=True))
    denial = refused(project(volumes={"remote": {"driver": "sshfs"}}))
    assert (denial.rule, denial.setting) == ("volume-driver", "allowed_volume_drivers")


@pytest.mark.parametrize("driver", ["macvlan", "ipvlan", "host", "some-plugin"])
def test_network_drivers_reaching_host_networks_are_refused(driver: str) -> None:
    config = project(
        networks={"lan": {"name": "proj_lan", "driver": driver, "driver_opts": {"parent": "eth0"}}}
    )
    denial = refused(config)
    if driver == "host":
        assert (denial.rule, denial.setting) == ("host-network", "allow_host_namespaces = true")
        return
    assert (denial.rule, denial.setting) == ("network-driver", f'allowed_network_drivers = ["{driver}"]')
    assert "network 'proj_lan' uses the driver" in denial.reason
    denial = refused(config, Policy(allowed_network_drivers=(driver,)))
    assert (denial.rule, denial.setting) == ("network-option", 'allow_network_options = ["parent"]')
    admit(config, Policy(allowed_network_drivers=(driver,), allow_network_options=("parent",)))


@pytest.mark.parametrize("driver", [None, "", "bridge", "overlay"])
def test_bridge_and_overlay_networks_are_admitted(driver: str | None) -> None:
    admit(project(networks={"default": {"name": "proj_default", "driver": driver}, "empty": None}))


def test_an_external_network_is_not_judged_here() -> None:
    admit(project(networks={"lan": {"name": "lan", "external": True, "driver": "macvlan"}}))


# --------------------------------------------------------------------------- pin_paths


def test_pin_paths_replaces_every_host_path_by_its_resolved_path() -> None:
    resolve = fake_resolver({"/srv/link": "/data/real"})
    config = project(
        {
            "volumes": [
                {"type": "bind", "source": "/srv/link/in", "target": "/in"},
                {"type": "volume", "source": "data", "target": "/data"},
                {"type": "tmpfs", "target": "/run"},
            ],
            "build": {
                "context": "/srv/link/app",
                "dockerfile": "Dockerfile",
                "additional_contexts": {
                    "base": "/srv/link/base",
                    "img": "docker-image://alpine:3",
                    "svc": "service:base",
                    "git": "https://github.com/a/b.git",
                },
            },
        },
        secrets={"s": {"file": "/srv/link/secret"}, "e": {"environment": "TOKEN"}},
        configs={"c": {"file": "/srv/link/conf"}, "x": {"external": True, "name": "shared"}},
        volumes={"data": {"name": "proj_data"}},
    )
    pinned = pin_paths(config, resolve)
    web = pinned["services"]["web"]
    assert web["volumes"] == [
        {"type": "bind", "source": "/data/real/in", "target": "/in"},
        {"type": "volume", "source": "data", "target": "/data"},
        {"type": "tmpfs", "target": "/run"},
    ]
    assert web["build"] == {
        "context": "/data/real/app",
        "dockerfile": "Dockerfile",
        "additional_contexts": {
            "base": "/data/real/base",
            "img": "docker-image://alpine:3",
            "svc": "service:base",
            "git": "https://github.com/a/b.git",
        },
    }
    assert pinned["secrets"] == {"s": {"file": "/data/real/secret"}, "e": {"environment": "TOKEN"}}
    assert pinned["configs"] == {"c": {"file": "/data/real/conf"}, "x": {"external": True, "name": "shared"}}
    assert pinned["volumes"] == {"data": {"name": "proj_data"}}
    assert pinned["name"] == "proj"
    # The input is left as it was: the caller may still need the paths as written.
    assert config["services"]["web"]["build"]["context"] == "/srv/link/app"
    assert config["secrets"]["s"]["file"] == "/srv/link/secret"


@pytest.mark.parametrize("context", ["https://github.com/docker/buildx.git#main", "git@github.com:a/b.git"])
def test_pin_paths_leaves_remote_contexts_alone(context: str) -> None:
    def never(path: str) -> PathInfo:
        raise AssertionError(f"resolved {path}")

    config = project({"build": {"context": context}})
    assert pin_paths(config, never) == config


def test_pin_paths_of_a_project_without_paths_changes_nothing() -> None:
    config = project({"environment": {"A": "1"}}, networks={"default": {"name": "proj_default"}})
    assert pin_paths(config, lexical_resolver) == config


def test_what_pin_paths_gives_passes_the_same_judgement() -> None:
    resolve = fake_resolver({"/srv/link": "/etc"})
    config = project({"volumes": [{"type": "bind", "source": "/srv/link", "target": "/x"}]})
    assert refused(config, resolve=resolve).rule == "sensitive-bind"
    pinned = pin_paths(config, resolve)
    assert pinned["services"]["web"]["volumes"][0]["source"] == "/etc"
    assert refused(pinned).rule == "sensitive-bind"

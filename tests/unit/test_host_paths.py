"""The host path rule, volume driver options and the build context, pure or on a temporary
folder: no engine involved."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from mcp_docker_server.config.settings import load_settings
from mcp_docker_server.engine import Engine
from mcp_docker_server.engine.build_context import (
    PatternMatcher,
    looks_secret,
    plan_context,
    read_dockerignore,
    write_context,
)
from mcp_docker_server.errors import InvalidArgument, PolicyDenied
from mcp_docker_server.policy import (
    Policy,
    admit_container,
    admit_volume,
    check_bind_source,
    check_host_path,
    check_volume_options,
    lexical_resolver,
    load_policy,
)
from mcp_docker_server.specs.containers import ContainerSpec, MountSpec
from mcp_docker_server.specs.volumes import VolumeSpec, tmpfs_only, volume_host_paths
from mcp_docker_server.state import AppState, local_resolver

POLICY = Policy()


def refusal(path: str, policy: Policy = POLICY, purpose: str = "build context") -> PolicyDenied:
    with pytest.raises(PolicyDenied) as caught:
        check_host_path(policy, path, local_resolver, purpose=purpose)
    return caught.value


# --------------------------------------------------------------------------- the path rule


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("/etc", "sensitive-bind"),
        ("/etc/shadow", "sensitive-bind"),
        ("/var/spool/cron", "sensitive-bind"),
        ("/var/spool/cron/crontabs/root", "sensitive-bind"),
        ("/etc/cron.d", "sensitive-bind"),
        ("/var/spool/at", "sensitive-bind"),
        ("/lib/systemd/system", "sensitive-bind"),
        ("/usr/lib/systemd/system", "sensitive-bind"),
        ("/var/lib/systemd", "sensitive-bind"),
        ("/var", "sensitive-bind"),  # contains /var/lib/docker and the crontabs
        ("/home", "home-folder"),
        ("/home/alice", "home-folder"),
        ("/home/alice/", "home-folder"),
        ("/home/alice/.bashrc", "startup-file"),
        ("/home/alice/.profile", "startup-file"),
        ("/home/alice/.zshrc", "startup-file"),
        ("/home/alice/.config/autostart/evil.desktop", "startup-file"),
        ("/home/alice/.config/systemd/user", "startup-file"),
        ("/home/alice/.local/bin", "startup-file"),
        ("/home/alice/.ssh", "credential-bind"),
        ("/home/alice/.netrc", "credential-bind"),
        ("/home/alice/.git-credentials", "credential-bind"),
        ("/srv/backup/.aws/credentials", "credential-bind"),
        ("/HOME/Alice/.SSH", "credential-bind"),
        ("/root/.bashrc", "sensitive-bind"),
    ],
)
def test_host_paths_that_hand_out_the_host_are_refused(path: str, rule: str) -> None:
    denied = refusal(path)
    assert denied.rule == rule
    assert "build context" in str(denied)
    assert denied.setting == "allow_sensitive_binds = true"


def test_project_folders_in_a_home_pass_and_the_resolved_path_is_returned(tmp_path: Path) -> None:
    assert (
        check_host_path(POLICY, "/home/alice/project", lexical_resolver, purpose="x") == "/home/alice/project"
    )
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    got = check_host_path(POLICY, str(tmp_path / "link"), local_resolver, purpose="build context")
    assert got == str((tmp_path / "real").resolve())


def test_both_the_written_path_and_its_target_are_judged(tmp_path: Path) -> None:
    (tmp_path / "etc-link").symlink_to("/etc")
    denied = refusal(str(tmp_path / "etc-link"))
    assert denied.rule == "sensitive-bind"
    assert "resolves to /etc" in str(denied)
    # Written as a sensitive path, resolving elsewhere (a resolver that says so): still refused.
    elsewhere = Policy()
    with pytest.raises(PolicyDenied) as caught:
        check_host_path(
            elsewhere,
            "/etc/../etc/cron.d",
            lambda p: lexical_resolver("/srv/cron-copy"),
            purpose="bind source",
        )
    assert caught.value.rule == "sensitive-bind"


def test_the_purpose_and_the_path_are_named_in_the_refusal() -> None:
    text = str(refusal("/etc/passwd", purpose="Dockerfile"))
    assert "Dockerfile /etc/passwd" in text
    assert "allow_sensitive_binds = true" in text


def test_credential_dirs_from_a_policy_file_keep_working_whatever_their_case() -> None:
    # The loader upper-cases frozenset keys: the rule compares folded on both sides.
    shouted = Policy(credential_dirs=frozenset({".SSH", ".Config/GH"}))
    assert refusal("/srv/u/.ssh/id_rsa", shouted).rule == "credential-bind"
    assert refusal("/srv/u/.config/gh/hosts.yml", shouted).rule == "credential-bind"


def test_the_servers_own_files_are_protected_with_the_folders_holding_them(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "policy.toml"
    policy = Policy(protected_paths=(str(config),))
    for path in (config, config.parent, tmp_path):
        denied = refusal(str(path), policy)
        assert denied.rule == "server-file"
        assert str(config) in str(denied)
    check_host_path(policy, str(tmp_path / "other"), local_resolver, purpose="bind source")


def test_the_engines_data_root_is_protected() -> None:
    policy = Policy(engine_data_root="/srv/docker-data")
    for path in ("/srv/docker-data", "/srv/docker-data/volumes/x/_data", "/srv"):
        assert refusal(path, policy).rule == "engine-data-root"
    check_host_path(policy, "/srv/project", lexical_resolver, purpose="bind source")


def test_allowed_roots_confine_build_contexts_too(tmp_path: Path) -> None:
    confined = Policy(allowed_bind_roots=(str(tmp_path),))
    check_host_path(confined, str(tmp_path / "app"), local_resolver, purpose="build context")
    denied = refusal("/srv/app", confined)
    assert denied.rule == "bind-root"
    assert denied.setting == "allowed_bind_roots"
    # A link inside the root that leads out of it is judged by where it leads.
    (tmp_path / "out").symlink_to("/srv")
    assert refusal(str(tmp_path / "out"), confined).rule == "bind-root"


def test_allow_sensitive_binds_opens_the_sensitive_lists_only() -> None:
    opened = Policy(allow_sensitive_binds=True, protected_paths=("/srv/conf",))
    for path in ("/etc", "/home/alice/.bashrc", "/srv/conf/policy.toml", "/var/spool/cron"):
        check_host_path(opened, path, lexical_resolver, purpose="bind source")
    assert refusal("/var/run/docker.sock", opened).rule == "socket-bind"


def test_check_bind_source_is_the_rule_for_bind_sources() -> None:
    with pytest.raises(PolicyDenied) as caught:
        check_bind_source(POLICY, "/var/spool/cron", lexical_resolver)
    assert "bind source /var/spool/cron" in str(caught.value)


def test_bind_sources_reach_the_engine_resolved(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data-link").symlink_to(tmp_path / "data")
    spec = ContainerSpec(image="b", mounts=(MountSpec("bind", str(tmp_path / "data-link"), "/d"),))
    admitted = admit_container(POLICY, spec, local_resolver).unwrap()
    assert admitted.mounts[0].source == str((tmp_path / "data").resolve())


def test_settings_name_the_servers_own_files_and_the_policy_protects_them(tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text("read_only = false\n")
    token = tmp_path / "token"
    token.write_text("s3cret-token-value\n")
    settings = load_settings(
        {
            "DOCKER_HOST": "unix:///var/run/docker.sock",
            "MCP_DOCKER_POLICY_FILE": str(policy_file),
            "MCP_DOCKER_HTTP_TOKEN_FILE": str(token),
            "MCP_DOCKER_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
            "DOCKER_CONFIG": str(tmp_path / "dockercfg"),
        }
    )
    assert {str(policy_file), str(token), str(tmp_path / "audit.jsonl"), str(tmp_path / "dockercfg")} <= set(
        settings.own_files
    )
    state = AppState(settings=settings, engine=Engine(settings.engine), policy=settings.policy)
    assert refusal(str(token), state.policy, "bind source").rule == "server-file"


# --------------------------------------------------------------------------- volume options


@pytest.mark.parametrize(
    ("options", "plain"),
    [
        ({"type": "tmpfs", "device": "tmpfs"}, True),
        ({"type": "tmpfs", "device": "tmpfs", "o": "size=64m,mode=1777,uid=1000,noexec"}, True),
        ({"type": "TMPFS", "device": "tmpfs", "o": " size=1g , nosuid"}, True),
        ({"type": "tmpfs", "device": "/etc", "o": "size=1m"}, False),  # a device path
        ({"type": "tmpfs", "device": "/etc", "o": "bind"}, False),  # MS_BIND ignores the type
        ({"type": "tmpfs", "device": "tmpfs", "o": "remount"}, False),
        ({"type": "tmpfs", "device": "tmpfs", "o": "rshared"}, False),
        ({"type": "tmpfs", "device": "tmpfs", "o": "suid,dev"}, False),
        ({"type": "tmpfs", "device": "tmpfs", "extra": "x"}, False),
        ({"type": "overlay", "device": "overlay", "o": "lowerdir=/etc,upperdir=/u,workdir=/w"}, False),
        ({"type": "ext4", "device": "/dev/sda1"}, False),
        ({"type": "nfs", "o": "addr=10.0.0.1,rw", "device": ":/export"}, False),
        ({"type": "none", "o": "bind", "device": "/srv"}, False),
    ],
)
def test_only_a_plain_tmpfs_counts_as_mounting_nothing(options: dict[str, str], plain: bool) -> None:
    assert tmpfs_only(options) is plain


def test_the_folders_volume_options_mount_are_found() -> None:
    overlay = {"type": "overlay", "device": "overlay", "o": "lowerdir=/etc:/usr,upperdir=/u,workdir=/w"}
    assert volume_host_paths(overlay) == [
        ("/etc", "overlay lowerdir"),
        ("/usr", "overlay lowerdir"),
        ("/u", "overlay upperdir"),
        ("/w", "overlay workdir"),
    ]
    assert volume_host_paths({"type": "none", "o": "rbind", "device": "/srv"}) == [("/srv", "bind device")]
    assert volume_host_paths({"o": "BIND"}) == [("/", "bind device")]


def volume_rule(options: dict[str, str], policy: Policy = POLICY, driver: str = "local") -> str:
    with pytest.raises(PolicyDenied) as caught:
        admit_volume(policy, VolumeSpec("v", driver=driver, driver_opts=options), local_resolver)
    return caught.value.rule


def test_local_volumes_that_mount_something_need_the_operators_key(tmp_path: Path) -> None:
    mounts = [
        {
            "type": "overlay",
            "device": "overlay",
            "o": f"lowerdir={tmp_path},upperdir={tmp_path}/u,workdir=/w",
        },
        {"type": "ext4", "device": "/dev/sda1"},
        {"type": "nfs", "o": "addr=10.0.0.1", "device": ":/export"},
        {"type": "cifs", "o": "username=u,password=p", "device": "//host/share"},
        {"type": "none", "o": "bind", "device": str(tmp_path)},
        {"type": "btrfs", "device": "/dev/sdb"},
    ]
    allowed = Policy(allow_volume_mounts=True)
    for options in mounts:
        assert volume_rule(options) == "volume-mount"
        admit_volume(allowed, VolumeSpec("v", driver_opts=options), local_resolver)
    for plain in ({}, {"type": "tmpfs", "device": "tmpfs", "o": "size=10m"}):
        admit_volume(POLICY, VolumeSpec("v", driver_opts=plain), local_resolver)


def test_folders_a_volume_mounts_pass_the_path_rule_even_when_mounts_are_allowed() -> None:
    allowed = Policy(allow_volume_mounts=True)
    overlay = {"type": "overlay", "device": "overlay", "o": "lowerdir=/etc,upperdir=/srv/u,workdir=/srv/w"}
    assert volume_rule(overlay, allowed) == "sensitive-bind"
    assert (
        volume_rule({"type": "none", "o": "bind", "device": "/var/spool/cron"}, allowed) == "sensitive-bind"
    )
    assert volume_rule({"type": "tmpfs", "o": "bind", "device": "/etc"}) == "sensitive-bind"


def test_plugin_volume_drivers_are_refused_unless_named() -> None:
    with pytest.raises(PolicyDenied) as caught:
        admit_volume(POLICY, VolumeSpec("v", driver="rexray/ebs"), local_resolver)
    assert caught.value.rule == "volume-driver"
    assert "'rexray/ebs'" in str(caught.value)
    assert caught.value.setting == "allowed_volume_drivers"
    admit_volume(
        Policy(allowed_volume_drivers=("rexray/ebs",)), VolumeSpec("v", driver="rexray/ebs"), local_resolver
    )


def test_existing_volumes_mounted_by_a_container_are_judged_by_their_options() -> None:
    spec = ContainerSpec(image="b", mounts=(MountSpec("volume", "made-elsewhere", "/x"),))
    overlay = {"type": "overlay", "device": "overlay", "o": "lowerdir=/srv/a,upperdir=/srv/u,workdir=/srv/w"}
    with pytest.raises(PolicyDenied) as caught:
        admit_container(POLICY, spec, lexical_resolver, {"made-elsewhere": overlay})
    assert caught.value.rule == "volume-mount"
    assert "existing volume made-elsewhere" in str(caught.value)
    admit_container(POLICY, spec, lexical_resolver, {"made-elsewhere": {}})


def test_check_volume_options_names_what_it_judges() -> None:
    with pytest.raises(PolicyDenied) as caught:
        check_volume_options(
            POLICY, "volume data", "local", {"type": "ext4", "device": "/dev/sdz"}, lexical_resolver
        )
    assert "volume data has driver options (device=/dev/sdz, type=ext4)" in str(caught.value)
    assert "allow_volume_mounts = true" in str(caught.value)


# --------------------------------------------------------------------------- .dockerignore


def test_dockerignore_is_read_as_the_docker_cli_reads_it() -> None:
    text = "\ufeffsecret.txt\n# a comment\n  \n #not-a-comment\n! keep.txt \n/abs/path\n./a/../b//c/\n"
    assert read_dockerignore(text) == ["secret.txt", "#not-a-comment", "!keep.txt", "abs/path", "b/c"]
    # The mark counts only at the very start.
    assert read_dockerignore("a\n\ufeffb\n") == ["a", "\ufeffb"]


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        (["secret.txt"], "secret.txt", True),
        (["secret.txt"], "Secret.TXT", False),  # case-sensitive, as on Linux
        (["secret.txt"], "sub/secret.txt", False),
        (["**/secret.txt"], "sub/deep/secret.txt", True),
        (["**/secret.txt"], "secret.txt", True),
        (["**/node_modules"], "a/b/node_modules/x/y.js", True),
        (["docs/**"], "docs/a/b.md", True),
        (["*.log", "!keep.log"], "keep.log", False),
        (["*.log", "!keep.log"], "drop.log", True),
        (["*.log"], "sub/x.log", False),
        (["build", "!build/out"], "build/out/app", False),
        (["build", "!build/out"], "build/tmp/x", True),
        (["!build/out", "build"], "build/out/app", True),  # the last matching pattern wins
        (["a?c"], "abc", True),
        (["a?c"], "a/c", False),
        (["[ab].txt"], "b.txt", True),
        (["file.(1)"], "file.(1)", True),
        (["file.(1)"], "fileX(1)", False),
    ],
)
def test_patterns_match_as_in_docker_build(patterns: list[str], path: str, excluded: bool) -> None:
    assert PatternMatcher(patterns).matches(path) is excluded


def test_a_broken_pattern_is_named() -> None:
    with pytest.raises(InvalidArgument, match="pattern"):
        PatternMatcher(["[unclosed"])


# --------------------------------------------------------------------------- the context


def project(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (root / "app.py").write_text("print('hi')\n")
    (root / "big.bin").write_bytes(b"x" * 5000)
    (root / "sub").mkdir()
    (root / "sub" / "mid.bin").write_bytes(b"y" * 300)
    return root


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        (".env", True),
        ("config/.env.production", True),
        (".env.example", False),
        ("certs/server.key", True),
        ("tls/server.pem", True),
        ("id_rsa", True),
        ("id_ed25519", True),
        ("id_rsa.pub", False),
        ("home/.aws/credentials", True),
        (".ssh/config", True),
        (".ssh/known_hosts", False),
        ("secret.txt", True),
        ("secrets.yaml", True),
        ("secrets.py", False),
        ("service-account-prod.json", True),
        ("terraform.tfstate", True),
        ("src/main.py", False),
        ("README.md", False),
    ],
)
def test_secret_looking_files_are_recognised_by_name(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_pem_files_are_secrets_when_they_hold_a_private_key(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    (tmp_path / "tls.pem").write_text("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n")
    assert not looks_secret("ca.pem", tmp_path / "ca.pem")
    assert looks_secret("tls.pem", tmp_path / "tls.pem")


def test_package_manager_files_are_secrets_when_they_hold_a_token(tmp_path: Path) -> None:
    (tmp_path / ".npmrc").write_text("//registry.npmjs.org/:_authToken=npm_abc123\n")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / ".npmrc").write_text("save-exact=true\n")
    assert looks_secret(".npmrc", tmp_path / ".npmrc")
    assert not looks_secret("plain/.npmrc", tmp_path / "plain" / ".npmrc")


def test_the_plan_counts_sizes_and_names_the_largest_and_the_secrets(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".env").write_text("PASSWORD=x\n")
    (root / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    plan = plan_context(root, root / "Dockerfile")
    assert plan.files == 6
    assert plan.largest[0] == ("big.bin", 5000)
    assert plan.largest[1] == ("sub/mid.bin", 300)
    assert plan.secrets == (".env", "id_rsa")
    (root / ".dockerignore").write_text(".env\nid_rsa\n")
    assert plan_context(root, root / "Dockerfile").secrets == ()


def test_the_dockerfile_and_dockerignore_are_always_sent(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / ".dockerignore").write_text("*\n")
    assert plan_context(root, root / "Dockerfile").entries == (".dockerignore", "Dockerfile")


def test_links_are_sent_as_links_and_never_walked(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "loot.txt").write_text("OUTSIDE-CANARY")
    root = project(tmp_path / "ctx")
    (root / "leak").symlink_to(outside / "loot.txt")
    (root / "dirleak").symlink_to(outside)
    plan = plan_context(root, root / "Dockerfile")
    assert "leak" in plan.entries
    assert "dirleak" in plan.entries
    assert not any(e.startswith("dirleak/") for e in plan.entries)
    assert plan.links == 2
    with write_context(plan) as tar_file, tarfile.open(fileobj=tar_file) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["leak"].issym()
        assert members["leak"].linkname == str(outside / "loot.txt")
        assert members["dirleak"].issym()
        body = b"".join((tar.extractfile(m) or io.BytesIO()).read() for m in tar.getmembers() if m.isfile())
    assert b"OUTSIDE-CANARY" not in body


def test_the_tar_holds_exactly_the_plan(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "secret.txt").write_text("TOP-SECRET")
    (root / ".dockerignore").write_bytes("\ufeffsecret.txt\n".encode())
    plan = plan_context(root, root / "Dockerfile")
    with write_context(plan) as tar_file, tarfile.open(fileobj=tar_file) as tar:
        assert sorted(tar.getnames()) == sorted(plan.entries)
        assert "secret.txt" not in tar.getnames()
        big = tar.extractfile("big.bin")
        assert big is not None
        assert len(big.read()) == 5000


def test_a_dockerfile_outside_the_context_travels_under_a_generated_name(tmp_path: Path) -> None:
    root = project(tmp_path / "ctx")
    elsewhere = tmp_path / "Dockerfile.ci"
    elsewhere.write_text("FROM scratch\n")
    (root / ".dockerignore").write_text("*.bin\n")
    plan = plan_context(root, elsewhere)
    assert plan.dockerfile_outside
    assert plan.dockerfile_in_tar.startswith(".dockerfile.")
    with write_context(plan) as tar_file, tarfile.open(fileobj=tar_file) as tar:
        dockerfile = tar.extractfile(plan.dockerfile_in_tar)
        ignore = tar.extractfile(".dockerignore")
        assert dockerfile is not None
        assert dockerfile.read() == b"FROM scratch\n"
        assert ignore is not None
        assert ignore.read().decode().split() == ["*.bin", plan.dockerfile_in_tar, ".dockerignore"]


def test_a_file_swapped_for_a_link_after_the_walk_is_not_read_through(tmp_path: Path) -> None:
    root = project(tmp_path / "ctx")
    (tmp_path / "loot").write_text("OUTSIDE-CANARY")
    plan = plan_context(root, root / "Dockerfile")
    os.remove(root / "app.py")
    (root / "app.py").symlink_to(tmp_path / "loot")
    with write_context(plan) as tar_file, tarfile.open(fileobj=tar_file) as tar:
        member = tar.getmember("app.py")
        assert member.issym()


def test_a_bind_device_reaches_the_engine_resolved(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data-link").symlink_to(tmp_path / "data")
    options = {"type": "none", "o": "bind", "device": str(tmp_path / "data-link")}
    spec = VolumeSpec("v", driver_opts=options)
    admitted = admit_volume(Policy(allow_volume_mounts=True), spec, local_resolver).unwrap()
    assert admitted.driver_opts["device"] == str((tmp_path / "data").resolve())


def test_a_dockerignore_that_is_a_link_out_of_the_context_is_not_read(tmp_path: Path) -> None:
    root = project(tmp_path / "ctx")
    (tmp_path / "elsewhere").write_text("OUTSIDE-LINE\n")
    (root / ".dockerignore").symlink_to(tmp_path / "elsewhere")
    assert plan_context(root, root / "Dockerfile").patterns == ()
    (root / "rules").write_text("*.bin\n")
    (root / ".dockerignore").unlink()
    (root / ".dockerignore").symlink_to("rules")
    assert plan_context(root, root / "Dockerfile").patterns == ("*.bin",)


def test_the_new_keys_are_policy_file_keys(tmp_path: Path) -> None:
    file = tmp_path / "policy.toml"
    file.write_text(
        "allow_volume_mounts = true\n"
        'allowed_volume_drivers = ["vieux/sshfs"]\n'
        'protected_paths = ["/srv/keys"]\n'
    )
    policy = load_policy(str(file), {})
    assert policy.allow_volume_mounts is True
    assert policy.allowed_volume_drivers == ("vieux/sshfs",)
    assert refusal("/srv/keys/a.pem", policy).rule == "server-file"

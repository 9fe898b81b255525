"""The operator's policy and the proof that a request passed it.

Pure: no I/O. A :class:`Policy` comes from the operator's settings only; nothing a tool
receives can widen it. :class:`Admitted` wraps a request that the guard approved; the engine
layer refuses anything else, so a tool cannot reach the engine around the guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["DEFAULT_CAPABILITIES", "HOME_STARTUP_FILES", "Admitted", "PathInfo", "PathResolver", "Policy"]

T = TypeVar("T")

# Moby's default capability set (oci/caps/defaults.go): adding one of these back after a
# cap_drop grants nothing new, so they are the default allowlist for cap_add.
DEFAULT_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
        "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip

# Host paths whose bind mount hands the container the host: the path itself, anything under
# it, and (for the roots of these trees) any ancestor of it.
SENSITIVE_PATHS = (
    "/", "/etc", "/proc", "/sys", "/dev", "/boot", "/usr", "/lib", "/lib32", "/lib64",
    "/bin", "/sbin", "/var/run", "/run", "/var/lib/docker", "/var/lib/containerd", "/root",
    # Places whose contents the host runs: crontabs, at jobs, systemd's state, the kubelet.
    "/var/spool/cron", "/var/spool/anacron", "/var/spool/at", "/var/lib/systemd", "/var/lib/kubelet",
    # Daemons' state and packages' maintainer scripts (/var/lib), backups of /etc's secrets
    # (/var/backups keeps shadow.bak), logs, mail, and caches where root-run programs live.
    "/var/lib", "/var/backups", "/var/log", "/var/mail", "/var/cache",
)  # fmt: skip

# Folders and files that hold credentials, wherever they are (matched by path segments).
CREDENTIAL_DIRS = frozenset(
    {
        ".ssh", ".docker", ".kube", ".aws", ".gnupg", ".config/gcloud", ".azure", ".netrc",
        ".git-credentials", ".npmrc", ".pypirc", ".pgpass", ".password-store", ".vault-token",
        ".config/gh", ".terraform.d",
    }
)  # fmt: skip

# What a home folder (/home/<user>/...) runs at login or on use: writing one is running code as
# that user. /root is in SENSITIVE_PATHS whole.
HOME_STARTUP_FILES = (
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc", ".zshenv",
    ".zprofile", ".zlogin", ".zlogout", ".cshrc", ".tcshrc", ".login", ".kshrc", ".xprofile",
    ".xinitrc", ".xsession", ".pam_environment", ".gitconfig", ".config/git", ".config/fish",
    ".config/autostart", ".config/systemd", ".config/environment.d", ".local/bin",
)  # fmt: skip


@dataclass(frozen=True)
class PathInfo:
    """A host path as the engine's host would see it."""

    real_path: str
    is_socket: bool
    # A socket found inside a folder (a bind of the folder hands the socket over too).
    holds_socket: str | None = None
    # Why the path could not be resolved (permission, a loop): such a path is never admitted.
    error: str | None = None
    exists: bool = True


PathResolver = Callable[[str], PathInfo]


@dataclass(frozen=True)
class Policy:
    """What the operator allows. Defaults deny everything that gives a container the host.

    Every field is a key of the policy file (``MCP_DOCKER_POLICY_FILE``); denials name the key
    that would allow what was refused.
    """

    # Exposure: which tools exist and which of their actions may run.
    read_only: bool = False
    # With read_only: image-security may still contact registries (resolve-digest of an image not
    # here, verify, scan downloading its database). Off: a read-only server reads nothing remote.
    read_only_registry_reads: bool = False
    allow_tools: tuple[str, ...] = ()
    deny_tools: tuple[str, ...] = ()
    deny_actions: tuple[str, ...] = ()  # "tool:action" or "tool:*"
    # Confirmation of destructive actions: "elicit" asks the user through the client;
    # "client-approval" relies on the client's own approval of each tool call.
    confirm: str = "elicit"
    audit_log: str | None = None
    # What containers may do.
    allow_privileged: bool = False
    allow_host_namespaces: bool = False
    allow_devices: bool = False
    allow_unconfined: bool = False
    allow_root_exec: bool = True
    allow_sensitive_binds: bool = False
    allow_socket_binds: bool = False
    capability_allowlist: frozenset[str] = DEFAULT_CAPABILITIES
    sensitive_paths: tuple[str, ...] = SENSITIVE_PATHS
    credential_dirs: frozenset[str] = CREDENTIAL_DIRS
    # Empty: any host path that is not sensitive may be bound.
    allowed_bind_roots: tuple[str, ...] = field(default=())
    # Host paths no bind, volume, build or scan may expose, on top of sensitive_paths. The
    # server adds its own configuration (policy, engines and token files, TLS and registry
    # credentials, the audit log) at start-up; a policy file may add more.
    protected_paths: tuple[str, ...] = ()
    # The engine's data root as `docker info` reports it (DockerRootDir); filled in by the
    # server the first time it reaches the engine.
    engine_data_root: str | None = None
    # Volumes whose driver options mount something (a device, an overlay, NFS, a bind): refused
    # unless this is set (type tmpfs is always allowed; o=bind devices still pass the path rule).
    allow_volume_mounts: bool = False
    # Volume drivers other than "local" (plugins), allowed by name.
    allowed_volume_drivers: tuple[str, ...] = ()
    # Network drivers other than bridge, overlay and null (macvlan and ipvlan put containers on
    # a host interface's own link), allowed by name.
    allowed_network_drivers: tuple[str, ...] = ()
    # Network driver options outside the harmless set (com.docker.network.bridge.name adopts a
    # host bridge, parent picks a host interface), allowed by name.
    allow_network_options: tuple[str, ...] = ()
    # Empty: any image. Otherwise globs such as "127.0.0.1:5000/*" or "busybox:*".
    image_allowlist: tuple[str, ...] = ()
    # "key" or "key=value": the server acts only on resources carrying this label, and puts it
    # on everything it creates. None: every resource.
    label_scope: str | None = None
    # Swarm join tokens appear in results only when the operator says so.
    show_join_tokens: bool = False
    # Supply chain. require_digest: containers, compose services and swarm services may only
    # name images by digest (repo@sha256:...), so a moved tag cannot change what runs.
    # require_signature: each such image must pass `cosign verify` with cosign_key (a key file
    # or KMS URI) or with cosign_identity and cosign_issuer (keyless), before it runs.
    require_digest: bool = False
    require_signature: bool = False
    cosign_key: str | None = None
    cosign_identity: str | None = None
    cosign_issuer: str | None = None
    # A vulnerability database folder for trivy (its cache dir) or grype (its DB cache dir),
    # used offline: image-security scan then never downloads one.
    vulnerability_db: str | None = None
    # Containers this policy would not admit (made outside this server, or before the policy
    # changed) may still be exec'd into, started, restarted, unpaused or updated.
    allow_foreign_containers: bool = False
    # Container fields (as the Engine API names them, e.g. "HostConfig.Sysctls",
    # "HostConfig.Runtime") that are refused by default or unknown to this server, opened by name.
    allow_container_fields: tuple[str, ...] = ()
    # Compose keys refused by default (they run host programs, hand out the engine, or are
    # unknown to this server), opened by name, e.g. "post_start" or "provider".
    allow_compose_keys: tuple[str, ...] = ()
    # Builds (build-image and Compose builds, BuildKit): forwarding the server's SSH agent into
    # build steps, build steps on the host's network, and the server's environment variables a
    # build secret (or a Compose secret) may read, by name.
    # A bind (or watched folder, or secret file) inside a folder another bind lets a container
    # write: that container could swap part of it for a link before the engine reads it.
    allow_nested_binds: bool = False
    # Tools off by default that the operator turns on by name (dev-container: it runs a
    # third-party CLI on this host over a project's configuration).
    experimental_tools: tuple[str, ...] = ()
    allow_build_ssh: bool = False
    allow_build_host_network: bool = False
    secret_env_allowlist: tuple[str, ...] = ()
    # Injected into every container the server creates, unless the request sets them.
    no_new_privileges: bool = True
    default_memory_bytes: int | None = None
    default_nano_cpus: int | None = None
    default_pids_limit: int | None = None


_SEAL = object()


@dataclass(frozen=True)
class Admitted(Generic[T]):
    """A request the policy guard approved. Only :func:`admit` makes one."""

    request: T
    seal: object = field(repr=False, compare=False)

    def unwrap(self) -> T:
        """Return the approved request.

        Raises:
            RuntimeError: the object was not made by the guard (a programming error).
        """
        if self.seal is not _SEAL:
            raise RuntimeError("request did not pass the policy guard")
        return self.request


def admit(request: T) -> Admitted[T]:
    """Seal an approved request. Called only by the guard once every check passed."""
    return Admitted(request, _SEAL)

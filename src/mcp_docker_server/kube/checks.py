"""Offline checks of Kubernetes objects: the OpenAPI schema of a pinned Kubernetes version
(the kubernetes-validate package bundles the schemas; nothing is fetched), and the Pod
Security Standard level the pods meet (baseline and restricted, as the Kubernetes
documentation defines them, checked here as pure code).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = ["KUBERNETES_VERSION", "pod_security", "schema_errors"]

# The schema version the output is checked against (kubernetes-validate bundles it).
KUBERNETES_VERSION = "1.33"

Doc = Mapping[str, Any]

# Pod Security Standards (kubernetes.io/docs/concepts/security/pod-security-standards).
_BASELINE_CAPS = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
        "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)  # fmt: skip
_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
_POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def schema_errors(docs: Iterable[Doc], version: str = KUBERNETES_VERSION) -> list[str]:
    """Each object checked against the strict OpenAPI schema of Kubernetes ``version`` (unknown
    fields are errors too).

    Returns:
        ``Kind/name: path: message`` for each object that fails; empty when all pass.
    """
    # Imported here: it loads jsonschema's format grammars (a second or more), paid by the first
    # export, not by every server start.
    import kubernetes_validate

    errors: list[str] = []
    for doc in docs:
        where = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        try:
            kubernetes_validate.validate(dict(doc), version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path) or "(top)"
            errors.append(f"{where}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{where}: {exc.message}")
    return errors


def pod_security(docs: Iterable[Doc]) -> tuple[str, list[str]]:
    """The strictest Pod Security Standard level every pod in ``docs`` meets.

    Returns:
        (``restricted``, ``baseline`` or ``privileged``, the rules that keep it from the next
        level up, as ``Kind/name: rule``).
    """
    baseline: list[str] = []
    restricted: list[str] = []
    for where, pod in _pods(docs):
        baseline += [f"{where}: {why}" for why in _baseline(pod)]
        restricted += [f"{where}: {why}" for why in _restricted(pod)]
    if baseline:
        return "privileged", baseline
    if restricted:
        return "baseline", restricted
    return "restricted", []


def _pods(docs: Iterable[Doc]) -> Iterator[tuple[str, Doc]]:
    for doc in docs:
        kind = str(doc.get("kind") or "")
        where = f"{kind}/{(doc.get('metadata') or {}).get('name')}"
        spec = doc.get("spec") or {}
        if kind == "Pod":
            yield where, spec
        elif kind in _POD_KINDS:
            yield where, (spec.get("template") or {}).get("spec") or {}
        elif kind == "CronJob":
            job = (spec.get("jobTemplate") or {}).get("spec") or {}
            yield where, (job.get("template") or {}).get("spec") or {}


def _containers(pod: Doc) -> list[Doc]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers") for c in pod.get(key) or []]


def _baseline(pod: Doc) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            yield f"{key}: true"
    if any("hostPath" in v for v in pod.get("volumes") or []):
        yield "hostPath volume"
    pod_security: Doc = pod.get("securityContext") or {}
    yield from _context_baseline(pod_security)
    for sysctl in pod_security.get("sysctls") or []:
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            yield f"sysctl {sysctl.get('name')}"
    for container in _containers(pod):
        security: Doc = container.get("securityContext") or {}
        name = container.get("name")
        if security.get("privileged"):
            yield f"container {name}: privileged"
        extra = {
            str(c).upper() for c in (security.get("capabilities") or {}).get("add") or []
        } - _BASELINE_CAPS
        if extra:
            yield f"container {name}: adds capabilities {', '.join(sorted(extra))}"
        if any(p.get("hostPort") for p in container.get("ports") or []):
            yield f"container {name}: hostPort"
        if security.get("procMount") not in (None, "Default"):
            yield f"container {name}: procMount {security['procMount']}"
        yield from (f"container {name}: {why}" for why in _context_baseline(security))


def _context_baseline(security: Doc) -> Iterator[str]:
    if (security.get("seccompProfile") or {}).get("type") == "Unconfined":
        yield "seccompProfile Unconfined"
    if (security.get("appArmorProfile") or {}).get("type") == "Unconfined":
        yield "appArmorProfile Unconfined"
    selinux: Doc = security.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in _SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        yield "seLinuxOptions"
    if (security.get("windowsOptions") or {}).get("hostProcess"):
        yield "windowsOptions.hostProcess"


def _restricted(pod: Doc) -> Iterator[str]:
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= _RESTRICTED_VOLUMES:
            yield f"volume {volume.get('name')}: {', '.join(sorted(kinds))}"
    pod_security: Doc = pod.get("securityContext") or {}
    for container in _containers(pod):
        security: Doc = container.get("securityContext") or {}
        name = container.get("name")
        if security.get("allowPrivilegeEscalation") is not False:
            yield f"container {name}: allowPrivilegeEscalation is not false"
        non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
        if non_root is not True:
            yield f"container {name}: runAsNonRoot is not true"
        if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
            yield f"container {name}: runAsUser 0"
        seccomp = (security.get("seccompProfile") or pod_security.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"container {name}: no RuntimeDefault seccompProfile"
        capabilities: Doc = security.get("capabilities") or {}
        if "ALL" not in {str(c).upper() for c in capabilities.get("drop") or []}:
            yield f"container {name}: capabilities do not drop ALL"
        if {str(c).upper() for c in capabilities.get("add") or []} - {"NET_BIND_SERVICE"}:
            yield f"container {name}: adds capabilities other than NET_BIND_SERVICE"

"""A rendered Compose configuration to Kubernetes objects (plain dicts, apply-ready).

The input is Compose's own rendering (``docker compose config --format json``): services with
long-form ports and volumes, durations as Go strings, sizes in bytes. Containers and swarm
services are first put in that form (:mod:`mcp_docker_server.kube.sources`), so there is one
mapping. Whatever has no faithful Kubernetes form is returned as a :class:`Gap` (field, why,
what to do instead): nothing is dropped without saying so. Secret values never reach the
output: the objects reference Secrets, and the ``kubectl create`` commands that make them name
files or placeholders, not values.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mcp_docker_server.results.shaping import redact_secrets, secret_field

__all__ = ["Gap", "Manifests", "dns_name", "duration_seconds", "translate"]

Doc = dict[str, Any]

NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
SECRET_MOUNT_DIR = "/run/secrets"  # noqa: S105 - a folder, not a password
DEFAULT_CLAIM_SIZE = "1Gi"
_MI = 1024 * 1024
# Docker's healthcheck defaults (interval and timeout 30 s, 3 retries), written out because
# Kubernetes' own (10 s, 1 s) would change what the check means.
_DOCKER_PROBE_DEFAULTS = {"interval": 30.0, "timeout": 30.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_LABEL_KEY = re.compile(r"^(?:[a-z0-9.-]{1,253}/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")

# Fields read by the mapping below; any other set field becomes a Gap.
_TRANSLATED = frozenset(
    {
        "image", "command", "entrypoint", "environment", "working_dir", "user", "labels",
        "annotations", "ports", "expose", "volumes", "tmpfs", "healthcheck", "restart", "deploy",
        "cpus", "mem_limit", "mem_reservation", "read_only", "cap_add", "cap_drop",
        "security_opt", "secrets", "configs", "extra_hosts", "stop_grace_period", "hostname",
        "tty", "stdin_open", "sysctls", "group_add", "pull_policy", "platform", "scale",
        "networks", "network_mode", "env_file", "profiles",
    }
)  # fmt: skip
_DEPLOY_TRANSLATED = frozenset({"replicas", "resources", "restart_policy", "mode", "labels", "placement"})
_HOST_NAMESPACE = ("host namespaces break the baseline Pod Security Standard", "remove the need for them")
# Why a field has no faithful translation, and the usual Kubernetes way instead.
_GAPS: dict[str, tuple[str, str]] = {
    "build": (
        "a cluster runs images from a registry and builds nothing",
        "build and push the image, then set image",
    ),
    "depends_on": (
        "Kubernetes starts pods in no order",
        "readiness probes, or an initContainer that waits for the dependency",
    ),
    "devices": ("host devices need hostPath or a privileged pod", "a device plugin resource"),
    "privileged": (
        "a privileged pod passes only the privileged Pod Security Standard",
        "add only the capabilities it needs (cap_add)",
    ),
    "pid": _HOST_NAMESPACE,
    "ipc": _HOST_NAMESPACE,
    "uts": _HOST_NAMESPACE,
    "userns_mode": _HOST_NAMESPACE,
    "container_name": ("pods get generated names", "the Service name is the stable name"),
    "logging": ("logging belongs to the cluster", "a cluster log collector"),
    "ulimits": ("pods have no ulimits", "the container runtime's defaults on the nodes"),
    "pids_limit": ("the PID limit is a node setting", "kubelet podPidsLimit"),
    "init": ("pods have no init-process option", "tini in the image, or shareProcessNamespace"),
    "stop_signal": ("left to the image's STOPSIGNAL", "STOPSIGNAL in the image"),
    "dns": ("not translated", "spec.dnsConfig with dnsPolicy: None"),
    "dns_search": ("not translated", "spec.dnsConfig.searches"),
    "dns_opt": ("not translated", "spec.dnsConfig.options"),
    "links": ("Services replace links", "reach the other service by its Service name"),
}
_GENERIC_GAP = ("no Kubernetes equivalent in this exporter", "add it to the manifest by hand if needed")


@dataclass(frozen=True)
class Gap:
    """A field that was not translated: where, why, and the usual Kubernetes alternative."""

    service: str
    field: str
    why: str
    instead: str


@dataclass
class Manifests:
    """The objects (in apply order), what was not translated, and the commands that create
    the Secrets and ConfigMaps the objects reference (no values in them)."""

    docs: list[Doc] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def gap(self, service: str, name: str, why: str | None = None, instead: str | None = None) -> None:
        """Record an untranslated field (the reason from the table when not given)."""
        known = _GAPS.get(name.split(".")[0].split("[")[0], _GENERIC_GAP)
        self.gaps.append(Gap(service, name, why or known[0], instead or known[1]))


def translate(config: Mapping[str, Any], *, hide_env: bool = False) -> Manifests:
    """Kubernetes objects for a rendered Compose configuration. ``hide_env``: every
    environment value becomes a Secret reference with a ``<value>`` placeholder, as
    inspect-container hides an engine object's values (a value named harmlessly may still be
    a secret); otherwise only secret-looking ones do.

    Returns:
        Manifests: PersistentVolumeClaims and ConfigMaps first, then per service a Deployment
        (a StatefulSet when it mounts a named volume, a DaemonSet for ``mode: global``) and a
        Service when it publishes or exposes ports.
    """
    out = Manifests()
    project = str(config.get("name") or "")
    claims: dict[str, Doc] = {}
    configs: dict[str, Doc] = {}
    workloads: list[Doc] = []
    for name, service in sorted((config.get("services") or {}).items()):
        converted = _Service(str(name), service or {}, config, project, out, claims, configs)
        converted.hide_env = hide_env
        converted.translate(workloads)
    out.docs = [*claims.values(), *configs.values(), *workloads]
    return out


def dns_name(name: str) -> str:
    """``name`` as a Kubernetes object name (RFC 1123 label): lower case, ``-`` for anything
    else, at most 63 characters, starting with a letter."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = ("x-" + cleaned)[:63].strip("-")
    return cleaned


def duration_seconds(value: object) -> float | None:
    """A Compose duration (``1m30s``, ``500ms``, a number of seconds) in seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def _whole_seconds(value: float) -> int:
    return max(1, math.ceil(value))


def _cpu(value: object) -> str | None:
    try:
        cpus = float(str(value))
    except ValueError:
        return None
    if cpus <= 0:
        return None
    return str(int(cpus)) if cpus.is_integer() else f"{round(cpus * 1000)}m"


def _memory(value: object) -> str | None:
    try:
        size = int(str(value))
    except ValueError:
        return None
    if size <= 0:
        return None
    return f"{size // _MI}Mi" if size % _MI == 0 else str(size)


def _argv(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value] if isinstance(value, Sequence) else None


def _set(value: object) -> bool:
    return value not in (None, "", [], {}, False, 0)


class _Service:
    """One service's translation; gaps and shared objects go to the caller's collections."""

    def __init__(
        self,
        name: str,
        service: Mapping[str, Any],
        config: Mapping[str, Any],
        project: str,
        out: Manifests,
        claims: dict[str, Doc],
        configs: dict[str, Doc],
    ) -> None:
        self.name = name
        self.k8s = dns_name(name)
        self.svc = service
        self.config = config
        self.project = project
        self.out = out
        self.claims = claims
        self.configmaps = configs
        self.volumes: list[Doc] = []
        self.mounts: list[Doc] = []
        self.hide_env = False
        self.named_volume = False

    def gap(self, name: str, why: str | None = None, instead: str | None = None) -> None:
        self.out.gap(self.name, name, why, instead)

    def translate(self, workloads: list[Doc]) -> None:
        for key, value in self.svc.items():
            if key not in _TRANSLATED and _set(value):
                self.gap(key)
        self._network_gaps()
        container = self._container()
        pod = self._pod(container)
        workloads.append(self._workload(pod))
        if service := self._service():
            workloads.append(service)

    # -- the container -------------------------------------------------------------------

    def _container(self) -> Doc:
        svc = self.svc
        container: Doc = {"name": self.k8s, "image": str(svc.get("image") or "")}
        if not container["image"]:
            self.gap("image", "the service has no image (it is built)", "build and push it, then set image")
        if policy := self._pull_policy():
            container["imagePullPolicy"] = policy
        if entrypoint := self._argv("entrypoint"):
            container["command"] = entrypoint
        if command := self._argv("command"):
            container["args"] = command
        container |= self._process()
        if env := self._env():
            container["env"] = env
        if ports := self._container_ports():
            container["ports"] = ports
        if mounts := self._mounts():
            container["volumeMounts"] = mounts
        if resources := self._resources():
            container["resources"] = resources
        if probe := self._probe():
            container["livenessProbe"] = probe
            container["readinessProbe"] = probe
        if security := self._security():
            container["securityContext"] = security
        return container

    def _process(self) -> Doc:
        """Working folder and terminal."""
        svc = self.svc
        process: Doc = {"workingDir": str(svc["working_dir"])} if svc.get("working_dir") else {}
        for key, k8s_key in (("tty", "tty"), ("stdin_open", "stdin")):
            if svc.get(key):
                process[k8s_key] = True
        return process

    def _argv(self, key: str) -> list[str] | None:
        """The field's argv, secret-looking parts (``--password x``) replaced: a Secret
        passed as an environment variable is the way to give them."""
        argv = _argv(self.svc.get(key))
        if argv is None:
            return None
        redacted = [_redacted_arg(argv, i) for i in range(len(argv))]
        if redacted != argv:
            self.gap(key, "it holds a secret-looking value, replaced with [redacted]", "env from a Secret")
        return redacted

    def _pull_policy(self) -> str | None:
        policy = str(self.svc.get("pull_policy") or "")
        mapped = {
            "always": "Always",
            "never": "Never",
            "missing": "IfNotPresent",
            "if_not_present": "IfNotPresent",
        }
        if policy and policy not in mapped:
            self.gap("pull_policy", f"{policy!r} has no Kubernetes form", "imagePullPolicy")
        return mapped.get(policy)

    def _env(self) -> list[Doc]:
        env: list[Doc] = []
        hidden: list[str] = []
        for key, value in (self.svc.get("environment") or {}).items():
            if value is None:
                self.gap(f"environment.{key}", "it has no value in the rendered project", "give it a value")
                continue
            text = str(value)
            if self.hide_env or secret_field(key) or redact_secrets(f"{key}={text}") != f"{key}={text}":
                secret = f"{self.k8s}-env"
                env.append({"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
                hidden.append(key)
            else:
                env.append({"name": key, "value": text})
        if hidden:
            literals = " ".join(f"--from-literal={k}=<value>" for k in hidden)
            self.out.commands.append(f"kubectl create secret generic {self.k8s}-env {literals}")
        return env

    # -- ports ---------------------------------------------------------------------------

    def _port_rows(self) -> list[tuple[int, int, str]]:
        """(service port, container port, protocol) of every published or exposed port."""
        rows: list[tuple[int, int, str]] = []
        for index, port in enumerate(self.svc.get("ports") or []):
            target, protocol = int(port.get("target") or 0), str(port.get("protocol") or "tcp").upper()
            published = str(port.get("published") or "")
            if not published.isdigit() and published:
                self.gap(
                    f"ports[{index}]", f"a port range ({published}) has no Service form", "list the ports"
                )
                continue
            if (port.get("host_ip") or "") not in ("", "0.0.0.0", "::"):  # noqa: S104 - compared, not bound
                self.gap(
                    f"ports[{index}].host_ip",
                    f"a Service has no bind address ({port['host_ip']})",
                    "kubectl port-forward, or a NetworkPolicy",
                )
            rows.append((int(published) if published else target, target, protocol))
        if rows:
            self.gap(
                "ports",
                "Docker published them on the host; a ClusterIP Service is reachable inside the cluster",
                "type: LoadBalancer or NodePort, or an Ingress",
            )
        for exposed in self.svc.get("expose") or []:
            number, _, protocol = str(exposed).partition("/")
            if number.isdigit():
                rows.append((int(number), int(number), (protocol or "tcp").upper()))
            else:
                self.gap("expose", f"{exposed!r} is a range", "list the ports")
        return list(dict.fromkeys(rows))

    def _container_ports(self) -> list[Doc]:
        seen = dict.fromkeys((target, protocol) for _, target, protocol in self._port_rows())
        return [{"containerPort": t, "protocol": p} for t, p in seen if t]

    def _service(self) -> Doc | None:
        rows = [r for r in self._port_rows_quiet() if r[1]]
        if not rows:
            return None
        ports = [
            {"name": f"{p.lower()}-{port}", "port": port, "targetPort": target, "protocol": p}
            for port, target, p in rows
        ]
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": self.k8s, "labels": self._labels()},
            "spec": {"selector": {NAME_LABEL: self.k8s}, "ports": ports},
        }

    def _port_rows_quiet(self) -> list[tuple[int, int, str]]:
        """The port rows again, without recording their gaps twice."""
        before = len(self.out.gaps)
        rows = self._port_rows()
        del self.out.gaps[before:]
        return rows

    # -- volumes -------------------------------------------------------------------------

    def _mounts(self) -> list[Doc]:
        """Volumes, tmpfs, secrets and configs: the pod's volumes, and the container's mounts."""
        self._volumes()
        self._secret_files("secrets")
        self._secret_files("configs")
        return self.mounts

    def _volumes(self) -> None:
        for index, volume in enumerate(self.svc.get("volumes") or []):
            kind = str(volume.get("type") or "volume")
            target = str(volume.get("target") or "")
            mount: Doc = {"name": f"v{index}", "mountPath": target}
            if volume.get("read_only"):
                mount["readOnly"] = True
            if subpath := (volume.get("volume") or {}).get("subpath"):
                mount["subPath"] = str(subpath)
            source = self._volume_source(index, kind, volume)
            if source is None:
                continue
            self.volumes.append({"name": f"v{index}", **source})
            self.mounts.append(mount)
        for index, path in enumerate(self.svc.get("tmpfs") or []):
            target = str(path).split(":", 1)[0]
            self.volumes.append({"name": f"t{index}", "emptyDir": {"medium": "Memory"}})
            self.mounts.append({"name": f"t{index}", "mountPath": target})

    def _volume_source(self, index: int, kind: str, volume: Mapping[str, Any]) -> Doc | None:
        if kind == "volume" and volume.get("source"):
            return {"persistentVolumeClaim": {"claimName": self._claim(str(volume["source"]))}}
        if kind == "volume":  # anonymous: one per container, gone with it
            return {"emptyDir": {}}
        if kind == "tmpfs":
            size = (volume.get("tmpfs") or {}).get("size")
            return {"emptyDir": {"medium": "Memory", **({"sizeLimit": _memory(size)} if size else {})}}
        where = f"volumes[{index}]"
        if kind == "bind":
            self.gap(
                f"{where} {volume.get('source')}:{volume.get('target')}",
                "a host path breaks the baseline Pod Security Standard and ties the pod to one node",
                "a ConfigMap for files, a PersistentVolumeClaim for data",
            )
        else:
            self.gap(where, f"a {kind} mount has no Kubernetes form", "a PersistentVolumeClaim")
        return None

    def _claim(self, source: str) -> str:
        """The claim for named volume ``source`` (one per volume, shared like the volume)."""
        self.named_volume = True
        top = (self.config.get("volumes") or {}).get(source) or {}
        claim = dns_name(str(top.get("name") or source))
        if claim not in self.claims:
            self.claims[claim] = {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "labels": self._part_of()},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": DEFAULT_CLAIM_SIZE}},
                },
            }
            self.out.gap(
                f"volume {source}",
                "size",
                f"Compose volumes have no size; the claim asks {DEFAULT_CLAIM_SIZE}",
                "set spec.resources.requests.storage",
            )
            if top.get("driver") or top.get("driver_opts"):
                self.out.gap(f"volume {source}", "driver", "volume drivers are the nodes'", "a StorageClass")
        return claim

    def _secret_files(self, kind: str) -> None:
        """Secrets and configs as volumes of Secrets and ConfigMaps, one file each (subPath)."""
        tops = self.config.get(kind) or {}
        for item in self.svc.get(kind) or []:
            source = str(item.get("source") or "")
            top = tops.get(source) or {}
            obj = dns_name(str(top.get("name") or source))
            folder = SECRET_MOUNT_DIR if kind == "secrets" else ""
            target = str(item.get("target") or source)
            target = target if target.startswith("/") else f"{folder}/{target}"
            volume = f"{kind[0]}-{dns_name(source)}"[:63]
            if kind == "secrets":
                self.volumes.append({"name": volume, "secret": {"secretName": obj}})
            else:
                self.volumes.append({"name": volume, "configMap": {"name": obj}})
            self.mounts.append({"name": volume, "mountPath": target, "subPath": source, "readOnly": True})
            self._create_command(kind, obj, source, top)
            if item.get("uid") or item.get("gid"):
                self.gap(f"{kind}.{source}.uid", "files of a Secret volume have no owner", "fsGroup")

    def _create_command(self, kind: str, obj: str, key: str, top: Mapping[str, Any]) -> None:
        if kind == "configs" and top.get("content") is not None:
            if obj not in self.configmaps:
                self.configmaps[obj] = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": obj, "labels": self._part_of()},
                    "data": {key: str(top["content"])},
                }
            return
        what = "secret generic" if kind == "secrets" else "configmap"
        if top.get("file"):
            source = f"--from-file={key}={shlex.quote(str(top['file']))}"
        elif top.get("environment"):
            source = f'--from-literal={key}="${top["environment"]}"'
        else:
            source = f"--from-file={key}=<file>"
        command = f"kubectl create {what} {obj} {source}"
        if command not in self.out.commands:
            self.out.commands.append(command)

    # -- resources, probes, security -------------------------------------------------------

    def _resources(self) -> Doc:
        deploy = (self.svc.get("deploy") or {}).get("resources") or {}
        limits, reservations = deploy.get("limits") or {}, deploy.get("reservations") or {}
        out: Doc = {}
        limit = {
            "cpu": _cpu(limits.get("cpus") or self.svc.get("cpus") or 0),
            "memory": _memory(limits.get("memory") or self.svc.get("mem_limit") or 0),
        }
        request = {
            "cpu": _cpu(reservations.get("cpus") or 0),
            "memory": _memory(reservations.get("memory") or self.svc.get("mem_reservation") or 0),
        }
        if any(limit.values()):
            out["limits"] = {k: v for k, v in limit.items() if v}
        if any(request.values()):
            out["requests"] = {k: v for k, v in request.items() if v}
        for key in ("pids", "devices", "generic_resources"):
            if limits.get(key) or reservations.get(key):
                self.gap(f"deploy.resources.{key}", *_RESOURCE_GAPS[key])
        return out

    def _probe(self) -> Doc | None:
        check = self.svc.get("healthcheck") or {}
        test = check.get("test")
        if not check or check.get("disable") or not test or test[0] == "NONE":
            return None
        if isinstance(test, str):
            command = ["/bin/sh", "-c", test]
        elif test[0] == "CMD-SHELL":
            command = ["/bin/sh", "-c", " ".join(str(t) for t in test[1:])]
        else:
            command = [str(t) for t in test[1:]]
        probe: Doc = {"exec": {"command": command}}
        for key, k8s_key in (("interval", "periodSeconds"), ("timeout", "timeoutSeconds")):
            seconds = duration_seconds(check.get(key))
            probe[k8s_key] = _whole_seconds(seconds if seconds is not None else _DOCKER_PROBE_DEFAULTS[key])
        probe["failureThreshold"] = int(check.get("retries") or 3)
        if start := duration_seconds(check.get("start_period")):
            probe["initialDelaySeconds"] = math.ceil(start)
        if check.get("start_interval"):
            self.gap("healthcheck.start_interval", "probes have one period", "a startupProbe")
        return probe

    def _security(self) -> Doc:
        svc = self.svc
        security: Doc = {}
        uid, gid = self._user()
        if uid is not None:
            security["runAsUser"] = uid
            if uid != 0:
                security["runAsNonRoot"] = True
        if gid is not None:
            security["runAsGroup"] = gid
        if svc.get("read_only"):
            security["readOnlyRootFilesystem"] = True
        caps = {
            key: sorted({str(c).upper().removeprefix("CAP_") for c in svc.get(field) or []})
            for key, field in (("add", "cap_add"), ("drop", "cap_drop"))
        }
        if caps["add"] or caps["drop"]:
            security["capabilities"] = {k: v for k, v in caps.items() if v}
        for option in svc.get("security_opt") or []:
            self._security_option(str(option), security)
        return security

    def _user(self) -> tuple[int | None, int | None]:
        user = str(self.svc.get("user") or "")
        if not user:
            return None, None
        name, _, group = user.partition(":")
        if name == "root":
            name = "0"
        if not name.isdigit():
            self.gap(
                "user", f"Kubernetes needs a numeric user id, not {name!r}", "the user's uid from the image"
            )
            return None, None
        if group and not group.isdigit():
            self.gap("user", f"Kubernetes needs a numeric group id, not {group!r}", "the group's gid")
            group = ""
        return int(name), int(group) if group else None

    def _security_option(self, option: str, security: Doc) -> None:
        key, _, value = option.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges" and value in ("", "true"):
            security["allowPrivilegeEscalation"] = False
        elif key == "seccomp" and value == "unconfined":
            security["seccompProfile"] = {"type": "Unconfined"}
        elif key == "seccomp":
            self.gap("security_opt seccomp", "a seccomp file is the host's", "seccompProfile type Localhost")
        elif key == "apparmor":
            self.gap("security_opt apparmor", "not translated", "securityContext.appArmorProfile")
        elif key == "label":
            self.gap("security_opt label", "not translated", "securityContext.seLinuxOptions")
        elif key != "no-new-privileges":
            self.gap(f"security_opt {key}", *_GENERIC_GAP)

    # -- the pod and its workload ---------------------------------------------------------

    def _pod(self, container: Doc) -> Doc:
        svc = self.svc
        # Docker applies its default seccomp profile unless told otherwise: RuntimeDefault is
        # what the container had.
        security: Doc = {}
        if "seccompProfile" not in container.get("securityContext", {}):
            security["seccompProfile"] = {"type": "RuntimeDefault"}
        groups = [int(g) for g in svc.get("group_add") or [] if str(g).isdigit()]
        if groups:
            security["supplementalGroups"] = groups
        if len(groups) != len(svc.get("group_add") or []):
            self.gap("group_add", "Kubernetes needs numeric group ids", "the groups' gids")
        if sysctls := svc.get("sysctls"):
            security["sysctls"] = [{"name": str(k), "value": str(v)} for k, v in sysctls.items()]
        pod: Doc = {"restartPolicy": "Always", "containers": [container]}
        if security:
            pod["securityContext"] = security
        if self.volumes:
            pod["volumes"] = self.volumes
        if svc.get("hostname"):
            pod["hostname"] = dns_name(str(svc["hostname"]))
        if hosts := self._host_aliases():
            pod["hostAliases"] = hosts
        grace = duration_seconds(svc.get("stop_grace_period"))
        if grace is not None:
            pod["terminationGracePeriodSeconds"] = math.ceil(grace)
        if platform := str(svc.get("platform") or ""):
            os_name, _, arch = platform.partition("/")
            pod["nodeSelector"] = {
                "kubernetes.io/os": os_name,
                **({"kubernetes.io/arch": arch} if arch else {}),
            }
        self._restart()
        return pod

    def _host_aliases(self) -> list[Doc]:
        extra = self.svc.get("extra_hosts") or []
        pairs = extra.items() if isinstance(extra, Mapping) else (_host_pair(str(e)) for e in extra)
        by_ip: dict[str, list[str]] = {}
        for host, ip in pairs:
            for address in ip if isinstance(ip, list) else [ip]:
                by_ip.setdefault(str(address), []).append(str(host))
        return [{"ip": ip, "hostnames": names} for ip, names in by_ip.items()]

    def _restart(self) -> None:
        restart = str(self.svc.get("restart") or "")
        condition = str(((self.svc.get("deploy") or {}).get("restart_policy") or {}).get("condition") or "")
        for field_name, value in (("restart", restart), ("deploy.restart_policy", condition)):
            if value and value not in ("always", "unless-stopped", "any"):
                self.gap(
                    field_name,
                    f"{value!r}: a Deployment always restarts its pods",
                    "a Job with restartPolicy: Never or OnFailure",
                )

    def _network_gaps(self) -> None:
        mode = str(self.svc.get("network_mode") or "")
        if mode == "host":
            self.gap(
                "network_mode: host",
                "hostNetwork breaks the baseline Pod Security Standard",
                "a Service for its ports",
            )
        elif mode == "none":
            self.gap("network_mode: none", "pods always have a network", "a NetworkPolicy that denies all")
        elif mode:
            self.gap(
                f"network_mode: {mode}", "pods do not join another's namespace", "both containers in one pod"
            )
        networks = self.svc.get("networks") or {}
        if set(networks) - {"default"} or any(_set(v) for v in networks.values()):
            self.gap(
                "networks",
                "a cluster has one flat pod network (aliases and addresses too)",
                "Services by name; NetworkPolicies to isolate",
            )

    def _part_of(self) -> Doc:
        return {PART_OF_LABEL: dns_name(self.project)} if self.project else {}

    def _labels(self) -> Doc:
        return {NAME_LABEL: self.k8s, **self._part_of()}

    def _workload(self, pod: Doc) -> Doc:
        deploy = self.svc.get("deploy") or {}
        for key, value in deploy.items():
            if key not in _DEPLOY_TRANSLATED and _set(value):
                self.gap(f"deploy.{key}", *_DEPLOY_GAPS.get(key, _GENERIC_GAP))
        if (deploy.get("placement") or {}).get("constraints"):
            self.gap(
                "deploy.placement", "swarm constraints name swarm node fields", "nodeSelector or affinity"
            )
        user_labels = {**(self.svc.get("labels") or {}), **(deploy.get("labels") or {})}
        labels = {
            k: str(v) for k, v in user_labels.items() if _LABEL_KEY.match(k) and _LABEL_VALUE.match(str(v))
        }
        notes = {k: str(v) for k, v in user_labels.items() if k not in labels}
        notes |= {str(k): str(v) for k, v in (self.svc.get("annotations") or {}).items()}
        template: Doc = {"metadata": {"labels": {**labels, **self._labels()}}, "spec": pod}
        if notes:
            template["metadata"]["annotations"] = notes
        spec: Doc = {"selector": {"matchLabels": {NAME_LABEL: self.k8s}}, "template": template}
        kind = "Deployment"
        if deploy.get("mode") == "global":
            kind = "DaemonSet"
        else:
            spec = {"replicas": int(deploy.get("replicas") or self.svc.get("scale") or 1), **spec}
            if self.named_volume:
                kind = "StatefulSet"
                if self._port_rows_quiet():
                    spec["serviceName"] = self.k8s
        return {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": self.k8s, "labels": {**labels, **self._labels()}},
            "spec": spec,
        }


_RESOURCE_GAPS = {
    "pids": ("the PID limit is a node setting", "kubelet podPidsLimit"),
    "devices": ("devices are handed out by device plugins", "a resource limit such as nvidia.com/gpu: 1"),
    "generic_resources": ("swarm generic resources", "extended resources in resources.limits"),
}
_DEPLOY_GAPS = {
    "update_config": ("not translated", "spec.strategy.rollingUpdate"),
    "rollback_config": ("not translated", "kubectl rollout undo"),
    "endpoint_mode": ("Services balance by themselves", "clusterIP: None for DNS round robin"),
}


def _redacted_arg(argv: Sequence[str], index: int) -> str:
    """``argv[index]`` redacted, alone or as the value of the flag before it (``--token x``)."""
    arg = argv[index]
    redacted = redact_secrets(arg)
    if redacted == arg and index:
        pair = f"{argv[index - 1]} {arg}"
        if redact_secrets(pair) != pair:
            return "[redacted]"
    return redacted


def _host_pair(entry: str) -> tuple[str, str]:
    host, sep, ip = entry.partition("=")
    if not sep:
        host, _, ip = entry.partition(":")
    return host, ip

"""The offline Kubernetes schema check (pinned version, bundled schemas) and the Pod Security
Standard levels (pure)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mcp_docker_server.kube import KUBERNETES_VERSION, pod_security, schema_errors

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "image": "busybox",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
    },
}


def pod(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(POD)
    for path, value in changes.items():
        node: Any = doc
        *parents, last = path.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        node[last] = value
    return doc


def test_the_pinned_version_is_bundled_and_a_valid_pod_passes() -> None:
    assert KUBERNETES_VERSION == "1.33"
    assert schema_errors([POD]) == []


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            pod(spec__containers__0__bogus=1),
            "Pod/p: spec.containers.0: Additional properties are not allowed",
        ),
        (pod(spec__containers__0__image=5), "Pod/p: spec.containers.0.image: 5 is not of type"),
        ({**POD, "spec": {"containers": [{"image": "x"}]}}, "Pod/p: spec.containers.0: 'name' is a required"),
        (
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "d"},
                "spec": {"replicas": "two"},
            },
            "Deployment/d: spec",
        ),
        ({"apiVersion": "v9", "kind": "Gadget", "metadata": {"name": "g"}}, "Gadget/g: Couldn't find schema"),
    ],
)
def test_a_broken_manifest_fails_the_schema_check(doc: dict[str, Any], expected: str) -> None:
    (error,) = schema_errors([POD, doc])
    assert error.startswith(expected), error


def test_a_hardened_pod_is_restricted() -> None:
    assert pod_security([POD]) == ("restricted", [])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"spec__containers__0__securityContext__allowPrivilegeEscalation": True},
            "allowPrivilegeEscalation",
        ),
        ({"spec__securityContext__runAsNonRoot": False}, "runAsNonRoot is not true"),
        ({"spec__securityContext__runAsUser": 0}, "runAsUser 0"),
        ({"spec__securityContext__seccompProfile": {"type": "Localhost"}}, ""),
        ({"spec__securityContext": {"runAsNonRoot": True}}, "no RuntimeDefault seccompProfile"),
        ({"spec__containers__0__securityContext__capabilities": {"drop": ["NET_RAW"]}}, "do not drop ALL"),
        (
            {"spec__containers__0__securityContext__capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}},
            "other than NET_BIND_SERVICE",
        ),
        ({"spec__volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}]}, "volume n: nfs"),
    ],
)
def test_what_keeps_a_pod_from_restricted(change: dict[str, Any], reason: str) -> None:
    level, why = pod_security([pod(**change)])
    if not reason:
        assert level == "restricted"
        return
    assert level == "baseline"
    assert any(reason in w for w in why), why


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"spec__hostNetwork": True}, "hostNetwork: true"),
        ({"spec__hostPID": True}, "hostPID: true"),
        ({"spec__hostIPC": True}, "hostIPC: true"),
        ({"spec__volumes": [{"name": "h", "hostPath": {"path": "/etc"}}]}, "hostPath volume"),
        ({"spec__containers__0__securityContext__privileged": True}, "privileged"),
        (
            {"spec__containers__0__securityContext__capabilities": {"add": ["SYS_ADMIN"]}},
            "adds capabilities SYS_ADMIN",
        ),
        ({"spec__containers__0__ports": [{"containerPort": 80, "hostPort": 80}]}, "hostPort"),
        ({"spec__securityContext__seccompProfile": {"type": "Unconfined"}}, "seccompProfile Unconfined"),
        (
            {"spec__securityContext__sysctls": [{"name": "kernel.msgmax", "value": "1"}]},
            "sysctl kernel.msgmax",
        ),
        ({"spec__containers__0__securityContext__procMount": "Unmasked"}, "procMount Unmasked"),
        ({"spec__securityContext__seLinuxOptions": {"type": "spc_t"}}, "seLinuxOptions"),
    ],
)
def test_what_keeps_a_pod_from_baseline(change: dict[str, Any], reason: str) -> None:
    level, why = pod_security([pod(**change)])
    assert level == "privileged"
    assert any(reason in w for w in why), why


def test_workloads_are_judged_by_their_pod_template_and_the_worst_pod_wins() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"hostNetwork": True, "containers": []}}},
    }
    level, why = pod_security([POD, deployment, {"kind": "Service", "metadata": {"name": "s"}}])
    assert level == "privileged"
    assert why == ["Deployment/d: hostNetwork: true"]

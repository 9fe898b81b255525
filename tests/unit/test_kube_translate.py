"""Compose (as `docker compose config --format json` renders it) to Kubernetes objects: each
field's mapping, and each field that is listed as not translated (pure)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from mcp_docker_server.kube import pod_security, schema_errors, to_yaml, translate
from mcp_docker_server.kube.translate import Manifests, dns_name, duration_seconds


def project(services: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"name": "shop", "services": services, **top}


def one(service: dict[str, Any], **top: Any) -> Manifests:
    return translate(project({"app": {"image": "nginx:1.27", **service}}, **top))


def kinds(out: Manifests) -> list[str]:
    return [f"{d['kind']}/{d['metadata']['name']}" for d in out.docs]


def doc(out: Manifests, kind: str) -> dict[str, Any]:
    return next(d for d in out.docs if d["kind"] == kind)


def pod(out: Manifests) -> dict[str, Any]:
    workload = next(d for d in out.docs if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet"))
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(out: Manifests) -> dict[str, Any]:
    first: dict[str, Any] = pod(out)["containers"][0]
    return first


def gap_fields(out: Manifests) -> set[str]:
    return {g.field for g in out.gaps}


def test_a_plain_service_is_a_deployment_with_selector_labels_and_one_replica() -> None:
    out = one({})
    deployment = doc(out, "Deployment")
    assert kinds(out) == ["Deployment/app"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "app"}
    assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"] == "shop"
    assert container(out)["image"] == "nginx:1.27"
    assert pod(out)["restartPolicy"] == "Always"
    assert out.gaps == []
    assert schema_errors(out.docs) == []


def test_entrypoint_is_command_and_command_is_args_and_the_rest_of_the_process() -> None:
    out = one(
        {
            "entrypoint": ["/bin/app"],
            "command": ["serve", "--port", "80"],
            "working_dir": "/srv",
            "environment": {"MODE": "prod"},
            "tty": True,
            "stdin_open": True,
        }
    )
    c = container(out)
    assert c["command"] == ["/bin/app"]
    assert c["args"] == ["serve", "--port", "80"]
    assert c["workingDir"] == "/srv"
    assert c["env"] == [{"name": "MODE", "value": "prod"}]
    assert c["tty"] is True
    assert c["stdin"] is True
    assert schema_errors(out.docs) == []


def test_secret_looking_environment_goes_to_a_secret_whose_value_is_never_written() -> None:
    out = one({"environment": {"DB_PASSWORD": "hunter2-very-secret", "URL": "postgres://u:pw1234@db/x"}})
    env = container(out)["env"]
    assert env[0] == {
        "name": "DB_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "app-env", "key": "DB_PASSWORD"}},
    }
    assert "valueFrom" in env[1]  # a password inside a URL
    assert out.commands == [
        "kubectl create secret generic app-env --from-literal=DB_PASSWORD=<value> --from-literal=URL=<value>"
    ]
    text = to_yaml(out.docs) + "\n".join(out.commands)
    assert "hunter2" not in text
    assert "pw1234" not in text


def test_a_secret_in_the_command_line_is_redacted_and_said() -> None:
    out = one({"command": ["serve", "--password", "hunter2-very-secret"]})
    assert "hunter2-very-secret" not in to_yaml(out.docs)
    assert "command" in gap_fields(out)


def test_an_unset_environment_variable_is_listed() -> None:
    out = one({"environment": {"FROM_HOST": None}})
    assert "environment.FROM_HOST" in gap_fields(out)


def test_published_and_exposed_ports_become_a_service_and_container_ports() -> None:
    out = one(
        {
            "ports": [
                {"target": 80, "published": "8080", "protocol": "tcp", "mode": "ingress"},
                {"target": 9000, "protocol": "udp"},
            ],
            "expose": ["7000"],
        }
    )
    service = doc(out, "Service")
    assert service["metadata"]["name"] == "app"
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "app"}
    assert service["spec"]["ports"] == [
        {"name": "tcp-8080", "port": 8080, "targetPort": 80, "protocol": "TCP"},
        {"name": "udp-9000", "port": 9000, "targetPort": 9000, "protocol": "UDP"},
        {"name": "tcp-7000", "port": 7000, "targetPort": 7000, "protocol": "TCP"},
    ]
    assert container(out)["ports"] == [
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 9000, "protocol": "UDP"},
        {"containerPort": 7000, "protocol": "TCP"},
    ]
    assert "ports" in gap_fields(out)  # host publishing: LoadBalancer/NodePort/Ingress instead
    assert schema_errors(out.docs) == []


def test_a_bind_address_and_a_port_range_are_listed() -> None:
    out = one(
        {
            "ports": [
                {"target": 80, "published": "8080", "host_ip": "127.0.0.1", "protocol": "tcp"},
                {"target": 81, "published": "9000-9001", "protocol": "tcp"},
            ]
        }
    )
    assert {"ports[0].host_ip", "ports[1]"} <= gap_fields(out)
    assert [p["port"] for p in doc(out, "Service")["spec"]["ports"]] == [8080]


def test_a_named_volume_makes_a_statefulset_and_one_shared_claim() -> None:
    volume = {"type": "volume", "source": "data", "target": "/data", "volume": {}}
    out = translate(
        project(
            {
                "a": {"image": "busybox", "volumes": [volume]},
                "b": {"image": "busybox", "volumes": [{**volume, "read_only": True}]},
            },
            volumes={"data": {"name": "shop_data"}},
        )
    )
    assert kinds(out) == ["PersistentVolumeClaim/shop-data", "StatefulSet/a", "StatefulSet/b"]
    claim = doc(out, "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    b = out.docs[2]["spec"]["template"]["spec"]
    assert b["volumes"] == [{"name": "v0", "persistentVolumeClaim": {"claimName": "shop-data"}}]
    assert b["containers"][0]["volumeMounts"] == [{"name": "v0", "mountPath": "/data", "readOnly": True}]
    assert [g.field for g in out.gaps] == ["size"]  # once, not per service
    assert schema_errors(out.docs) == []


def test_anonymous_volumes_and_tmpfs_are_empty_dirs() -> None:
    out = one(
        {
            "volumes": [
                {"type": "volume", "target": "/cache"},
                {"type": "tmpfs", "target": "/scratch", "tmpfs": {"size": 1048576}},
            ],
            "tmpfs": ["/run:size=1m"],
        }
    )
    assert pod(out)["volumes"] == [
        {"name": "v0", "emptyDir": {}},
        {"name": "v1", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": "t0", "emptyDir": {"medium": "Memory"}},
    ]
    assert [m["mountPath"] for m in container(out)["volumeMounts"]] == ["/cache", "/scratch", "/run"]
    assert doc(out, "Deployment")
    assert schema_errors(out.docs) == []


def test_a_host_bind_is_listed_and_never_a_host_path() -> None:
    out = one({"volumes": [{"type": "bind", "source": "/srv/site", "target": "/usr/share/nginx/html"}]})
    assert "hostPath" not in to_yaml(out.docs)
    (gap,) = out.gaps
    assert gap.field == "volumes[0] /srv/site:/usr/share/nginx/html"
    assert "PersistentVolumeClaim" in gap.instead


def test_secrets_and_configs_are_references_with_the_commands_that_create_them() -> None:
    out = one(
        {
            "secrets": [{"source": "db", "target": "/run/secrets/db"}, {"source": "api", "target": "key"}],
            "configs": [{"source": "conf", "target": "/etc/app.conf"}, {"source": "motd"}],
        },
        secrets={
            "db": {"name": "shop_db", "file": "/home/u/db.txt"},
            "api": {"name": "api", "environment": "API"},
        },
        configs={"conf": {"name": "shop_conf", "file": "/home/u/app.conf"}, "motd": {"content": "hello"}},
    )
    mounts = {m["mountPath"]: m for m in container(out)["volumeMounts"]}
    assert mounts["/run/secrets/db"] == {
        "name": "s-db",
        "mountPath": "/run/secrets/db",
        "subPath": "db",
        "readOnly": True,
    }
    assert "/run/secrets/key" in mounts
    assert mounts["/etc/app.conf"]["subPath"] == "conf"
    assert "/motd" in mounts
    volumes = {v["name"]: v for v in pod(out)["volumes"]}
    assert volumes["s-db"] == {"name": "s-db", "secret": {"secretName": "shop-db"}}
    assert volumes["c-conf"] == {"name": "c-conf", "configMap": {"name": "shop-conf"}}
    assert out.commands == [
        "kubectl create secret generic shop-db --from-file=db=/home/u/db.txt",
        'kubectl create secret generic api --from-literal=api="$API"',
        "kubectl create configmap shop-conf --from-file=conf=/home/u/app.conf",
    ]
    configmap = doc(out, "ConfigMap")  # inline content is in the compose file itself
    assert configmap["metadata"]["name"] == "motd"
    assert configmap["data"] == {"motd": "hello"}
    assert not any(d["kind"] == "Secret" for d in out.docs)
    assert schema_errors(out.docs) == []


def test_a_healthcheck_is_a_liveness_and_readiness_probe_with_dockers_timings() -> None:
    out = one(
        {
            "healthcheck": {
                "test": ["CMD", "wget", "-q", "-O-", "http://127.0.0.1/"],
                "interval": "1m30s",
                "timeout": "500ms",
                "retries": 5,
                "start_period": "10s",
            }
        }
    )
    c = container(out)
    assert c["livenessProbe"] == {
        "exec": {"command": ["wget", "-q", "-O-", "http://127.0.0.1/"]},
        "periodSeconds": 90,
        "timeoutSeconds": 1,
        "failureThreshold": 5,
        "initialDelaySeconds": 10,
    }
    assert c["readinessProbe"] == c["livenessProbe"]
    assert "&id" not in to_yaml(out.docs)  # written out twice, no YAML alias
    shell = container(one({"healthcheck": {"test": ["CMD-SHELL", "curl -f localhost || exit 1"]}}))
    assert shell["livenessProbe"]["exec"]["command"] == ["/bin/sh", "-c", "curl -f localhost || exit 1"]
    assert shell["livenessProbe"]["periodSeconds"] == 30  # Docker's default, not Kubernetes' 10
    assert shell["livenessProbe"]["timeoutSeconds"] == 30
    assert "livenessProbe" not in container(one({"healthcheck": {"test": ["NONE"]}}))
    assert "livenessProbe" not in container(one({"healthcheck": {"disable": True}}))


def test_cpu_and_memory_limits_and_reservations_are_resources() -> None:
    compose_style = one({"cpus": 1.5, "mem_limit": "536870912", "mem_reservation": "1000"})
    assert container(compose_style)["resources"] == {
        "limits": {"cpu": "1500m", "memory": "512Mi"},
        "requests": {"memory": "1000"},
    }
    deploy_style = one(
        {
            "deploy": {
                "resources": {"limits": {"cpus": 2, "memory": "1073741824"}, "reservations": {"cpus": 0.25}}
            }
        }
    )
    assert container(deploy_style)["resources"] == {
        "limits": {"cpu": "2", "memory": "1024Mi"},
        "requests": {"cpu": "250m"},
    }
    assert schema_errors(deploy_style.docs) == []


def test_replicas_scale_and_global_mode() -> None:
    assert doc(one({"deploy": {"replicas": 3}}), "Deployment")["spec"]["replicas"] == 3
    assert doc(one({"scale": 2}), "Deployment")["spec"]["replicas"] == 2
    daemon = one({"deploy": {"mode": "global"}})
    assert kinds(daemon) == ["DaemonSet/app"]
    assert "replicas" not in daemon.docs[0]["spec"]
    assert schema_errors(daemon.docs) == []


def test_restart_policies_that_a_deployment_cannot_keep_are_listed() -> None:
    assert one({"restart": "always"}).gaps == []
    assert one({"restart": "unless-stopped"}).gaps == []
    assert "restart" in gap_fields(one({"restart": "no"}))
    assert "restart" in gap_fields(one({"restart": "on-failure"}))
    assert "deploy.restart_policy" in gap_fields(one({"deploy": {"restart_policy": {"condition": "none"}}}))


def test_labels_and_annotations() -> None:
    out = one({"labels": {"tier": "front", "note": "has spaces in it"}, "annotations": {"a.io/x": "y"}})
    metadata = doc(out, "Deployment")["spec"]["template"]["metadata"]
    assert metadata["labels"]["tier"] == "front"
    assert metadata["annotations"] == {"note": "has spaces in it", "a.io/x": "y"}
    assert schema_errors(out.docs) == []


def test_the_security_context_follows_the_container() -> None:
    out = one(
        {
            "user": "1000:1000",
            "read_only": True,
            "cap_drop": ["ALL"],
            "cap_add": ["CAP_NET_BIND_SERVICE"],
            "security_opt": ["no-new-privileges:true"],
        }
    )
    assert container(out)["securityContext"] == {
        "runAsUser": 1000,
        "runAsNonRoot": True,
        "runAsGroup": 1000,
        "readOnlyRootFilesystem": True,
        "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
        "allowPrivilegeEscalation": False,
    }
    assert pod(out)["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert pod_security(out.docs) == ("restricted", [])
    assert schema_errors(out.docs) == []


def test_a_default_service_meets_baseline_and_says_what_restricted_needs() -> None:
    level, why = pod_security(one({}).docs)
    assert level == "baseline"
    assert "Deployment/app: container app: allowPrivilegeEscalation is not false" in why
    assert "Deployment/app: container app: runAsNonRoot is not true" in why


def test_user_names_and_root() -> None:
    assert "user" in gap_fields(one({"user": "www-data"}))
    root = container(one({"user": "root"}))["securityContext"]
    assert root == {"runAsUser": 0}
    assert "seccompProfile" in container(one({"security_opt": ["seccomp=unconfined"]}))["securityContext"]
    assert pod_security(one({"security_opt": ["seccomp=unconfined"]}).docs)[0] == "privileged"


def test_other_pod_fields() -> None:
    out = one(
        {
            "hostname": "Web_1",
            "extra_hosts": ["db=10.0.0.5", "cache:10.0.0.5"],
            "stop_grace_period": "1m",
            "platform": "linux/arm64",
            "group_add": ["100", "audio"],
            "sysctls": {"net.ipv4.tcp_syncookies": "1"},
            "pull_policy": "always",
        }
    )
    spec = pod(out)
    assert spec["hostname"] == "web-1"
    assert spec["hostAliases"] == [{"ip": "10.0.0.5", "hostnames": ["db", "cache"]}]
    assert spec["terminationGracePeriodSeconds"] == 60
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}
    assert spec["securityContext"]["supplementalGroups"] == [100]
    assert spec["securityContext"]["sysctls"] == [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]
    assert container(out)["imagePullPolicy"] == "Always"
    assert gap_fields(out) == {"group_add"}
    assert schema_errors(out.docs) == []


@pytest.mark.parametrize(
    ("service", "field"),
    [
        ({"build": {"context": "/src"}}, "build"),
        ({"depends_on": {"db": {"condition": "service_healthy"}}}, "depends_on"),
        ({"network_mode": "host"}, "network_mode: host"),
        ({"network_mode": "none"}, "network_mode: none"),
        ({"network_mode": "service:db"}, "network_mode: service:db"),
        ({"networks": {"front": None}}, "networks"),
        ({"devices": [{"source": "/dev/fuse", "target": "/dev/fuse"}]}, "devices"),
        ({"privileged": True}, "privileged"),
        ({"pid": "host"}, "pid"),
        ({"ipc": "host"}, "ipc"),
        ({"container_name": "the-app"}, "container_name"),
        ({"logging": {"driver": "syslog"}}, "logging"),
        ({"ulimits": {"nofile": 1024}}, "ulimits"),
        ({"init": True}, "init"),
        ({"dns": ["1.1.1.1"]}, "dns"),
        ({"security_opt": ["apparmor=unconfined"]}, "security_opt apparmor"),
        ({"security_opt": ["seccomp=/etc/profile.json"]}, "security_opt seccomp"),
        ({"healthcheck": {"test": ["CMD", "true"], "start_interval": "1s"}}, "healthcheck.start_interval"),
        ({"deploy": {"placement": {"constraints": ["node.role==manager"]}}}, "deploy.placement"),
        ({"deploy": {"update_config": {"parallelism": 2}}}, "deploy.update_config"),
        (
            {"deploy": {"resources": {"reservations": {"devices": [{"capabilities": ["gpu"]}]}}}},
            "deploy.resources.devices",
        ),
        ({"pull_policy": "build"}, "pull_policy"),
        ({"cgroup_parent": "/x"}, "cgroup_parent"),
    ],
)
def test_fields_without_a_faithful_translation_are_listed_with_why_and_instead(
    service: dict[str, Any], field: str
) -> None:
    out = one(service)
    gaps = [g for g in out.gaps if g.field == field]
    assert len(gaps) == 1, out.gaps
    assert gaps[0].service == "app"
    assert gaps[0].why
    assert gaps[0].instead
    text = to_yaml(out.docs)
    for absent in ("hostNetwork", "hostPID", "hostIPC", "privileged", "hostPath"):
        assert absent not in text
    assert schema_errors(out.docs) == []


def test_names_and_durations() -> None:
    assert dns_name("My_App.v2") == "my-app-v2"
    assert dns_name("1st") == "x-1st"
    assert len(dns_name("a" * 100)) == 63
    assert duration_seconds("1m30s") == 90
    assert duration_seconds("250ms") == 0.25
    assert duration_seconds(5) == 5
    assert duration_seconds("soon") is None


def test_the_yaml_is_one_stream_kubectl_reads() -> None:
    out = one({"ports": [{"target": 80, "published": "80", "protocol": "tcp"}]})
    docs = list(yaml.safe_load_all(to_yaml(out.docs)))
    assert docs == out.docs

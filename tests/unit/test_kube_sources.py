"""Containers (Engine API inspect) and swarm services (task templates) put in Compose's
rendered form, then translated by the one mapping (pure; the inputs are real engine output)."""

from __future__ import annotations

from typing import Any

from mcp_docker_server.kube import container_project, pod_security, schema_errors, service_project, translate

# From `docker run --user 1000 --read-only --cap-drop ALL -p 127.0.0.1:18999:8080 --memory 64m
# --cpus 0.5 --restart unless-stopped -v ktvol:/data --health-cmd true -e A=1 busybox sleep 600`.
CONFIG: dict[str, Any] = {
    "Hostname": "26b2c3a6d1a8", "User": "1000", "ExposedPorts": {"8080/tcp": {}, "9090/tcp": {}},
    "Tty": False, "OpenStdin": False, "Env": ["A=1", "PATH=/bin"], "Cmd": ["sleep", "600"],
    "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000}, "Image": "busybox:local",
    "Volumes": {"/cache": {}}, "WorkingDir": "", "Entrypoint": None,
    "Labels": {"com.docker.compose.project": "x", "tier": "back", "org.opencontainers.image.title": "b"},
}  # fmt: skip
HOST: dict[str, Any] = {
    "Binds": ["ktvol:/data"], "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
    "NetworkMode": "bridge", "PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18999"}]},
    "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}, "AutoRemove": False,
    "CapAdd": None, "CapDrop": ["ALL"], "CgroupnsMode": "host", "Dns": [], "IpcMode": "private",
    "PidMode": "", "Privileged": False, "ReadonlyRootfs": True, "SecurityOpt": None, "ShmSize": 67108864,
    "Runtime": "runc", "CpuShares": 0, "Memory": 67108864, "NanoCpus": 500000000, "Devices": [],
    "MemoryReservation": 0, "MemorySwap": 134217728, "MemorySwappiness": None, "PidsLimit": None,
    "Ulimits": [], "MaskedPaths": ["/proc/kcore"], "ReadonlyPaths": ["/proc/sys"],
}  # fmt: skip


def test_an_inspected_container_translates_like_its_compose_service() -> None:
    out = translate(container_project("my_box", CONFIG, HOST))
    assert [f"{d['kind']}/{d['metadata']['name']}" for d in out.docs] == [
        "PersistentVolumeClaim/ktvol",
        "StatefulSet/my-box",
        "Service/my-box",
    ]
    pod = out.docs[1]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["sleep", "600"]
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "PATH", "value": "/bin"}]
    assert container["resources"] == {"limits": {"cpu": "500m", "memory": "64Mi"}}
    assert container["securityContext"] == {
        "runAsUser": 1000,
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["livenessProbe"]["exec"]["command"] == ["/bin/sh", "-c", "true"]
    assert container["livenessProbe"]["periodSeconds"] == 2
    assert [v["name"] for v in pod["volumes"]] == ["v0", "v1"]  # the named volume, the image's anonymous one
    assert pod["volumes"][1] == {"name": "v1", "emptyDir": {}}
    ports = out.docs[2]["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in ports] == [(18999, 8080), (9090, 9090)]
    labels = out.docs[1]["spec"]["template"]["metadata"]["labels"]
    assert labels["tier"] == "back"
    assert not any(k.startswith(("com.docker", "org.opencontainers")) for k in labels)
    # The engine's defaults are no gaps; the bind address and host publishing are.
    assert {g.field for g in out.gaps} == {"ports[0].host_ip", "ports", "size"}
    assert schema_errors(out.docs) == []
    assert pod_security(out.docs)[0] == "baseline"


def test_engine_fields_without_a_mapping_are_listed_by_their_engine_name() -> None:
    host = {
        **HOST,
        "CpuShares": 512,
        "NetworkMode": "host",
        "Privileged": True,
        "PidMode": "host",
        "Devices": [{"PathOnHost": "/dev/fuse"}],
        "Binds": ["/srv/www:/www:ro"],
        "LogConfig": {"Type": "syslog"},
    }
    out = translate(container_project("box", CONFIG, host))
    fields = {g.field for g in out.gaps}
    assert {"HostConfig.CpuShares", "network_mode: host", "privileged", "pid", "devices", "logging"} <= fields
    assert "volumes[0] /srv/www:/www" in fields
    assert schema_errors(out.docs) == []


TEMPLATE: dict[str, Any] = {
    "ContainerSpec": {
        "Image": "busybox:local@sha256:" + "a" * 64,
        "Command": ["/bin/sh"],
        "Args": ["-c", "sleep 600"],
        "Env": ["MODE=prod", "API_TOKEN=abcdefgh12345678"],
        "User": "65534",
        "Mounts": [{"Type": "volume", "Source": "data", "Target": "/data"}],
        "Secrets": [{"SecretName": "db", "File": {"Name": "db_pw"}}],
        "Privileges": {"NoNewPrivileges": True},
        "CapabilityDrop": ["ALL"],
        "Hosts": ["10.0.0.5 db"],
        "StopGracePeriod": 5_000_000_000,
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5_000_000_000, "Retries": 2},
    },
    "Resources": {"Limits": {"NanoCPUs": 250_000_000, "MemoryBytes": 33554432}},
    "RestartPolicy": {"Condition": "on-failure"},
    "Placement": {"Constraints": ["node.role==worker"]},
}


def test_a_swarm_service_translates_with_its_mode_replicas_ports_and_secrets() -> None:
    config = service_project(
        "api", TEMPLATE, ["ingress", "backend"], mode="replicated", replicas=3, ports=["8080->80/tcp"]
    )
    out = translate(config)
    assert [f"{d['kind']}/{d['metadata']['name']}" for d in out.docs] == [
        "PersistentVolumeClaim/data",
        "StatefulSet/api",
        "Service/api",
    ]
    workload = out.docs[1]
    assert workload["spec"]["replicas"] == 3
    pod = workload["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["/bin/sh"]
    assert container["args"] == ["-c", "sleep 600"]
    assert container["env"][1] == {
        "name": "API_TOKEN",
        "valueFrom": {"secretKeyRef": {"name": "api-env", "key": "API_TOKEN"}},
    }
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"] == {"limits": {"cpu": "250m", "memory": "32Mi"}}
    assert {
        "name": "s-db",
        "mountPath": "/run/secrets/db_pw",
        "subPath": "db",
        "readOnly": True,
    } in container["volumeMounts"]
    assert pod["hostAliases"] == [{"ip": "10.0.0.5", "hostnames": ["db"]}]
    assert pod["terminationGracePeriodSeconds"] == 5
    assert out.docs[2]["spec"]["ports"][0] == {
        "name": "tcp-8080",
        "port": 8080,
        "targetPort": 80,
        "protocol": "TCP",
    }
    assert "kubectl create secret generic db --from-file=db=<file>" in out.commands
    assert "abcdefgh12345678" not in str(out.docs)
    fields = {g.field for g in out.gaps}
    assert {"deploy.restart_policy", "deploy.placement", "networks", "ports"} <= fields
    assert schema_errors(out.docs) == []
    assert pod_security(out.docs) == ("restricted", [])


def test_a_global_service_is_a_daemonset() -> None:
    template = {"ContainerSpec": {"Image": "busybox:local"}}
    out = translate(service_project("agent", template, [], mode="global", replicas=0, ports=[]))
    assert [d["kind"] for d in out.docs] == ["DaemonSet"]
    assert schema_errors(out.docs) == []

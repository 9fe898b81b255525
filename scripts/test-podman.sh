#!/usr/bin/env bash
# Podman for the Kubernetes round trip (tests/integration/test_kube_export.py plays exported
# manifests with `podman kube play`). Idempotent; as root on Debian bookworm.
#
#   scripts/test-podman.sh up     install podman when missing (apt), write its settings, and
#                                 check that it can run a pod here (a one-container pod, then gone)
#   scripts/test-podman.sh down   remove the pods, containers and volumes the tests made (mcpd-kube-*)
#
# Podman has no daemon. It keeps its own storage (/var/lib/containers) and its own networks
# (podman's bridges, 10.88.0.0/16 and 10.89.0.0/24); the Docker engines of scripts/test-engine.sh,
# their bridges, iptables chains and namespaces are left alone.
#
# Its settings are a containers.conf of its own, <state>/podman/containers.conf (<state>:
# MCPD_TEST_STATE, else .test-engine), given to podman as CONTAINERS_CONF. It lowers the pods'
# open-file and process limits: podman asks for 1048576 of each, and a sandbox without
# CAP_SYS_RESOURCE refuses to raise a hard limit ("error setting rlimit type 7: operation not
# permitted").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${MCPD_TEST_STATE:-$ROOT/.test-engine}"
CONF_DIR="$STATE/podman"
export CONTAINERS_CONF="$CONF_DIR/containers.conf"
IMAGE="${MCPD_TEST_IMAGE:-busybox:local}"
PREFIX=mcpd-kube-

say() { printf 'test-podman.sh: %s\n' "$*" >&2; }
quiet_podman() { podman "$@" 2> >(grep -v -e 'Error validating CNI config' -e 'failed to connect to syslog' >&2); }

install() {
  if command -v podman >/dev/null 2>&1 && [ -x /usr/libexec/podman/catatonit ]; then
    say "podman $(podman --version 2>/dev/null | awk '{print $3}') is installed"
    return
  fi
  [ "$(id -u)" = 0 ] || { say "podman is missing and only root can install it (apt-get install podman)"; exit 1; }
  say "installing podman (Debian packages: podman catatonit netavark aardvark-dns)"
  # catatonit: podman builds its pods' infra image from it (no registry is reached);
  # netavark, aardvark-dns: its network stack.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    podman catatonit netavark aardvark-dns >"$CONF_DIR/apt.log" 2>&1; then
    say "apt-get install failed; updating the package lists and trying again (log: $CONF_DIR/apt.log)"
    apt-get update -q >>"$CONF_DIR/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      podman catatonit netavark aardvark-dns >>"$CONF_DIR/apt.log" 2>&1
  fi
  say "installed podman $(podman --version | awk '{print $3}')"
}

write_conf() {
  local nofile
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  cat >"$CONTAINERS_CONF.new" <<EOF
# Written by scripts/test-podman.sh up: podman's settings for the tests (CONTAINERS_CONF).
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
EOF
  mv "$CONTAINERS_CONF.new" "$CONTAINERS_CONF"
  say "settings: $CONTAINERS_CONF (nofile=$nofile, nproc=4096)"
}

load_image() {
  command -v docker >/dev/null 2>&1 || { say "no docker CLI to copy $IMAGE from"; exit 1; }
  # The same image as the engine's (its id), not just one of that name: a test that went wrong
  # on an earlier run may have moved the name.
  local want have
  want=$(docker image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null | sed 's/^sha256://')
  have=$(quiet_podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null | sed 's/^sha256://' || true)
  if [ -n "$want" ] && [ "$want" = "$have" ]; then
    say "$IMAGE is in podman's storage"
    return
  fi
  docker save "$IMAGE" | quiet_podman load -q >/dev/null
  say "loaded $IMAGE into podman's storage (docker save | podman load)"
}

check_pod() {
  local yaml="$CONF_DIR/check-pod.yaml" started
  cat >"$yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: ${PREFIX}check}
spec:
  restartPolicy: Never
  containers:
  - {name: check, image: $IMAGE, command: ["true"]}
EOF
  started=$(date +%s.%N)
  quiet_podman kube play --replace "$yaml" >/dev/null
  quiet_podman kube down "$yaml" >/dev/null
  say "ran a pod as $(id -un) with podman kube play, then removed it ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $started}") s)"
}

down() {
  command -v podman >/dev/null 2>&1 || { say "no podman: nothing to remove"; return; }
  local pods containers volumes
  pods=$(quiet_podman pod ls -q --filter "name=^$PREFIX" || true)
  containers=$(quiet_podman ps -aq --filter "name=^$PREFIX" || true)
  volumes=$(quiet_podman volume ls -q --filter "name=^$PREFIX" || true)
  # shellcheck disable=SC2086  # (word lists of ids)
  {
    [ -z "$pods" ] || quiet_podman pod rm -f $pods >/dev/null
    [ -z "$containers" ] || quiet_podman rm -f $containers >/dev/null
    [ -z "$volumes" ] || quiet_podman volume rm -f $volumes >/dev/null
  }
  say "removed $(echo $pods | wc -w) pods, $(echo $containers | wc -w) containers, $(echo $volumes | wc -w) volumes named ${PREFIX}*"
}

case "${1:-}" in
  up)
    mkdir -p "$CONF_DIR"
    write_conf
    install
    load_image
    check_pod
    ;;
  down) down ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac

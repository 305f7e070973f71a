#!/usr/bin/env bash
# A private Docker daemon (Debian's docker.io) for the tests that run an image the way users do:
# `docker pull --platform linux/arm64` and `docker run --platform linux/arm64` of a published
# multi-platform image. Its own socket, data-root and exec-root under $TFCI_STATE/dockerd; no
# iptables, bridge or IP forwarding changes (the Dagger engine's CNI rules stay untouched), so
# containers run with --network none. 127.0.0.0/8 registries are insecure (plain HTTP) by default.
#
#   dockerd.sh start     install docker.io when missing (apt), start the daemon, wait until it answers
#   dockerd.sh stop      stop it (and the containerd it started); idempotent
#   dockerd.sh destroy   stop it and delete its images and state
#   dockerd.sh env       print the DOCKER_HOST export for the docker CLI
#
# Debian bookworm's docker.io is 20.10: its classic image store keeps one platform per tag (pull
# the platform you run), and `docker load` cannot read an OCI layout (pull from a registry).
set -euo pipefail

STATE=${TFCI_STATE:-/var/lib/tfimages-ci}/dockerd
RUN=/run/tfimages-ci-dockerd
SOCK=$RUN/docker.sock
PIDFILE=$RUN/dockerd.pid

log() { printf '[dockerd] %s\n' "$*" >&2; }
answers() { DOCKER_HOST=unix://$SOCK docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install() {
  if command -v dockerd >/dev/null && command -v docker >/dev/null; then return 0; fi
  log "apt-get install docker.io"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  # policy-rc.d keeps the package's own service from starting (no systemd here either).
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends docker.io >/dev/null
}

start() {
  [ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
  if [ -S "$SOCK" ] && answers; then log "running ($SOCK)"; return 0; fi
  install
  mkdir -p "$RUN" "$STATE/root"
  setsid "$(command -v dockerd)" --host "unix://$SOCK" --data-root "$STATE/root" --exec-root "$RUN/exec" \
    --pidfile "$PIDFILE" --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
    --userland-proxy=false </dev/null >"$STATE/dockerd.log" 2>&1 &
  local i
  for i in $(seq 1 60); do
    if answers; then log "up after ${i}s ($SOCK)"; return 0; fi
    sleep 1
  done
  tail -n 20 "$STATE/dockerd.log" >&2
  log "dockerd did not answer within 60 s"
  exit 1
}

stop() {
  [ -f "$PIDFILE" ] || return 0
  local pid i
  pid=$(cat "$PIDFILE")
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  destroy) stop; rm -rf "$STATE" "$RUN" ;;
  env) echo "export DOCKER_HOST=unix://$SOCK" ;;
  *) echo "usage: $0 start|stop|destroy|env" >&2; exit 2 ;;
esac

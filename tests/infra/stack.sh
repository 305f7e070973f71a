#!/usr/bin/env bash
# The whole offline test stack: Dagger engine + local registries + the Debian base image, and
# qemu's binfmt handlers so linux/arm64 images build and run on this amd64 host.
#
#   stack.sh up       install what is missing (cached outside the repo), register qemu's binfmt
#                     handlers, start engine and registries, make sure debian:bookworm (amd64 and
#                     arm64, one index) is in the registry, build the Go tools the tests run
#                     (tools.sh: syft, osv-scanner, cosign); prints timings
#   stack.sh down     stop everything it starts; leaves no engine, registry or dnsmasq behind
#   stack.sh status   exit 0 when engine and registry both answer
#   stack.sh env      exports for the SDK, the dagger CLI and the tests
#
# Why one script: .ci/run, the pytest fixture and a developer's shell all need the same
# steps in the same order (the engine's docker.io mirror points at the registry).
set -euo pipefail

INFRA=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENGINE=$INFRA/engine/engine.sh
REGISTRY=$INFRA/registry/registry.sh
REALISTIC=$INFRA/registry/realistic.sh
BASE=$INFRA/baseimage/build-debian.sh
BINFMT=$INFRA/binfmt.sh
TOOLS=$INFRA/tools.sh

log() { printf '[stack] %s\n' "$*" >&2; }

cmd_up() {
  local t0 t tools_pid
  t0=$(date +%s)
  # The Go tools build (cold: minutes of CPU) while the rest comes up; waited for at the end.
  bash "$TOOLS" install &
  tools_pid=$!
  t=$(date +%s); bash "$REGISTRY" install; bash "$ENGINE" install
  log "install: $(( $(date +%s) - t ))s"
  # Before the engine starts and before the arm64 base is built: both run arm64 binaries.
  t=$(date +%s); bash "$BINFMT" install aarch64
  log "binfmt handlers: $(( $(date +%s) - t ))s"
  t=$(date +%s); bash "$REGISTRY" start --auth; bash "$REALISTIC" start
  log "registries up: $(( $(date +%s) - t ))s"
  t=$(date +%s); bash "$BASE"
  log "base image ready: $(( $(date +%s) - t ))s"
  t=$(date +%s); bash "$ENGINE" start
  log "engine up: $(( $(date +%s) - t ))s"
  t=$(date +%s); wait "$tools_pid" || { log "tools.sh install failed"; exit 1; }
  log "tools ready: waited $(( $(date +%s) - t ))s"
  log "stack up in $(( $(date +%s) - t0 ))s"
}

cmd_down() {
  local rc=0
  bash "$ENGINE" stop || rc=1
  bash "$REALISTIC" stop || rc=1
  bash "$REGISTRY" stop || rc=1
  return $rc
}

cmd_status() {
  bash "$ENGINE" status && bash "$REGISTRY" status >/dev/null 2>&1 && bash "$REALISTIC" status >/dev/null 2>&1
}

cmd_env() {
  bash "$ENGINE" env
  local mirror auth user pwfile
  eval "$(bash "$REGISTRY" env)"
  mirror=${REGISTRY_MIRROR}; auth=${REGISTRY_AUTH_ADDR}; user=${REGISTRY_USER}
  pwfile=${REGISTRY_PASSWORD_FILE:-}
  echo "export TFCI_REGISTRY=$mirror"
  echo "export TFCI_AUTH_REGISTRY=$auth"
  echo "export TFCI_AUTH_USER=$user"
  echo "export TFCI_AUTH_PASSWORD_FILE=$pwfile"
  bash "$REALISTIC" env
  bash "$TOOLS" env
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac

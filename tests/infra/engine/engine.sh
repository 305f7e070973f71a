#!/usr/bin/env bash
# A real Dagger engine on this host, built from the Go module proxy, for tests and CI.
#
# Why this exists: the SDK's usual route (download the CLI from dl.dagger.io, pull
# registry.dagger.io/engine) is unreachable here. We build the engine, CLI and helpers from
# the published Go modules (tests/infra/enginebuild), install the runtime pieces at the paths
# the engine hard-codes, and run it in a private mount namespace so its /etc/resolv.conf
# overmount and /etc/dagger config never leak into the host.
#
#   engine.sh install   build (or reuse cached) binaries and install them; prints timings
#   engine.sh start     start the engine on tcp://127.0.0.1:$ENGINE_PORT and wait until it answers
#   engine.sh stop      stop it and its children (dnsmasq, runc containers); idempotent
#   engine.sh status    exit 0 when running
#   engine.sh env       print the exports the SDK and the dagger CLI need
#
# Environment: ENGINE_PORT (1234), TFCI_STATE (/var/lib/tfimages-ci), TFCI_CACHE
# (/var/cache/tfimages-ci), REGISTRY_MIRROR (127.0.0.1:5000: docker.io pulls go there).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_MODULE=$(cd "$HERE/../enginebuild" && pwd)
ENGINE_PORT=${ENGINE_PORT:-1234}
TFCI_STATE=${TFCI_STATE:-/var/lib/tfimages-ci}
TFCI_CACHE=${TFCI_CACHE:-/var/cache/tfimages-ci}
REGISTRY_MIRROR=${REGISTRY_MIRROR:-127.0.0.1:5000}
RUNC_VERSION=v1.4.2       # what dagger's own engine image ships (dagger-offline-engine.md, section 2)
CNI_VERSION=v1.9.0        # ditto; Debian's 1.1.1 bridge lacks ipMasqBackend
STATE_DIR=$TFCI_STATE/engine
PID_FILE=$STATE_DIR/engine.pid
LOG_FILE=$STATE_DIR/engine.log

log() { printf '[engine] %s\n' "$*" >&2; }

dagger_version() {
  # The single source of the engine version: the wrapper module's require line.
  awk '$1 == "github.com/dagger/dagger" && $2 ~ /^v/ {print $2; exit}
       $1 == "require" && $2 == "github.com/dagger/dagger" {print $3; exit}' "$BUILD_MODULE/go.mod"
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

build_dagger() {
  local ver=$1 out=$2
  local ld="-s -w -X github.com/dagger/dagger/engine.Version=$ver -X github.com/dagger/dagger/engine.Tag=$ver"
  local tmp=$out.partial
  rm -rf "$tmp" && mkdir -p "$tmp"
  (
    cd "$BUILD_MODULE"
    # go.sum is committed, so every module is hash-checked; GONOSUMDB only spares lookups the
    # proxy's checksum mirror does not answer for a few dagger dependencies.
    export CGO_ENABLED=0 GOFLAGS=-mod=readonly GONOSUMDB=github.com/vito,github.com/jedevc,github.com/dagger
    go build -o "$tmp/dagger-engine" -tags dfexcludepatterns,dfparents -ldflags "$ld" github.com/dagger/dagger/cmd/engine
    go build -o "$tmp/dagger" -ldflags "$ld" github.com/dagger/dagger/cmd/dagger
    go build -o "$tmp/dagger-init" -ldflags "$ld" github.com/dagger/dagger/cmd/init
    go build -o "$tmp/dnsname" -ldflags "$ld" github.com/dagger/dagger/cmd/dnsname
  )
  mv "$tmp" "$out"
}

build_runtime() {
  local out=$1 tmp=$1.partial
  rm -rf "$tmp" && mkdir -p "$tmp"
  # runc needs cgo + libseccomp: the engine always applies a seccomp profile.
  GOBIN=$tmp GOFLAGS= CGO_ENABLED=1 go install -tags seccomp -ldflags "-X main.version=${RUNC_VERSION#v}" \
    "github.com/opencontainers/runc@$RUNC_VERSION"
  GOBIN=$tmp GOFLAGS= CGO_ENABLED=0 go install \
    "github.com/containernetworking/plugins/plugins/main/bridge@$CNI_VERSION" \
    "github.com/containernetworking/plugins/plugins/main/loopback@$CNI_VERSION" \
    "github.com/containernetworking/plugins/plugins/meta/firewall@$CNI_VERSION" \
    "github.com/containernetworking/plugins/plugins/ipam/host-local@$CNI_VERSION"
  mv "$tmp" "$out"
}

cmd_install() {
  local t0 ver bin rt
  t0=$(date +%s)
  ver=$(dagger_version)
  [ -n "$ver" ] || { log "cannot read the dagger version from $BUILD_MODULE/go.mod"; exit 1; }
  apt_install dnsmasq-base iptables git libseccomp-dev libseccomp2 pkg-config gcc libc6-dev ca-certificates util-linux
  command -v go >/dev/null || { log "go is required (the Go toolchain builds the engine)"; exit 1; }
  bin=$TFCI_CACHE/dagger/$ver
  rt=$TFCI_CACHE/runtime/runc-$RUNC_VERSION-cni-$CNI_VERSION
  if [ ! -x "$bin/dagger-engine" ]; then
    log "building dagger $ver from the Go module proxy (cold: several minutes)"
    local tb; tb=$(date +%s)
    build_dagger "$ver" "$bin"
    log "built dagger $ver in $(( $(date +%s) - tb ))s"
  fi
  if [ ! -x "$rt/runc" ]; then
    log "building runc $RUNC_VERSION and CNI plugins $CNI_VERSION"
    build_runtime "$rt"
  fi
  install -m 0755 "$bin/dagger-engine" "$bin/dagger" "$bin/dagger-init" /usr/local/bin/
  install -m 0755 "$rt/runc" /usr/local/bin/runc
  mkdir -p /opt/cni/bin
  install -m 0755 "$rt/bridge" "$rt/loopback" "$rt/firewall" "$rt/host-local" "$bin/dnsname" /opt/cni/bin/
  # The engine looks for xtables multi-binaries in /usr/bin; Debian ships them in /usr/sbin.
  for m in xtables-legacy-multi xtables-nft-multi; do
    [ -e "/usr/bin/$m" ] || ln -s "/usr/sbin/$m" "/usr/bin/$m"
  done
  log "install done in $(( $(date +%s) - t0 ))s (dagger $ver)"
}

engine_running() {
  # A dead child of this shell stays a zombie until reaped: kill -0 alone would say "alive".
  local pid state
  [ -f "$PID_FILE" ] || return 1
  pid=$(cat "$PID_FILE")
  state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

write_config() {
  mkdir -p "$STATE_DIR/etc-dagger"
  # docker.io pulls are served by the local registry (plain HTTP on loopback).
  cat >"$STATE_DIR/etc-dagger/engine.json" <<EOF
{
  "registries": {
    "docker.io": {"mirrors": ["$REGISTRY_MIRROR"]},
    "$REGISTRY_MIRROR": {"http": true, "insecure": true}
  }
}
EOF
  cat >"$STATE_DIR/etc-dagger/engine.toml" <<EOF
[registry."docker.io"]
  mirrors = ["$REGISTRY_MIRROR"]
[registry."$REGISTRY_MIRROR"]
  http = true
  insecure = true
EOF
  # The realistic (TLS, token-auth) test registries: trust their test CA (registry/realistic.sh).
  if [ -s "$TFCI_STATE/registry/realistic/engine-registries.toml" ]; then
    cat "$TFCI_STATE/registry/realistic/engine-registries.toml" >>"$STATE_DIR/etc-dagger/engine.toml"
  fi
}

cmd_start() {
  if engine_running; then log "already running (pid $(cat "$PID_FILE"))"; return 0; fi
  [ -x /usr/local/bin/dagger-engine ] || { log "not installed: run '$0 install' first"; exit 1; }
  mkdir -p "$STATE_DIR" /var/lib/dagger /etc/dagger
  write_config
  log "starting on tcp://127.0.0.1:$ENGINE_PORT (log: $LOG_FILE)"
  # Private mount namespace: the engine bind-mounts over /etc/resolv.conf and reads
  # /etc/dagger/engine.json; both stay inside it. PATH puts /usr/bin first so the CNI
  # plugins use the same iptables backend the engine picked (it links /usr/bin/iptables).
  setsid unshare -m --propagation private -- /bin/sh -c '
      mount --bind "$1/etc-dagger" /etc/dagger || exit 1
      ulimit -n 1048576 2>/dev/null || true
      exec /usr/local/bin/dagger-engine --config /etc/dagger/engine.toml \
        --addr "tcp://127.0.0.1:$2" --root /var/lib/dagger --oci-cni-pool-size 8 --debug=false
    ' engine "$STATE_DIR" "$ENGINE_PORT" \
    </dev/null >"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  local i
  for i in $(seq 1 120); do
    if ! engine_running; then log "engine exited; last log lines:"; tail -n 20 "$LOG_FILE" >&2; exit 1; fi
    if echo '{ version }' | env_exports_run /usr/local/bin/dagger query >/dev/null 2>&1; then
      log "ready after ${i}s"
      return 0
    fi
    sleep 1
  done
  log "engine did not answer within 120s; last log lines:"; tail -n 20 "$LOG_FILE" >&2
  cmd_stop
  exit 1
}

env_exports_run() {
  env _EXPERIMENTAL_DAGGER_RUNNER_HOST="tcp://127.0.0.1:$ENGINE_PORT" DAGGER_NO_UPDATE_CHECK=1 \
    DO_NOT_TRACK=1 DAGGER_NO_NAG=1 "$@"
}

cmd_stop() {
  if [ -f "$PID_FILE" ]; then
    local pid; pid=$(cat "$PID_FILE")
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping pid $pid"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      local i
      for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
  fi
  # Children the engine may leave behind if it was killed hard: dnsmasq for its bridge and
  # runc containers. Only ours: dnsmasq with dagger's CNI config, runc under our root.
  pkill -f 'dnsmasq.*containers/cni/dnsname' 2>/dev/null || true
  if [ -x /usr/local/bin/runc ]; then
    local c
    for c in $(/usr/local/bin/runc --root /run/runc list -q 2>/dev/null || true); do
      /usr/local/bin/runc --root /run/runc delete -f "$c" 2>/dev/null || true
    done
  fi
  return 0
}

cmd_env() {
  cat <<EOF
export _EXPERIMENTAL_DAGGER_CLI_BIN=/usr/local/bin/dagger
export _EXPERIMENTAL_DAGGER_RUNNER_HOST=tcp://127.0.0.1:$ENGINE_PORT
export DAGGER_NO_UPDATE_CHECK=1
export DAGGER_NO_NAG=1
export DO_NOT_TRACK=1
EOF
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) engine_running ;;
  env) cmd_env ;;
  version) dagger_version ;;
  *) echo "usage: $0 install|start|stop|status|env|version" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# A real Dagger engine on this host, built from the Go module proxy, for tests and CI.
#
# Why this exists: the SDK's usual route (download the CLI from dl.dagger.io, pull
# registry.dagger.io/engine) is unreachable here. We build the engine, CLI and helpers from
# the published Go modules (tests/infra/enginebuild), install the runtime pieces at the paths
# the engine hard-codes, and run it in a private mount namespace so its /etc/resolv.conf
# overmount and /etc/dagger config never leak into the host.
#
#   engine.sh [--instance NAME] COMMAND
#   engine.sh install   build (or reuse cached) binaries and install them; prints timings
#   engine.sh start     start the engine on tcp://127.0.0.1:$ENGINE_PORT and wait until it answers
#   engine.sh stop      stop it and its children (dnsmasq, runc containers); idempotent
#   engine.sh status    exit 0 when running
#   engine.sh env       print the exports the SDK and the dagger CLI need
#   engine.sh destroy   named instances only: stop it and delete all of its state
#   engine.sh list      the named instances that exist, one per line
#
# Instances: without --instance (or ENGINE_INSTANCE) this is the shared "default" engine on port
# 1234 with --root /var/lib/dagger, network "dagger" (10.87.0.0/16) and runc state in /run/runc.
# A named instance (--instance NAME: 1-20 of [a-z0-9-]) is a second, independent engine state:
# its own port, --root, runc state, CNI network and bridge, DNS and sockets, kept under
# $TFCI_STATE/engines/NAME. Why: tests that need a fresh engine (a true cold build, two machines
# sharing a remote cache, an engine killed mid-build) must never disturb the shared one.
# Stopping or destroying an instance touches only that instance's processes and containers.
#
# Environment: ENGINE_INSTANCE (default), ENGINE_PORT (1234; a named instance gets a free port
# from 12341 unless given), TFCI_STATE (/var/lib/tfimages-ci), TFCI_CACHE
# (/var/cache/tfimages-ci), REGISTRY_MIRROR (127.0.0.1:5000: docker.io pulls go there),
# ENGINE_GC (on; "off": no automatic garbage collection, for a named instance whose disk its owner
# manages, like the benchmark's: the engine's default collector starts deleting cache records,
# download volumes included, whenever the disk has less than 20% free, at times no one chooses).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_MODULE=$(cd "$HERE/../enginebuild" && pwd)
ENGINE_PORT_GIVEN=${ENGINE_PORT:-}
ENGINE_PORT=${ENGINE_PORT:-1234}
TFCI_STATE=${TFCI_STATE:-/var/lib/tfimages-ci}
TFCI_CACHE=${TFCI_CACHE:-/var/cache/tfimages-ci}
REGISTRY_MIRROR=${REGISTRY_MIRROR:-127.0.0.1:5000}
RUNC_VERSION=v1.4.2       # what dagger's own engine image ships (dagger-offline-engine.md, section 2)
CNI_VERSION=v1.9.0        # ditto; Debian's 1.1.1 bridge lacks ipMasqBackend

if [ "${1:-}" = "--instance" ]; then
  [ $# -ge 2 ] || { echo "usage: $0 [--instance NAME] COMMAND" >&2; exit 2; }
  ENGINE_INSTANCE=$2
  shift 2
fi
ENGINE_INSTANCE=${ENGINE_INSTANCE:-default}
INSTANCES_DIR=$TFCI_STATE/engines
if [ "$ENGINE_INSTANCE" = default ]; then
  # The shared engine: paths exactly as they have always been (CI and other sessions rely on them).
  STATE_DIR=$TFCI_STATE/engine
  ENGINE_ROOT=/var/lib/dagger
  NETWORK_NAME=dagger          # the engine's default network name and CIDR (no flags passed)
  RUNC_ROOT=/run/runc          # runc's default root: the engine never passes --root to runc
else
  if ! [[ $ENGINE_INSTANCE =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]]; then
    echo "engine.sh: --instance '$ENGINE_INSTANCE': expected 1-20 characters of [a-z0-9-]" >&2
    exit 2
  fi
  STATE_DIR=$INSTANCES_DIR/$ENGINE_INSTANCE
  ENGINE_ROOT=$STATE_DIR/root
  RUNC_ROOT=$STATE_DIR/runc
  NETWORK_NAME=                # allocated on first start (instance.env)
fi
PID_FILE=$STATE_DIR/engine.pid
LOG_FILE=$STATE_DIR/engine.log
INSTANCE_ENV=$STATE_DIR/instance.env

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
  local gc=""
  if [ "${ENGINE_GC:-on}" = off ]; then gc=',
  "gc": {"enabled": false}'; fi
  cat >"$STATE_DIR/etc-dagger/engine.json" <<EOF
{
  "registries": {
    "docker.io": {"mirrors": ["$REGISTRY_MIRROR"]},
    "$REGISTRY_MIRROR": {"http": true, "insecure": true}
  }$gc
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

# ---------------------------------------------------------------- named instances

port_busy() { [ -n "$(ss -Hltnu "sport = :$1" 2>/dev/null)" ]; }

allocate_instance() {
  # A named instance gets, once, an index N that no other instance holds: port 12340+N (unless
  # ENGINE_PORT is given), network tfciN (bridge tfciN0) on 10.(200+N).0.0/16 and a DNS port
  # 5400+N. Kept in instance.env so a restart (e.g. after a kill) reuses the same identity.
  [ "$ENGINE_INSTANCE" = default ] && return 0
  mkdir -p "$INSTANCES_DIR"
  if [ ! -f "$INSTANCE_ENV" ]; then
    (
      flock 9
      [ -f "$INSTANCE_ENV" ] && exit 0
      used=$(sed -n 's/^INDEX=//p' "$INSTANCES_DIR"/*/instance.env 2>/dev/null || true)
      for n in $(seq 1 40); do
        if grep -qx "$n" <<<"$used"; then continue; fi
        port=${ENGINE_PORT_GIVEN:-$((12340 + n))}
        dns=$((5400 + n))
        if port_busy "$dns"; then continue; fi
        if port_busy "$port"; then
          if [ -n "$ENGINE_PORT_GIVEN" ]; then log "ENGINE_PORT $port is in use"; exit 1; fi
          continue
        fi
        mkdir -p "$STATE_DIR"
        printf 'INDEX=%s\nPORT=%s\nNETWORK_NAME=tfci%s\nNETWORK_CIDR=10.%s.0.0/16\nDNS_PORT=%s\n' \
          "$n" "$port" "$n" "$((200 + n))" "$dns" >"$INSTANCE_ENV.tmp"
        mv "$INSTANCE_ENV.tmp" "$INSTANCE_ENV"
        exit 0
      done
      log "no free instance slot (40 named instances exist?): see '$0 list'"
      exit 1
    ) 9>"$INSTANCES_DIR/.lock"
  fi
  load_instance
}

load_instance() {
  # Returns 1 when the named instance has never been started (no state).
  [ "$ENGINE_INSTANCE" = default ] && return 0
  [ -f "$INSTANCE_ENV" ] || return 1
  # shellcheck disable=SC1090
  . "$INSTANCE_ENV"
  ENGINE_PORT=${PORT:?}
}

dns_redirect() {
  # Why: the shared engine's dnsmasq holds *:53 (the engine writes no bind-interfaces), so a second
  # dnsmasq cannot bind its bridge address on port 53. The instance's dnsmasq listens on DNS_PORT
  # on its own bridge only, and the queries its containers send to port 53 are redirected there.
  local action=$1 proto
  for proto in udp tcp; do
    local rule=(-i "${NETWORK_NAME}0" -p "$proto" --dport 53 -m comment --comment "tfci-engine-$ENGINE_INSTANCE"
                -j REDIRECT --to-ports "$DNS_PORT")
    if [ "$action" = add ]; then
      iptables -t nat -C PREROUTING "${rule[@]}" 2>/dev/null || iptables -t nat -A PREROUTING "${rule[@]}"
    else
      while iptables -t nat -D PREROUTING "${rule[@]}" 2>/dev/null; do :; done
    fi
  done
}

write_dnsmasq_wrapper() {
  mkdir -p "$STATE_DIR/bin"
  printf '#!/bin/sh\n# The engine starts "dnsmasq" from PATH; this instance finds this wrapper first (engine.sh).\nexec /usr/sbin/dnsmasq --port=%s --bind-dynamic "$@"\n' \
    "$DNS_PORT" >"$STATE_DIR/bin/dnsmasq"
  chmod 0755 "$STATE_DIR/bin/dnsmasq"
}

cleanup_network_leftovers() {
  # CNI masquerade rules of this instance's network that a killed engine could not release.
  local line chain
  { iptables -t nat -S POSTROUTING 2>/dev/null || true; } | { grep -F "name: \\\"$NETWORK_NAME\\\" " || true; } |
  while read -r line; do
    chain=${line##* -j }
    eval "iptables -t nat ${line/-A /-D }" 2>/dev/null || true
    iptables -t nat -F "$chain" 2>/dev/null || true
    iptables -t nat -X "$chain" 2>/dev/null || true
  done
  return 0
}

# ---------------------------------------------------------------- start / stop

cmd_start() {
  if engine_running; then log "already running (pid $(cat "$PID_FILE"))"; return 0; fi
  [ -x /usr/local/bin/dagger-engine ] || { log "not installed: run '$0 install' first"; exit 1; }
  allocate_instance
  local instance_dir="" extra=()
  if [ "$ENGINE_INSTANCE" != default ]; then
    stop_children   # orphans of an earlier, killed run of this instance
    instance_dir=$STATE_DIR
    mkdir -p "$RUNC_ROOT" "$STATE_DIR/run-dagger" "$STATE_DIR/run-buildkit" /run/runc /run/dagger /run/buildkit
    write_dnsmasq_wrapper
    dns_redirect add
    extra=(--network-name "$NETWORK_NAME" --network-cidr "$NETWORK_CIDR")
  fi
  mkdir -p "$STATE_DIR" "$ENGINE_ROOT" /etc/dagger
  write_config
  log "starting $ENGINE_INSTANCE on tcp://127.0.0.1:$ENGINE_PORT (log: $LOG_FILE)"
  # Private mount namespace: the engine bind-mounts over /etc/resolv.conf and reads
  # /etc/dagger/engine.json; both stay inside it. A named instance also gets its own runc state
  # (the engine runs runc with its default root, /run/runc), its own /run/dagger and /run/buildkit
  # sockets, and a PATH that finds its dnsmasq wrapper first.
  setsid unshare -m --propagation private -- /bin/sh -c '
      mount --bind "$1/etc-dagger" /etc/dagger || exit 1
      if [ -n "$4" ]; then
        mount --bind "$4/runc" /run/runc && mount --bind "$4/run-dagger" /run/dagger \
          && mount --bind "$4/run-buildkit" /run/buildkit || exit 1
        PATH="$4/bin:$PATH"; export PATH
      fi
      ulimit -n 1048576 2>/dev/null || true
      port=$2; root=$3; shift 4
      exec /usr/local/bin/dagger-engine --config /etc/dagger/engine.toml \
        --addr "tcp://127.0.0.1:$port" --root "$root" --oci-cni-pool-size 8 --debug=false "$@"
    ' engine "$STATE_DIR" "$ENGINE_PORT" "$ENGINE_ROOT" "$instance_dir" "${extra[@]}" \
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

stop_children() {
  # Children the engine may leave behind if it was killed hard: dnsmasq for its bridge and
  # runc containers. Only this instance's: dnsmasq with its network's config, runc under its root.
  pkill -f "dnsmasq.*containers/cni/dnsname/$NETWORK_NAME/" 2>/dev/null || true
  if [ -x /usr/local/bin/runc ] && [ -d "$RUNC_ROOT" ]; then
    local c
    for c in $(/usr/local/bin/runc --root "$RUNC_ROOT" list -q 2>/dev/null || true); do
      /usr/local/bin/runc --root "$RUNC_ROOT" delete -f "$c" 2>/dev/null || true
    done
  fi
  return 0
}

cmd_stop() {
  load_instance || return 0   # a named instance that never started has nothing to stop
  if [ -f "$PID_FILE" ]; then
    local pid; pid=$(cat "$PID_FILE")
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $ENGINE_INSTANCE (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      local i
      for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
  fi
  stop_children
  if [ "$ENGINE_INSTANCE" != default ]; then
    dns_redirect del
    cleanup_network_leftovers
  fi
  return 0
}

cmd_destroy() {
  if [ "$ENGINE_INSTANCE" = default ]; then
    log "refusing to destroy the default (shared) engine; only named instances (--instance NAME)"
    exit 2
  fi
  if ! load_instance; then rm -rf "$STATE_DIR"; return 0; fi
  cmd_stop
  rm -rf "/var/run/containers/cni/dnsname/$NETWORK_NAME" "/var/lib/cni/networks/$NETWORK_NAME"
  ip link delete "${NETWORK_NAME}0" 2>/dev/null || true
  rm -rf "$STATE_DIR"
  log "destroyed $ENGINE_INSTANCE"
}

cmd_status() {
  load_instance || return 1
  engine_running
}

cmd_env() {
  if ! load_instance; then log "instance $ENGINE_INSTANCE does not exist: start it first"; exit 1; fi
  cat <<EOF
export _EXPERIMENTAL_DAGGER_CLI_BIN=/usr/local/bin/dagger
export _EXPERIMENTAL_DAGGER_RUNNER_HOST=tcp://127.0.0.1:$ENGINE_PORT
export DAGGER_NO_UPDATE_CHECK=1
export DAGGER_NO_NAG=1
export DO_NOT_TRACK=1
EOF
}

cmd_list() {
  local d
  for d in "$INSTANCES_DIR"/*/; do
    if [ -f "$d/instance.env" ]; then basename "$d"; fi
  done
  return 0
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  destroy) cmd_destroy ;;
  list) cmd_list ;;
  version) dagger_version ;;
  *) echo "usage: $0 [--instance NAME] install|start|stop|status|env|destroy|list|version" >&2; exit 2 ;;
esac

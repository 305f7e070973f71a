#!/usr/bin/env bash
# A local OCI registry (Debian's docker-registry = CNCF Distribution v2.8) for tests and CI.
#
# Why this exists: no container registry is reachable here. The Dagger engine is configured
# with a docker.io mirror pointing at this registry (tests/infra/engine/engine.sh), and
# tests/infra/baseimage/build-debian.sh pushes a debootstrapped debian:bookworm into it, so
# from_("debian:bookworm") resolves exactly as it would against Docker Hub.
#
#   registry.sh install                      apt-get install docker-registry apache2-utils (idempotent);
#                                            the package's own service is never started
#   registry.sh start [--port N] [--auth] [--auth-port M]
#                                            plain-HTTP registry on 127.0.0.1:N (5000); with --auth a
#                                            second one on 127.0.0.1:M (5001) with htpasswd basic auth.
#                                            Both share one storage dir. Idempotent.
#   registry.sh stop                         stop every instance started from this state dir
#   registry.sh status                       print state; exit 0 when the plain instance answers
#   registry.sh env                          print exports (addresses, user, password *file*)
#
# Environment:
#   TFCI_STATE (/var/lib/tfimages-ci)      state root; this script uses $TFCI_STATE/registry
#   REGISTRY_PORT (5000), REGISTRY_AUTH_PORT (5001)
#   REGISTRY_USER (tfci)                   user of the --auth instance
#   REGISTRY_PASSWORD                      its password; when unset, a random one is generated
#                                          once into $TFCI_STATE/registry/auth/password (0600)
#                                          and reused. The password is never printed.
set -euo pipefail

TFCI_STATE=${TFCI_STATE:-/var/lib/tfimages-ci}
STATE_DIR=$TFCI_STATE/registry
STORAGE_DIR=$STATE_DIR/storage
AUTH_DIR=$STATE_DIR/auth
RUN_DIR=$STATE_DIR/run
REGISTRY_BIN=/usr/bin/docker-registry
DEFAULT_PORT=${REGISTRY_PORT:-5000}
DEFAULT_AUTH_PORT=${REGISTRY_AUTH_PORT:-5001}
REGISTRY_USER=${REGISTRY_USER:-tfci}

log() { printf '[registry] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------------------------- install

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  # Keep maintainer scripts from starting services (docker-registry's would listen on *:5000).
  # Debian images usually ship /usr/sbin/policy-rc.d already; add a temporary one otherwise.
  local own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${missing[@]}"
  } >"${TMPDIR:-/tmp}/registry-apt.log" 2>&1 || rc=$?
  [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "${TMPDIR:-/tmp}/registry-apt.log" >&2
    die "apt-get failed (rc $rc)"
  fi
}

disable_package_service() {
  # We never use the packaged service (its /etc/docker/registry/config.yml listens on *:5000
  # and enables htpasswd auth with a directory as the file). Make sure it is not running.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/docker-registry ]; then
    if /etc/init.d/docker-registry status >/dev/null 2>&1; then
      log "stopping the packaged docker-registry init service"
      /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null; then
      update-rc.d docker-registry disable >/dev/null 2>&1 || true
    fi
  fi
}

cmd_install() {
  local t0; t0=$(date +%s)
  apt_install docker-registry apache2-utils curl ca-certificates openssl nginx-light skopeo
  disable_package_service
  [ -x "$REGISTRY_BIN" ] || die "$REGISTRY_BIN missing after install"
  log "install done in $(( $(date +%s) - t0 ))s ($("$REGISTRY_BIN" --version 2>/dev/null | awk '{print $NF}'))"
}

# ------------------------------------------------------------------------------ instances

pid_file() { echo "$RUN_DIR/registry-$1.pid"; }
conf_file() { echo "$STATE_DIR/config-$1.yml"; }
log_file() { echo "$STATE_DIR/registry-$1.log"; }

# Is the pid in the file alive and really our docker-registry (guards against pid reuse)?
instance_running() {
  local pf; pf=$(pid_file "$1")
  [ -f "$pf" ] || return 1
  local pid; pid=$(cat "$pf" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "serve $(conf_file "$1")"
}

port_busy() {
  # true if something already accepts connections on 127.0.0.1:$1
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

http_code() { # port [curl args...]
  local port=$1; shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "http://127.0.0.1:$port/v2/" 2>/dev/null || true
}

# curl with basic auth from a config on stdin, so the password never shows up in argv / ps.
http_code_auth() { # port
  local user pass
  user=$REGISTRY_USER
  pass=$(auth_password)
  pass=${pass//\\/\\\\}; pass=${pass//\"/\\\"}
  printf 'user = "%s:%s"\n' "$user" "$pass" | http_code "$1" -K -
}

auth_password() {
  if [ -n "${REGISTRY_PASSWORD:-}" ]; then
    printf '%s' "$REGISTRY_PASSWORD"
  else
    cat "$AUTH_DIR/password"
  fi
}

ensure_http_secret() {
  # Shared by all instances (they share storage; the secret signs upload session state).
  if [ ! -s "$STATE_DIR/http-secret" ]; then
    (umask 077; openssl rand -hex 32 >"$STATE_DIR/http-secret")
  fi
  cat "$STATE_DIR/http-secret"
}

prepare_auth() {
  mkdir -p "$AUTH_DIR" && chmod 0700 "$AUTH_DIR"
  if [ -z "${REGISTRY_PASSWORD:-}" ] && [ ! -s "$AUTH_DIR/password" ]; then
    (umask 077; openssl rand -hex 16 | tr -d '\n' >"$AUTH_DIR/password")
    log "generated a password for user '$REGISTRY_USER' into $AUTH_DIR/password"
  fi
  # Distribution 2.x only accepts bcrypt entries (-B). -i reads the password from stdin.
  (umask 077; auth_password | htpasswd -iBc "$AUTH_DIR/htpasswd.new" "$REGISTRY_USER" >/dev/null 2>&1) ||
    die "htpasswd failed"
  mv -f "$AUTH_DIR/htpasswd.new" "$AUTH_DIR/htpasswd"
}

write_config() { # port auth(0|1)
  local port=$1 auth=$2 secret
  secret=$(ensure_http_secret)
  (
    umask 077
    cat >"$(conf_file "$port")" <<EOF
# Written by tests/infra/registry/registry.sh; regenerated on every start.
version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $STORAGE_DIR
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: $secret
  headers:
    X-Content-Type-Options: [nosniff]
EOF
    if [ "$auth" = 1 ]; then
      cat >>"$(conf_file "$port")" <<EOF
auth:
  htpasswd:
    realm: tfimages-ci-registry
    path: $AUTH_DIR/htpasswd
EOF
    fi
  )
}

start_instance() { # port auth(0|1)
  local port=$1 auth=$2
  if instance_running "$port"; then
    log "127.0.0.1:$port already running (pid $(cat "$(pid_file "$port")"))"
    [ "$auth" = 1 ] && prepare_auth   # password may have changed; htpasswd is re-read per request
    return 0
  fi
  rm -f "$(pid_file "$port")"
  if port_busy "$port"; then
    die "127.0.0.1:$port is already in use by another process (the packaged docker-registry service? 'ss -ltnp')"
  fi
  [ "$auth" = 1 ] && prepare_auth
  write_config "$port" "$auth"
  log "starting on http://127.0.0.1:$port$([ "$auth" = 1 ] && echo ' (htpasswd auth)') (log: $(log_file "$port"))"
  # setsid: its own session, so a Ctrl-C / job-control signal to the caller does not hit it.
  # setsid execs in place (we are not a group leader), so $! is the registry's own pid.
  local lf; lf=$(log_file "$port")
  [ -f "$lf" ] && mv -f "$lf" "$lf.1"
  (
    # The daemon must not inherit the caller's descriptors: a held flock or the write end of a
    # pipe (`registry.sh start | tail`) would otherwise stay open for the registry's lifetime.
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid "$REGISTRY_BIN" serve "$(conf_file "$port")" </dev/null >"$lf" 2>&1
  ) &
  local pid=$!
  echo "$pid" >"$(pid_file "$port")"
  local i code
  for i in $(seq 1 150); do
    # kill -0, not instance_running: right after the fork the pid may still show bash's
    # cmdline until setsid has exec'd the registry.
    if ! kill -0 "$pid" 2>/dev/null; then
      log "registry on :$port exited; last log lines:"; tail -n 20 "$lf" >&2
      rm -f "$(pid_file "$port")"
      exit 1
    fi
    code=$(http_code "$port")
    if [ "$auth" = 1 ]; then
      if [ "$code" = 401 ] && [ "$(http_code_auth "$port")" = 200 ]; then
        log "127.0.0.1:$port ready (401 without credentials, 200 with) after $(( (i + 4) / 5 ))s"
        return 0
      fi
    elif [ "$code" = 200 ]; then
      log "127.0.0.1:$port ready after $(( (i + 4) / 5 ))s"
      return 0
    fi
    sleep 0.2
  done
  log "registry on :$port did not answer within 30s (last HTTP code ${code:-none}); log:"
  tail -n 20 "$lf" >&2
  stop_pid "$pid"
  rm -f "$(pid_file "$port")"
  exit 1
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  log "pid $pid ignored SIGTERM for 10s; SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  die "pid $pid is still alive"
}

stop_instance() { # port
  local port=$1 pf; pf=$(pid_file "$port")
  if instance_running "$port"; then
    local pid; pid=$(cat "$pf")
    log "stopping 127.0.0.1:$port (pid $pid)"
    stop_pid "$pid"
  fi
  rm -f "$pf"
}

cmd_start() {
  local port=$DEFAULT_PORT auth=0 auth_port=$DEFAULT_AUTH_PORT
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port=${2:?--port needs a value}; shift 2 ;;
      --port=*) port=${1#*=}; shift ;;
      --auth) auth=1; shift ;;
      --auth-port) auth_port=${2:?--auth-port needs a value}; shift 2 ;;
      --auth-port=*) auth_port=${1#*=}; shift ;;
      *) die "start: unknown argument '$1' (usage: start [--port N] [--auth] [--auth-port M])" ;;
    esac
  done
  [[ $port =~ ^[0-9]+$ && $auth_port =~ ^[0-9]+$ ]] || die "ports must be numbers"
  [ "$auth" = 0 ] || [ "$port" != "$auth_port" ] || die "--port and --auth-port must differ"
  [ -x "$REGISTRY_BIN" ] || die "docker-registry is not installed: run '$0 install' first"
  command -v curl >/dev/null || die "curl is required: run '$0 install' first"
  mkdir -p "$STORAGE_DIR" "$RUN_DIR"
  chmod 0700 "$STATE_DIR"
  start_instance "$port" 0
  [ "$auth" = 1 ] && start_instance "$auth_port" 1
  return 0
}

cmd_stop() {
  local pf port
  shopt -s nullglob
  for pf in "$RUN_DIR"/registry-*.pid; do
    port=${pf##*/registry-}; port=${port%.pid}
    stop_instance "$port"
  done
  # Instances whose pid file was lost: match only our own config paths, never a broad name.
  local pid
  for pid in $(pgrep -f "^$REGISTRY_BIN serve $STATE_DIR/config-[0-9]+\.yml" 2>/dev/null || true); do
    log "stopping stray registry pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null))"
    stop_pid "$pid"
  done
  return 0
}

cmd_status() {
  local pf port any=0 rc=1 code
  shopt -s nullglob
  for pf in "$RUN_DIR"/registry-*.pid; do
    port=${pf##*/registry-}; port=${port%.pid}
    any=1
    if instance_running "$port"; then
      code=$(http_code "$port")
      if grep -q '^auth:' "$(conf_file "$port")" 2>/dev/null; then
        echo "127.0.0.1:$port running pid $(cat "$pf") auth=htpasswd /v2/ -> $code (no credentials)"
      else
        echo "127.0.0.1:$port running pid $(cat "$pf") auth=none /v2/ -> $code"
        [ "$port" = "$DEFAULT_PORT" ] && [ "$code" = 200 ] && rc=0
      fi
    else
      echo "127.0.0.1:$port not running (stale pid file)"
    fi
  done
  [ "$any" = 1 ] || echo "not running"
  echo "storage: $STORAGE_DIR ($(du -sh "$STORAGE_DIR" 2>/dev/null | cut -f1 || echo 0))"
  return $rc
}

cmd_env() {
  cat <<EOF
export REGISTRY_MIRROR=127.0.0.1:$DEFAULT_PORT
export REGISTRY_AUTH_ADDR=127.0.0.1:$DEFAULT_AUTH_PORT
export REGISTRY_USER=$REGISTRY_USER
EOF
  if [ -z "${REGISTRY_PASSWORD:-}" ]; then
    echo "export REGISTRY_PASSWORD_FILE=$AUTH_DIR/password"
  fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  install) cmd_install ;;
  start) cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 install | start [--port N] [--auth] [--auth-port M] | stop | status | env" >&2; exit 2 ;;
esac

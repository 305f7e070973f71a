#!/usr/bin/env bash
# Registries that behave like GHCR and Docker Hub, for the release-path tests.
#
# Why this exists: the plain and basic-auth registries of registry.sh serve blobs directly and take
# a password on every request. Real registries do neither: they speak HTTPS, send the client to a
# token service (Bearer auth with short-lived JWTs scoped to one repository and action) and answer
# blob GETs with a redirect to a separate storage host, which must never see the registry
# credentials (a presigned storage URL refuses a request that carries an Authorization header).
# Two such registries, "staging" and "release", each with its own user and token service:
#
#   staging  https://127.0.0.1:5002  token https://localhost:5003/token  storage https://localhost:5004
#   release  https://127.0.0.1:5012  token https://localhost:5013/token  storage https://localhost:5014
#   release, through a fault-injecting front: https://127.0.0.1:5022 (nginx reverse proxy): a
#            manifest PUT for tag T answers 503 while the file $TFCI_RELEASE_FAULTS/T exists
#
# Pieces (all Debian packages plus this repository's token_service.py):
# - Distribution (docker-registry 2.8) with TLS, `auth: token` and the `redirect` storage middleware,
#   which answers blob GET/HEAD with 307 to the storage host (as S3/CDN-backed registries do);
# - token_service.py (PyJWT) issuing RS256 JWTs; its log names every account that asked;
# - nginx as the storage hosts, serving the registries' blob files under another host name
#   (`localhost`, while the registries are `127.0.0.1`: HTTP clients compare host names, so a
#   redirect there is a redirect to another host and drops the Authorization header), refusing any
#   request with an Authorization header (400, like S3 presigned URLs) and logging whether one was
#   present (never its value).
# Why DNS names for the token realm and the storage host: real registries name them by DNS
# (ghcr.io/token, auth.docker.io, a CDN host), and go-containerregistry (cosign v3) refuses a token
# realm or a redirect that is a private or loopback IP literal on another host:port ("realm host
# "127.0.0.1" is a private or link-local address"). `localhost` is such a name on every machine.
# One test CA signs every TLS certificate: clients trust it with --registry-ca-cert / cert dirs; the
# engine trusts it through engine-registries.toml, which engine.sh appends to its engine.toml.
#
#   realistic.sh start | stop | status | env
#
# Environment: TFCI_STATE (/var/lib/tfimages-ci), TFCI_PYTHON (python with PyJWT; default: the
# repository's .venv/bin/python).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
TFCI_STATE=${TFCI_STATE:-/var/lib/tfimages-ci}
BASE=$TFCI_STATE/registry/realistic
TLS=$BASE/tls
RUN=$BASE/run
REGISTRY_BIN=/usr/bin/docker-registry
PYTHON=${TFCI_PYTHON:-$REPO/.venv/bin/python}
INSTANCES=(staging release)

log() { printf '[realistic] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# name -> "registry_port token_port storage_port"
ports() {
  case "$1" in
    staging) echo "5002 5003 5004" ;;
    release) echo "5012 5013 5014" ;;
    *) die "unknown instance $1" ;;
  esac
}

# ------------------------------------------------------------------------------------ TLS

make_tls() {
  mkdir -p "$TLS" && chmod 0700 "$TLS"
  [ -s "$TLS/ca.crt" ] && [ -s "$TLS/server.crt" ] && [ -s "$TLS/token-signing.crt" ] && return 0
  log "creating the test CA and certificates in $TLS"
  (
    umask 077
    cd "$TLS"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tfimages-ci test CA" \
      -keyout ca.key -out ca.crt -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr \
      >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.crt >/dev/null 2>&1
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=tfimages-ci token signer" \
      -keyout token-signing.key -out token-signing.crt >/dev/null 2>&1
    rm -f server.csr server.ext ca.srl
  )
  chmod 0644 "$TLS/ca.crt"
}

# ----------------------------------------------------------------------------- processes

pid_alive() { # pidfile
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# spawn PIDFILE LOGFILE CMD...: a daemon in its own session with no inherited descriptors.
spawn() {
  local pidfile=$1 logfile=$2; shift 2
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid "$@" </dev/null >>"$logfile" 2>&1
  ) &
  echo $! >"$pidfile"
}

stop_pidfile() {
  local pidfile=$1 pid
  pid_alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

wait_https() { # url expected_code what
  local code
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$TLS/ca.crt" "$1" || true)
    [ "$code" = "$2" ] && return 0
    sleep 0.1
  done
  die "$3 did not answer $2 at $1 (last: ${code:-none})"
}

user_of() { echo "tfci-$1"; }

password_file() { echo "$BASE/$1/password"; }

start_instance() {
  local name=$1 rport tport sport dir
  read -r rport tport sport <<<"$(ports "$name")"
  dir=$BASE/$name
  mkdir -p "$dir/storage" && chmod 0700 "$dir"
  if [ ! -s "$(password_file "$name")" ]; then
    (umask 077; openssl rand -hex 16 | tr -d '\n' >"$(password_file "$name")")
  fi
  (umask 077; printf '%s:%s\n' "$(user_of "$name")" "$(cat "$(password_file "$name")")" >"$dir/users")

  if ! pid_alive "$RUN/token-$name.pid"; then
    "$PYTHON" -c 'import jwt, cryptography' 2>/dev/null ||
      die "$PYTHON lacks PyJWT/cryptography: run .venv/bin/pip install -e '.[dev]' (or set TFCI_PYTHON)"
    : >"$dir/token.log"
    spawn "$RUN/token-$name.pid" "$dir/token.log" "$PYTHON" "$HERE/token_service.py" \
      --listen "127.0.0.1:$tport" --service "tfci-$name" --issuer "tfci-token-service" \
      --users "$dir/users" --signing-key "$TLS/token-signing.key" --signing-cert "$TLS/token-signing.crt" \
      --tls-cert "$TLS/server.crt" --tls-key "$TLS/server.key"
  fi

  if ! pid_alive "$RUN/registry-$name.pid"; then
    (
      umask 077
      cat >"$dir/config.yml" <<EOF
# Written by tests/infra/registry/realistic.sh; regenerated on every start.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  redirect:
    disable: false
  maintenance:
    uploadpurging:
      enabled: false
middleware:
  storage:
    - name: redirect
      options:
        baseurl: https://localhost:$sport
http:
  addr: 127.0.0.1:$rport
  secret: $(openssl rand -hex 32)
  tls:
    certificate: $TLS/server.crt
    key: $TLS/server.key
auth:
  token:
    realm: https://localhost:$tport/token
    service: tfci-$name
    issuer: tfci-token-service
    rootcertbundle: $TLS/token-signing.crt
EOF
    )
    spawn "$RUN/registry-$name.pid" "$dir/registry.log" "$REGISTRY_BIN" serve "$dir/config.yml"
  fi
}

nginx_conf() {
  local name rport tport sport
  cat <<EOF
# Written by tests/infra/registry/realistic.sh: the storage hosts of the realistic registries.
daemon off;
user root;
worker_processes 1;
pid $RUN/nginx.pid;
error_log $BASE/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  sendfile on;
  types { application/octet-stream data; }
  default_type application/octet-stream;
  # Whether a request carried an Authorization header: logged as a word, never the value.
  map \$http_authorization \$auth_header { "" "none"; default "PRESENT"; }
  log_format storage '\$remote_addr "\$request" \$status auth=\$auth_header';
EOF
  for name in "${INSTANCES[@]}"; do
    read -r rport tport sport <<<"$(ports "$name")"
    cat <<EOF
  server {
    listen 127.0.0.1:$sport ssl;
    ssl_certificate $TLS/server.crt;
    ssl_certificate_key $TLS/server.key;
    access_log $BASE/$name/storage-access.log storage;
    root $BASE/$name/storage;
    location /docker/registry/v2/blobs/ {
      # A presigned storage URL refuses a second auth mechanism, as S3 does (400).
      if (\$http_authorization != "") { return 400 "Authorization header not allowed with a presigned URL\n"; }
      limit_except GET HEAD { deny all; }
    }
    location / { return 404; }
  }
EOF
  done
  cat <<EOF
  server {
    # The release registry behind a front that can fail chosen tags, like a registry having a bad
    # minute in the middle of a promotion.
    listen 127.0.0.1:5022 ssl;
    ssl_certificate $TLS/server.crt;
    ssl_certificate_key $TLS/server.key;
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    location ~ ^/v2/.+/manifests/(?<ref>[^/]+)\$ {
      set \$fault "";
      if (\$request_method = PUT) { set \$fault "$BASE/release/faults/\$ref"; }
      if (-f \$fault) { return 503 '{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'; }
      proxy_pass https://127.0.0.1:5012;
      proxy_set_header Host \$host:\$server_port;
      proxy_set_header X-Forwarded-Proto https;
    }
    location / {
      proxy_pass https://127.0.0.1:5012;
      proxy_set_header Host \$host:\$server_port;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
EOF
  echo "}"
}

cmd_start() {
  [ -x "$REGISTRY_BIN" ] || die "docker-registry missing: run registry.sh install"
  command -v nginx >/dev/null || die "nginx missing: run registry.sh install"
  mkdir -p "$BASE" "$RUN" && chmod 0700 "$BASE"
  make_tls
  local name rport tport sport
  for name in "${INSTANCES[@]}"; do start_instance "$name"; done
  mkdir -p "$BASE/release/faults"
  if ! pid_alive "$RUN/nginx.pid.spawn"; then
    nginx_conf >"$BASE/nginx.conf"
    spawn "$RUN/nginx.pid.spawn" "$BASE/nginx-error.log" nginx -c "$BASE/nginx.conf" -p "$BASE"
  fi
  for name in "${INSTANCES[@]}"; do
    read -r rport tport sport <<<"$(ports "$name")"
    wait_https "https://127.0.0.1:$rport/v2/" 401 "registry $name"
    wait_https "https://localhost:$tport/token?service=tfci-$name" 200 "token service $name"
    wait_https "https://localhost:$sport/docker/registry/v2/blobs/sha256/00/none/data" 404 "storage $name"
  done
  wait_https "https://127.0.0.1:5022/v2/" 401 "release front"
  engine_fragment >"$BASE/engine-registries.toml"
  log "staging https://127.0.0.1:5002, release https://127.0.0.1:5012 (token auth, blob redirects) ready"
}

# BuildKit registry settings for engine.toml: trust the test CA for the registries (and, through
# the same client, their token services and storage hosts).
engine_fragment() {
  local name rport tport sport
  for name in "${INSTANCES[@]}"; do
    read -r rport tport sport <<<"$(ports "$name")"
    printf '[registry."127.0.0.1:%s"]\n  http = false\n  ca = ["%s"]\n' "$rport" "$TLS/ca.crt"
  done
}

cmd_stop() {
  local name
  stop_pidfile "$RUN/nginx.pid.spawn"
  for name in "${INSTANCES[@]}"; do
    stop_pidfile "$RUN/registry-$name.pid"
    stop_pidfile "$RUN/token-$name.pid"
  done
  return 0
}

cmd_status() {
  local name rc=0
  for name in "${INSTANCES[@]}"; do
    for part in registry token; do
      if pid_alive "$RUN/$part-$name.pid"; then echo "$name $part running"; else echo "$name $part stopped"; rc=1; fi
    done
  done
  if pid_alive "$RUN/nginx.pid.spawn"; then echo "storage nginx running"; else echo "storage nginx stopped"; rc=1; fi
  return $rc
}

cmd_env() {
  local name upper rport tport sport
  echo "export TFCI_REGISTRY_CA=$TLS/ca.crt"
  for name in "${INSTANCES[@]}"; do
    read -r rport tport sport <<<"$(ports "$name")"
    upper=$(echo "$name" | tr '[:lower:]' '[:upper:]')
    echo "export TFCI_${upper}_REGISTRY=127.0.0.1:$rport"
    echo "export TFCI_${upper}_USER=$(user_of "$name")"
    echo "export TFCI_${upper}_PASSWORD_FILE=$(password_file "$name")"
    echo "export TFCI_${upper}_TOKEN_LOG=$BASE/$name/token.log"
    echo "export TFCI_${upper}_STORAGE_LOG=$BASE/$name/storage-access.log"
    echo "export TFCI_${upper}_STORAGE_HOST=localhost:$sport"
  done
  echo "export TFCI_RELEASE_FRONT=127.0.0.1:5022"
  echo "export TFCI_RELEASE_FAULTS=$BASE/release/faults"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac

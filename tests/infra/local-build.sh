#!/usr/bin/env bash
# Build and check an image on a machine without Docker, in one command (run as root):
#
#   bash tests/infra/local-build.sh --tf 2.15.0 [more `ci/main.py build` flags]
#
# It does what the test fixture does, then the build:
#   1. a virtualenv with the project in .venv, when there is none;
#   2. an engine: the one $_EXPERIMENTAL_DAGGER_RUNNER_HOST names; else this repository's offline
#      stack (tests/infra/stack.sh: a Dagger engine built from Go modules, local registries, a
#      debootstrapped debian:bookworm), started if it is not running and stopped again afterwards
#      when this script started it (KEEP_STACK=1 leaves it running for the next build);
#   3. `python ci/main.py build` with the options that work offline, each only when not given:
#      --os debian12 and --python-source system (Python 3.11: repo.anaconda.com and Docker Hub are
#      not needed), --cuda-source pip for --variant gpu (nvidia/cuda bases cannot be pulled), and
#      --ca-cert with the host's CA bundle (which holds a TLS-intercepting proxy's CA, if any).
#
# Users with Docker and internet do not need this: `dagger run python ci/main.py build ...`.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STACK=$REPO/tests/infra/stack.sh
HOST_CA=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
t0=$(date +%s)

say() { printf '[local-build %4ds] %s\n' $(( $(date +%s) - t0 )) "$*" >&2; }

has_flag() {
  local flag=$1 arg
  shift
  for arg in "$@"; do
    [ "$arg" = "$flag" ] || [ "${arg%%=*}" = "$flag" ] && return 0
  done
  return 1
}

flag_value() {
  local flag=$1 previous="" arg
  shift
  for arg in "$@"; do
    if [ "$previous" = "$flag" ]; then printf '%s' "$arg"; return 0; fi
    if [ "${arg%%=*}" = "$flag" ] && [ "$arg" != "$flag" ]; then printf '%s' "${arg#*=}"; return 0; fi
    previous=$arg
  done
  return 0
}

cd "$REPO"

if [ ! -x .venv/bin/python ]; then
  say "creating .venv and installing the project"
  python3 -m venv .venv
  .venv/bin/pip install -q -e '.[dev]'  # dev: the stack's test registries need PyJWT
fi

if [ -n "${_EXPERIMENTAL_DAGGER_RUNNER_HOST:-}" ]; then
  say "using the engine at $_EXPERIMENTAL_DAGGER_RUNNER_HOST"
else
  if bash "$STACK" status >/dev/null 2>&1; then
    say "using the running offline stack (tests/infra/stack.sh)"
  else
    if [ "$(id -u)" -ne 0 ]; then
      echo "error: no engine configured and the offline stack needs root to start; run as root," \
        "or set _EXPERIMENTAL_DAGGER_RUNNER_HOST, or use 'dagger run' with Docker" >&2
      exit 2
    fi
    say "starting the offline stack (first time: the engine builds from Go modules, about 4 minutes)"
    if [ "${KEEP_STACK:-0}" != 1 ]; then
      trap 'say "stopping the offline stack"; bash "$STACK" down >/dev/null 2>&1 || true' EXIT
    fi
    bash "$STACK" up
  fi
  eval "$(bash "$STACK" env)"
fi

args=("$@")
variant=$(flag_value --variant "$@")
cuda_source=$(flag_value --cuda-source "$@")
if [ "$variant" = gpu ] && [ -z "$cuda_source" ] && ! has_flag --gpu-base "$@"; then
  args+=(--cuda-source pip)
  cuda_source=pip
fi
if [ "$cuda_source" != base ] && ! has_flag --os "$@" && ! has_flag --gpu-base "$@"; then
  args+=(--os debian12)
fi
if ! has_flag --python-source "$@"; then
  args+=(--python-source system)
  has_flag --python "$@" || args+=(--python 3.11)
fi
if ! has_flag --ca-cert "$@" && [ -f "$HOST_CA" ]; then
  args+=(--ca-cert "$HOST_CA")
fi

say "python ci/main.py build ${args[*]}"
status=0
.venv/bin/python ci/main.py build "${args[@]}" || status=$?
say "done (exit $status)"
exit "$status"

#!/usr/bin/env bash
# The Go tools the pipeline and CI run, built from the Go module proxy at pinned versions and cached
# outside the repository like the engine binaries: $TFCI_CACHE/<tool>/<version>/<tool>.
#
#   syft         SBOM of each exported image (CycloneDX)          github.com/anchore/syft
#   osv-scanner  vulnerability scan of that SBOM (OSV database)   github.com/google/osv-scanner/v2
#   cosign       signatures and attestations (Sigstore)           github.com/sigstore/cosign/v3
#   actionlint   the workflows' lint (.ci/run)                    github.com/rhysd/actionlint
#   act          runs the workflows locally (tests/e2e)           github.com/nektos/act
#
#   tools.sh install [TOOL...]   build what is missing (default: syft osv-scanner cosign); one line
#                                per tool with its time; a failed build prints the end of its log
#   tools.sh env                 exports naming the binaries: TFCI_SYFT, TFCI_OSV_SCANNER, TFCI_COSIGN
#   tools.sh path TOOL           the binary's path (built or not)
#
# Why one script: .ci/run, `stack.sh up` (so the test fixture gets them too) and the workflow need the
# same pins built the same way; this is the only place their versions live. Why built and not
# downloaded: this project's CI reaches the Go module proxy but not GitHub's release downloads.
# Each tool has its own lock, so .ci/run can start the builds in the background early and
# `stack.sh up` (which also asks for them) simply waits for the same builds instead of repeating them.
set -euo pipefail

CACHE=${TFCI_CACHE:-/var/cache/tfimages-ci}
DEFAULT_TOOLS=(syft osv-scanner cosign)

# tool -> "go package@version" and extra link flags. syft prints its version into every SBOM it
# writes (metadata.tools): without -X main.version it says "[not provided]".
version_of() {
  case "$1" in
    syft) echo v1.57.1 ;;
    osv-scanner) echo v2.5.0 ;;  # v2.6.0 needs Go >= 1.27
    cosign) echo v3.1.3 ;;
    actionlint) echo v1.7.12 ;;
    act) echo v0.2.89 ;;
    *) echo "tools.sh: unknown tool $1 (known: syft osv-scanner cosign actionlint act)" >&2; exit 2 ;;
  esac
}

package_of() {
  case "$1" in
    syft) echo github.com/anchore/syft/cmd/syft ;;
    osv-scanner) echo github.com/google/osv-scanner/v2/cmd/osv-scanner ;;
    cosign) echo github.com/sigstore/cosign/v3/cmd/cosign ;;
    actionlint) echo github.com/rhysd/actionlint/cmd/actionlint ;;
    act) echo github.com/nektos/act ;;
  esac
}

ldflags_of() {
  case "$1" in
    syft) echo "-X main.version=$(version_of syft)" ;;
    *) echo "" ;;
  esac
}

path_of() { echo "$CACHE/$1/$(version_of "$1")/$1"; }

log() { printf '[tools] %s\n' "$*" >&2; }

install_one() {
  local tool=$1 version bin dir t0 build_log tmp
  version=$(version_of "$tool")
  bin=$(path_of "$tool")
  dir=$(dirname "$bin")
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9  # another install of the same tool (e.g. .ci/run's background one) finishes first
  if [ -x "$bin" ]; then
    log "$tool $version: cached"
    exec 9>&-
    return 0
  fi
  command -v go >/dev/null || { log "$tool: go is not installed (needs Go >= 1.26)"; exit 1; }
  t0=$(date +%s)
  build_log=$dir/build.log
  tmp=$(mktemp -d "$dir/.build.XXXXXX")
  log "$tool $version: building from the Go module proxy (cold: minutes)"
  if ! GOBIN=$tmp GOFLAGS='' CGO_ENABLED=0 \
      go install -ldflags "$(ldflags_of "$tool")" "$(package_of "$tool")@$version" >"$build_log" 2>&1; then
    log "$tool $version: build FAILED; last lines of $build_log:"
    tail -n 20 "$build_log" >&2
    rm -rf "$tmp"
    exit 1
  fi
  mv "$tmp/$tool" "$bin"  # atomic: a build killed half way never leaves a binary behind
  rm -rf "$tmp"
  log "$tool $version: built in $(( $(date +%s) - t0 ))s"
  exec 9>&-
}

cmd_install() {
  local tools=("$@") tool
  [ ${#tools[@]} -gt 0 ] || tools=("${DEFAULT_TOOLS[@]}")
  for tool in "${tools[@]}"; do version_of "$tool" >/dev/null; done
  for tool in "${tools[@]}"; do install_one "$tool"; done
}

cmd_env() {
  echo "export TFCI_SYFT=$(path_of syft)"
  echo "export TFCI_OSV_SCANNER=$(path_of osv-scanner)"
  echo "export TFCI_COSIGN=$(path_of cosign)"
}

case "${1:-}" in
  install) shift; cmd_install "$@" ;;
  env) cmd_env ;;
  path) [ -n "${2:-}" ] || { echo "usage: $0 path TOOL" >&2; exit 2; }; version_of "$2" >/dev/null; path_of "$2" ;;
  *) echo "usage: $0 install [TOOL...] | env | path TOOL" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# act (nektos/act), a GitHub Actions runner that runs .github/workflows on this host, built from the
# Go module proxy at a pinned version and cached like the engine binaries and actionlint.
#   act.sh install    build it if missing; print the binary's path
# Environment: TFCI_CACHE (/var/cache/tfimages-ci).
set -euo pipefail
ACT_VERSION=v0.2.89
act=${TFCI_CACHE:-/var/cache/tfimages-ci}/act/$ACT_VERSION/act
case "${1:-}" in
  install)
    if [ ! -x "$act" ]; then
      echo "[act] building act $ACT_VERSION from the Go module proxy (about 2 minutes, once)" >&2
      GOBIN=$(dirname "$act") GOFLAGS='' CGO_ENABLED=0 go install "github.com/nektos/act@$ACT_VERSION" >&2
    fi
    echo "$act"
    ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac

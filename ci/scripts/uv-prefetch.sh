#!/usr/bin/env bash
# Download the image's wheels into the uv cache volume, nothing else (a side container: no image
# layer references it, so it changes no layer's cache key).
#   uv-prefetch.sh JUPYTER_REQUIREMENT... -- TENSORFLOW_REQUIREMENT...
#   TFCI_UV               the pinned uv binary (mounted)
#   TFCI_PYTHON_VERSION   the image's Python (X.Y): wheels are chosen for it, not for this python3
#   TFCI_SCRATCH          a directory on the uv volume's own mount (uv hardlinks from its cache there)
#   TFCI_CONSTRAINTS      (optional) the TensorFlow layer's constraints file
# uv needs an interpreter to run at all (this container's python3); it resolves for the image's
# Python and the base's glibc. The two runs mirror the layers: TensorFlow is resolved with the
# Jupyter set present, as its layer sees it, so exactly the wheels the layers will ask for are fetched.
set -euo pipefail

jupyter=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do jupyter+=("$1"); shift; done
shift

glibc=$(getconf GNU_LIBC_VERSION | cut -d' ' -f2 | tr . _)
mkdir -p "$TFCI_SCRATCH"
target=$(mktemp -d "$TFCI_SCRATCH/prefetch.XXXXXX")
trap 'rm -rf "$target"' EXIT

args=(pip install --target "$target" --python "$(command -v python3)"
  --python-version "$TFCI_PYTHON_VERSION" --python-platform "$(uname -m)-manylinux_$glibc")
"$TFCI_UV" "${args[@]}" "${jupyter[@]}"
if [ -n "${TFCI_CONSTRAINTS:-}" ]; then args+=(--constraints "$TFCI_CONSTRAINTS"); fi
"$TFCI_UV" "${args[@]}" "$@"

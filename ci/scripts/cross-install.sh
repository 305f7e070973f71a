#!/usr/bin/env bash
# Install REQUIREMENT... into the image's Python of an emulated platform, with native tools only
# (ci/build/cross.py says why). Run in the image's own container:
#   TFCI_UV           uv, a static binary for the engine's machine (runs natively under binfmt)
#   TFCI_PYTHON       the image's interpreter (emulated: uv starts it once for its markers and tags)
#   TFCI_PREFIX       its prefix; TFCI_SITE its site-packages
#   TFCI_CONSTRAINTS  a constraints file (unset without constraints)
#   TFCI_NATIVE_*     the same Python release built for the engine's machine: its dynamic loader,
#                     library path, home and binary (mounted from the native Python layer)
#   TFCI_COMPILE      ci/scripts/compile-bytecode.py
#   UV_*              uv's cache, link mode and uv.toml (the indexes), as ci/build/pip.py sets them
set -euo pipefail

native() {
  PYTHONHOME=$TFCI_NATIVE_HOME PYTHONDONTWRITEBYTECODE=1 \
    "$TFCI_NATIVE_LOADER" --library-path "$TFCI_NATIVE_LIBS" "$TFCI_NATIVE_PYTHON" "$@"
}

# The native interpreter must be the image's Python release: a .pyc is valid for one magic number.
want=$("$TFCI_PYTHON" -c 'import sys; print(sys.version.split()[0])')
have=$(native -c 'import sys; print(sys.version.split()[0])')
if [ "$want" != "$have" ]; then
  echo "the image's Python is $want but the native one is $have: its bytecode would not match" >&2
  exit 1
fi

args=(--python "$TFCI_PYTHON")
if [ -n "${TFCI_CONSTRAINTS:-}" ] && [ -s "$TFCI_CONSTRAINTS" ]; then args+=(--constraints "$TFCI_CONSTRAINTS"); fi
"$TFCI_UV" pip install "${args[@]}" "$@"
rm -f "$TFCI_PREFIX/.lock"   # uv's environment lock: not part of an installed environment

native "$TFCI_COMPILE" "$TFCI_SITE"

#!/usr/bin/env bash
# uv pip install REQUIREMENT... into the image's Python, from uv's cache in a cache volume.
#   TFCI_UV           the pinned uv binary, mounted for this exec only (never in the image)
#   TFCI_PYTHON       the image's interpreter, e.g. /opt/python/bin/python
#   TFCI_CONSTRAINTS  (optional) a constraints file
#   TFCI_COMPILEALL   (optional) site-packages to compile with compileall (Pythons uv cannot compile for)
# Everything else is uv's own configuration: UV_* variables (cache directory, link mode, bytecode,
# index strategy, index credentials) and the mounted uv.toml (the indexes). uv prints what it
# resolved, downloaded ("Prepared": absent when everything came from the cache) and installed.
set -euo pipefail

# uv takes an environment lock (<prefix>/.lock, mode 0666) while it installs: not image content.
prefix=$("$TFCI_PYTHON" -c 'import sys; print(sys.prefix)')
lock=$prefix/.lock
keep_lock=0
if [ -e "$lock" ]; then keep_lock=1; fi

args=(pip install --python "$TFCI_PYTHON")
if [ -n "${TFCI_CONSTRAINTS:-}" ]; then args+=(--constraints "$TFCI_CONSTRAINTS"); fi
"$TFCI_UV" "${args[@]}" "$@"

if [ "$keep_lock" = 0 ]; then rm -f "$lock"; fi
# As pip does: a file that does not compile (e.g. Python 2 syntax in a test file) just gets no .pyc.
if [ -n "${TFCI_COMPILEALL:-}" ]; then "$TFCI_PYTHON" -m compileall -q "$TFCI_COMPILEALL" >/dev/null || true; fi

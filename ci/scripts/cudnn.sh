#!/usr/bin/env bash
# Where is cuDNN, and which version? Prints one first line "header PATH" (then the header),
# "pip VERSION DIST" or "lib REALPATH"; exit 1 when none is found.
#   cudnn.sh SITE_PACKAGES PYTHON [DIST]   (DIST: the pinned cuDNN wheel of a pip-CUDA image)
set -uo pipefail
site=$1 python=$2 dist=${3:-}
for h in /usr/include/cudnn_version.h /usr/include/x86_64-linux-gnu/cudnn_version_v*.h \
  /usr/local/cuda/include/cudnn_version.h "$site"/nvidia/cudnn/include/cudnn_version.h \
  /usr/include/cudnn.h; do
  if [ -f "$h" ] && grep -q CUDNN_MAJOR "$h"; then echo "header $h"; cat "$h"; exit 0; fi
done
if [ -n "$dist" ]; then
  v=$("$python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$dist" 2>/dev/null)
  if [ -n "$v" ]; then echo "pip $v $dist"; exit 0; fi
fi
lib=$(find / \( -path /proc -o -path /sys \) -prune -o -name 'libcudnn.so.[0-9]*' -print 2>/dev/null | head -1)
# The soname link (libcudnn.so.8) names only the major; the file it points to names the full version.
if [ -n "$lib" ]; then echo "lib $(readlink -f "$lib")"; exit 0; fi
echo "no cuDNN found" >&2
exit 1

#!/usr/bin/env bash
# A venv at PREFIX over the base OS's own python3, which must be Python WANT.
#   system-python.sh WANT PREFIX BASE_IMAGE
set -euo pipefail
want=$1 prefix=$2 base=$3
have=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$have" != "$want" ]; then
  echo "python_source=system: the base image $base has Python $have, but this image is" \
    "specified for Python $want; choose --python $have or --python-source miniconda" >&2
  exit 1
fi
python3 -m venv "$prefix"

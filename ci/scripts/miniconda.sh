#!/usr/bin/env bash
# Install Miniconda into PREFIX from a sha256-pinned installer, verified before it runs.
#   miniconda.sh FILENAME SHA256 PREFIX PYTHON_VERSION
#   TFCI_MINICONDA_LOCAL (optional) a mounted local installer: used instead of downloading
#   TFCI_MINICONDA_URL   the installer's URL (may carry credentials: a Dagger secret)
#   TFCI_MINICONDA_CACHE the cache volume downloads land in (never a layer); re-verified on every use
set -euo pipefail
filename=$1 sha256=$2 prefix=$3 want=$4

if [ -n "${TFCI_MINICONDA_LOCAL:-}" ]; then
  cp "$TFCI_MINICONDA_LOCAL" /tmp/miniconda.sh
else
  cached=$TFCI_MINICONDA_CACHE/$filename
  if ! echo "$sha256  $cached" | sha256sum -c - >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$cached.$$" "$TFCI_MINICONDA_URL"
    mv "$cached.$$" "$cached"
  fi
  cp "$cached" /tmp/miniconda.sh
fi
echo "$sha256  /tmp/miniconda.sh" | sha256sum -c - || {
  echo "Miniconda installer $filename: sha256 mismatch; NOT running it" >&2
  exit 1
}
bash /tmp/miniconda.sh -b -p "$prefix"
rm -f /tmp/miniconda.sh
"$prefix/bin/conda" clean -afy >/dev/null
have=$("$prefix/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$have" = "$want" ] || { echo "$filename ships Python $have, not $want" >&2; exit 1; }

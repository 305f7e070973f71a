#!/usr/bin/env bash
# pip install REQUIREMENT... into the image's Python through a wheelhouse in the pip cache volume.
#   TFCI_PYTHON        the image's interpreter, e.g. /opt/python/bin/python
#   TFCI_PIP_CACHE     the pip cache volume (pip's own HTTP cache plus the wheelhouse)
#   TFCI_CONSTRAINTS   a pip constraints file (may be empty)
#   TFCI_EXTRA_INDEXES (optional) space-separated extra index URLs the requirements need
#   PIP_INDEX_URL / PIP_EXTRA_INDEX_URL (optional) mirrors, read by pip itself
# Why a wheelhouse: pip's HTTP cache honours Cache-Control, and a proxy that strips it makes pip
# store nothing. So the requirements are resolved online into a wheel directory (`pip wheel`;
# wheels already in the wheelhouse come from there, sdists are built once), new wheels are added
# to the wheelhouse (a PEP 503 index, one directory per project with an index.html, listed as the
# LAST extra index: pip 23 takes the last index's copy of a file several sources offer), and the
# install runs with --no-index from that directory. The line starting with "[tfci-pip] wheels:"
# says how many wheels were reused and how many downloaded (the benchmark and tests read it).
set -euo pipefail

wheelhouse=$TFCI_PIP_CACHE/tfci-wheelhouse
mkdir -p "$wheelhouse" "$TFCI_PIP_CACHE/tfci-tmp"
work=$(mktemp -d "$TFCI_PIP_CACHE/tfci-tmp/pip.XXXXXX")
trap 'rm -rf "$work"' EXIT

indexes=()
for index in ${TFCI_EXTRA_INDEXES:-}; do indexes+=(--extra-index-url "$index"); done

"$TFCI_PYTHON" -m pip wheel --wheel-dir "$work/resolved" --constraint "$TFCI_CONSTRAINTS" \
  "${indexes[@]}" --extra-index-url "file://$wheelhouse/" "$@"

reused=0 new=0 new_bytes=0
for wheel in "$work"/resolved/*.whl; do
  file=${wheel##*/}
  dir=$wheelhouse/$(echo "${file%%-*}" | tr '[:upper:]' '[:lower:]' | sed -E 's/[-_.]+/-/g')
  if [ -e "$dir/$file" ]; then reused=$((reused + 1)); continue; fi
  new=$((new + 1)); new_bytes=$((new_bytes + $(stat -c %s "$wheel")))
  mkdir -p "$dir"
  # same file system: hard link + rename publish atomically for builds running concurrently
  ln -f "$wheel" "$dir/.$file.$$" && mv -f "$dir/.$file.$$" "$dir/$file"
  for w in "$dir"/*.whl; do printf '<a href="%s">%s</a><br>\n' "${w##*/}" "${w##*/}"; done \
    >"$dir/.index.$$" && mv -f "$dir/.index.$$" "$dir/index.html"
done
echo "[tfci-pip] wheels: $reused reused, $new new ($new_bytes bytes)"

"$TFCI_PYTHON" -m pip install --no-index --find-links "$work/resolved" --constraint "$TFCI_CONSTRAINTS" "$@"

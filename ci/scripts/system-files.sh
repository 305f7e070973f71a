#!/usr/bin/env bash
# The system_files layer: copy the system tree into the image, then run `init.py --build`.
#   $1  the tree, mounted for this exec (ci.build.trees.runtime_tree: context/'s init/, profile.d/
#       and ssh/ under /init, and /etc/tfimage/contract.env; fixed modes and times)
#   $2  the image's Python
#   $3  where context/ lands in the image (/init)
# Why a copy inside the exec rather than a Container.with_directory before it: in Dagger v0.19.10
# that call is an engine-side operation whose cache key needs a content hash of the whole root
# file system below it, which a fresh engine restoring from a registry cache only gets by pulling,
# unpacking and hashing every layer (17 s for the CPU image); an exec's key needs none of that.
set -euo pipefail
tree=$1
python=$2
init_dir=$3

# As root, the copies belong to root whatever user laid the tree out; modes and times are the tree's.
cp -R --preserve=mode,timestamps "$tree"/. /
"$python" "$init_dir/init/init.py" --build

#!/usr/bin/env bash
# Build a Debian base image (debian:bookworm) without any registry or container runtime, and
# push it into the local registry (tests/infra/registry/registry.sh), so that a Dagger engine
# with a docker.io mirror -> 127.0.0.1:5000 resolves from_("debian:bookworm") as from Docker Hub.
#
#   build-debian.sh [--rebuild] [--no-push] [--registry HOST:PORT] [--arch LIST]
#
# One image per Debian architecture of LIST (--arch or BASE_ARCHES; default amd64,arm64, the
# host's first), each built the same way: debootstrap --variant=minbase, apply bookworm-updates/
# -security, clean, pack with umoci into an OCI layout, export an oci-archive. A foreign
# architecture runs through qemu's binfmt_misc handler (tests/infra/binfmt.sh registers it):
# debootstrap's second stage and the upgrade chroot run its binaries transparently, so the only
# difference is --arch=arm64 (about 8-9 min instead of 2 on a 2-core machine, once a month).
# Several architectures become ONE OCI image index (the same under every tag), pushed with
# `skopeo copy --all --preserve-digests`; its amd64 entry is byte for byte the single-architecture
# image (a tag of one architecture pushes that image alone, as before).
#
# Warm: each architecture's layout is cached under $TFCI_CACHE/base/debian-$SUITE[-ARCH]/<YYYYMMDD>/
# (the host's architecture keeps the plain name; `current` points at the newest build), the index
# is assembled in $TFCI_CACHE/base/debian-$SUITE-multi/ (deterministic: the same builds give the
# same index digest), and tags whose digest the registry already has are skipped: a warm run is
# seconds.
#
# Outputs (cache dir = $TFCI_CACHE/base/debian-$SUITE[-ARCH]/current/):
#   oci/                          OCI image layout; tags bookworm, 12, 12.<point>, bookworm-<date>
#   debian-bookworm.oci.tar       the same image as an oci-archive (for dagger Container.import_)
#   build-info                    key=value: manifest digest, debian_version, sizes, mirror, date
# and for several architectures $TFCI_CACHE/base/debian-$SUITE-multi/ with oci/ (the index),
# debian-bookworm.oci.tar (every platform), index-digest and build-info.
# Registry: $REGISTRY/library/debian:{bookworm,12,12.<point>,bookworm-<date>} (same digest)
#
# Environment:
#   TFCI_CACHE (/var/cache/tfimages-ci)  TFCI_STATE (/var/lib/tfimages-ci, for the registry)
#   REGISTRY (127.0.0.1:5000)            plain-HTTP registry to push to; started when it is a
#                                        local one that is not answering
#   DEBIAN_MIRROR (http://deb.debian.org/debian) mirror used to *build*; the image's own apt
#   DEBIAN_SECURITY_MIRROR (http://deb.debian.org/debian-security)  sources always name deb.debian.org
#   BASE_UPGRADE (1)                     apply bookworm-updates + bookworm-security at build time
#   BASE_MAX_AGE_DAYS (30)               rebuild when the cached build is older (0 = never)
#   BASE_ARCHES (amd64,arm64)            Debian architectures to build, comma-separated
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REGISTRY_SH=$(cd "$HERE/../registry" && pwd)/registry.sh
BINFMT_SH=$(cd "$HERE/.." && pwd)/binfmt.sh
SUITE=bookworm
MAJOR=12
TFCI_CACHE=${TFCI_CACHE:-/var/cache/tfimages-ci}
REGISTRY=${REGISTRY:-127.0.0.1:5000}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
BASE_UPGRADE=${BASE_UPGRADE:-1}
BASE_MAX_AGE_DAYS=${BASE_MAX_AGE_DAYS:-30}
CACHE_ROOT=$TFCI_CACHE/base/debian-$SUITE
REPO=library/debian
ARCHIVE_NAME=debian-$SUITE.oci.tar
IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

T_START=$(date +%s%N)
log() {
  local ms=$(( ($(date +%s%N) - T_START) / 1000000 ))
  printf '[baseimage %4d.%01ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2
}
die() { log "ERROR: $*"; exit 1; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

REBUILD=0 PUSH=1
ARCHES=${BASE_ARCHES:-amd64,arm64}
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) REBUILD=1; shift ;;
    --no-push) PUSH=0; shift ;;
    --registry) REGISTRY=${2:?--registry needs HOST:PORT}; shift 2 ;;
    --registry=*) REGISTRY=${1#*=}; shift ;;
    --arch) ARCHES=${2:?--arch needs a list}; shift 2 ;;
    --arch=*) ARCHES=${1#*=}; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (usage: $0 [--rebuild] [--no-push] [--registry HOST:PORT] [--arch LIST])" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, device nodes)"

apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${missing[@]}"
  } >"${TMPDIR:-/tmp}/baseimage-apt.log" 2>&1 || { tail -n 30 "${TMPDIR:-/tmp}/baseimage-apt.log" >&2; die "apt-get failed"; }
}

HOST_ARCH=$(dpkg --print-architecture)
set_arch() { # dpkg-arch -> DPKG_ARCH OCI_ARCH OCI_VARIANT QEMU_ARCH
  DPKG_ARCH=$1 OCI_VARIANT=
  case "$DPKG_ARCH" in
    amd64) OCI_ARCH=amd64 QEMU_ARCH=x86_64 ;;
    arm64) OCI_ARCH=arm64 OCI_VARIANT=v8 QEMU_ARCH=aarch64 ;;
    ppc64el) OCI_ARCH=ppc64le QEMU_ARCH=ppc64le ;;
    s390x|riscv64) OCI_ARCH=$DPKG_ARCH QEMU_ARCH=$DPKG_ARCH ;;
    *) die "unsupported architecture $DPKG_ARCH" ;;
  esac
}
ensure_emulation() { # only for a foreign DPKG_ARCH
  [ "$DPKG_ARCH" = "$HOST_ARCH" ] && return 0
  local f=/proc/sys/fs/binfmt_misc/qemu-$QEMU_ARCH
  if ! { [ -r "$f" ] && grep -qx enabled "$f" && grep -q '^flags: .*F' "$f"; }; then
    log "registering qemu-$QEMU_ARCH binfmt handler"
    bash "$BINFMT_SH" install "$QEMU_ARCH" >&2
  fi
}

# ------------------------------------------------------------------------------ build

write_image_config() { # rootfs
  local r=$1
  rm -f "$r/etc/apt/sources.list"
  mkdir -p "$r/etc/apt/sources.list.d"
  # Same deb822 file as the official debian:bookworm image: apt inside build containers works.
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # The container tweaks the official images carry (debuerreotype's minimizing config).
  printf '#!/bin/sh\n# Containers: maintainer scripts must not start services.\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 0755 "$r/usr/sbin/policy-rc.d"
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
# Keep package caches out of image layers (essentially "apt-get clean" after every dpkg run).
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };

Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf '# Keep the lists compressed on disk.\nAcquire::GzipIndexes "true";\n' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf '# No Translation files.\nAcquire::Languages "none";\n' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  printf '# Remove packages pulled in only by Suggests on autoremove.\nApt::AutoRemove::SuggestsImportant "false";\n' \
    >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  mkdir -p "$r/etc/dpkg/dpkg.cfg.d"
  printf '# Image builds restart clean after a crash anyway.\nforce-unsafe-io\n' >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
}

upgrade_rootfs() { # rootfs
  # apt-get update + upgrade inside the chroot, in a private mount namespace so the /proc mount
  # never leaks (nor stays behind if this is killed). clean_rootfs empties resolv.conf later.
  cp -f /etc/resolv.conf "$1/etc/resolv.conf"
  # shellcheck disable=SC2016
  unshare -m --propagation private -- /bin/sh -euc '
      r=$1; export DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=$2
      mount -t proc proc "$r/proc"
      chroot "$r" apt-get -qq update
      chroot "$r" apt-get -qq -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade
      chroot "$r" apt-get -qq clean
    ' upgrade "$1" "$IMAGE_PATH"
}

clean_rootfs() { # rootfs
  local r=$1
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb \
         "$r"/var/cache/apt/archives/partial/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
         "$r"/var/cache/ldconfig/aux-cache "$r"/debootstrap
  find "$r/var/log" -type f -delete
  rm -rf "${r:?}"/tmp/* "$r"/tmp/.[!.]* "$r"/var/tmp/* "$r"/root/.bash_history "$r"/root/.cache
  rm -f "$r"/etc/ssh/ssh_host_* "$r/var/lib/dbus/machine-id"
  : >"$r/etc/machine-id"                 # empty: systemd-style "generate on first boot"
  : >"$r/etc/resolv.conf"                # the runtime bind-mounts its own
  printf 'localhost\n' >"$r/etc/hostname" # debootstrap copies the build host's
  chmod 0644 "$r/etc/hostname" "$r/etc/resolv.conf" "$r/etc/machine-id"  # copies keep the host's modes
  cat >"$r/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
  # Runtimes mount /dev, /proc, /sys and /run themselves; ship them empty (as the official image).
  find "$r/dev" "$r/proc" "$r/sys" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
  find "$r/run" -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {} + 2>/dev/null || true
  mkdir -p "$r/run/lock" && chmod 1777 "$r/run/lock"
  [ -z "$(find "$r/dev" "$r/proc" "$r/sys" -mindepth 1 -print -quit)" ] || die "could not empty /dev /proc /sys"
}

build_image() { # dest-dir date
  local dest=$1 date=$2 tmp t
  tmp=$ARCH_ROOT/.build-$date-$$
  rm -rf "$tmp" && mkdir -p "$tmp"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  local rootfs=$tmp/rootfs oci=$tmp/oci

  t=$(date +%s)
  log "debootstrap --variant=minbase $SUITE ($DPKG_ARCH) from $DEBIAN_MIRROR"
  # Own mount namespace: debootstrap mounts /proc and /sys in the target; nothing can leak.
  ensure_emulation
  if ! unshare -m --propagation private -- debootstrap --variant=minbase --arch="$DPKG_ARCH" \
        --components=main --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$tmp/debootstrap.log" 2>&1; then
    tail -n 30 "$tmp/debootstrap.log" >&2
    [ -f "$rootfs/debootstrap/debootstrap.log" ] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  log "debootstrap done in $(elapsed "$t")"

  write_image_config "$rootfs"
  if [ "$BASE_UPGRADE" = 1 ]; then
    t=$(date +%s)
    # The image's sources name deb.debian.org; honour a build-time mirror override meanwhile.
    if [ "$DEBIAN_MIRROR" != http://deb.debian.org/debian ] || [ "$DEBIAN_SECURITY_MIRROR" != http://deb.debian.org/debian-security ]; then
      cp "$rootfs/etc/apt/sources.list.d/debian.sources" "$tmp/debian.sources"
      sed -i -e "s|http://deb.debian.org/debian-security|$DEBIAN_SECURITY_MIRROR|" \
             -e "s|http://deb.debian.org/debian\$|$DEBIAN_MIRROR|" "$rootfs/etc/apt/sources.list.d/debian.sources"
    fi
    upgrade_rootfs "$rootfs" >"$tmp/upgrade.log" 2>&1 || { tail -n 30 "$tmp/upgrade.log" >&2; die "apt-get upgrade in the rootfs failed"; }
    [ -f "$tmp/debian.sources" ] && cp "$tmp/debian.sources" "$rootfs/etc/apt/sources.list.d/debian.sources"
    log "applied $SUITE-updates/-security in $(elapsed "$t") ($(grep -c '^Unpacking' "$tmp/upgrade.log" || true) packages upgraded)"
  fi
  clean_rootfs "$rootfs"
  local version rootfs_size
  version=$(cat "$rootfs/etc/debian_version")
  rootfs_size=$(du -sb "$rootfs" | cut -f1)

  t=$(date +%s)
  log "packing with umoci (Debian $version, rootfs $((rootfs_size / 1024 / 1024)) MiB)"
  local created; created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  umoci init --layout "$oci"
  umoci new --image "$oci:$SUITE"
  umoci unpack --image "$oci:$SUITE" "$tmp/bundle" >/dev/null
  rmdir "$tmp/bundle/rootfs"
  mv "$rootfs" "$tmp/bundle/rootfs"
  umoci repack --image "$oci:$SUITE" --history.created "$created" \
    --history.created_by "debootstrap --variant=minbase $SUITE $DEBIAN_MIRROR ($version)" "$tmp/bundle"
  # --architecture/--os go into the image config; the platform of the index entry is set in
  # assemble_index. (umoci 0.4.7 has no --variant flag: the config says "arm64" only; Docker
  # Hub's debian arm64 config has "variant": "v8" too, added below.)
  umoci config --image "$oci:$SUITE" --no-history --os linux --architecture "$OCI_ARCH" \
    --created "$created" --config.env "PATH=$IMAGE_PATH" --config.cmd bash
  add_manifest_media_type "$oci" "$SUITE" "$OCI_VARIANT"
  local tag
  for tag in "$MAJOR" "$version" "$SUITE-$date"; do umoci tag --image "$oci:$SUITE" "$tag"; done
  umoci gc --layout "$oci"
  rm -rf "$tmp/bundle"
  log "packed in $(elapsed "$t")"

  t=$(date +%s)
  skopeo copy -q --preserve-digests "oci:$oci:$SUITE" "oci-archive:$tmp/$ARCHIVE_NAME:$SUITE"
  log "exported $ARCHIVE_NAME in $(elapsed "$t")"

  local digest layer_bytes
  digest=$(skopeo inspect -n --format '{{.Digest}}' "oci:$oci:$SUITE")
  layer_bytes=$(stat -c %s "$oci"/blobs/sha256/* | sort -n | tail -n 1)
  cat >"$tmp/build-info" <<EOF
suite=$SUITE
debian_version=$version
build_date=$date
created=$created
architecture=$OCI_ARCH
variant=$OCI_VARIANT
digest=$digest
tags=$SUITE $MAJOR $version $SUITE-$date
rootfs_bytes=$rootfs_size
layer_gzip_bytes=$layer_bytes
mirror=$DEBIAN_MIRROR
security_mirror=$DEBIAN_SECURITY_MIRROR
upgraded=$BASE_UPGRADE
EOF
  chmod -R go+rX "$tmp"   # umoci writes blobs 0600; let non-root readers (tests) use the layout
  touch "$tmp/.complete"
  if [ -e "$dest" ]; then rm -rf "$dest.old" && mv "$dest" "$dest.old"; fi
  mv "$tmp" "$dest"
  rm -rf "$dest.old"
  trap - EXIT
}

# umoci 0.4 writes manifests without the (optional) "mediaType" field. Registries and BuildKit
# go by the Content-Type, but Docker Hub manifests carry it and some tools look only at the
# body, so add it: rewrite the manifest blob and repoint the tag in index.json.
add_manifest_media_type() { # oci-layout tag [variant]
  /usr/bin/python3 - "$@" <<'PY'
import hashlib, json, os, sys
layout, tag = sys.argv[1], sys.argv[2]
variant = sys.argv[3] if len(sys.argv) > 3 else ""
index_path = os.path.join(layout, "index.json")
index = json.load(open(index_path))
mt = "application/vnd.oci.image.manifest.v1+json"
for desc in index["manifests"]:
    if desc.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag:
        continue
    algo, hexd = desc["digest"].split(":")
    manifest = json.load(open(os.path.join(layout, "blobs", algo, hexd)))
    if variant:   # config.variant (e.g. arm64/v8), which umoci 0.4 cannot set
        c = manifest["config"]
        cfg = json.load(open(os.path.join(layout, "blobs", *c["digest"].split(":"))))
        if cfg.get("variant") != variant:
            cfg["variant"] = variant
            raw = json.dumps(cfg, separators=(",", ":")).encode()
            d = hashlib.sha256(raw).hexdigest()
            open(os.path.join(layout, "blobs", "sha256", d), "wb").write(raw)
            c.update(digest="sha256:" + d, size=len(raw))
            manifest["mediaType"] = None   # force the rewrite below
    if manifest.get("mediaType") == mt:
        break
    manifest.pop("mediaType", None)
    manifest = {"schemaVersion": manifest.pop("schemaVersion"), "mediaType": mt, **manifest}
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    digest = hashlib.sha256(raw).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(raw)
    desc.update(mediaType=mt, digest="sha256:" + digest, size=len(raw))
    break
else:
    sys.exit("tag %s not in %s" % (tag, index_path))
tmp = index_path + ".tmp"
with open(tmp, "w") as f:
    json.dump(index, f, separators=(",", ":"))
os.replace(tmp, index_path)
PY
}

# The newest complete build that is young enough, or nothing.
usable_build() {
  local cur=$ARCH_ROOT/current d age
  [ -f "$cur/.complete" ] && [ -f "$cur/$ARCHIVE_NAME" ] && [ -f "$cur/oci/index.json" ] || return 1
  d=$(basename "$(readlink -f "$cur")")
  if [ "$BASE_MAX_AGE_DAYS" != 0 ]; then
    age=$(( ( $(date -u +%s) - $(date -u -d "$d" +%s 2>/dev/null || echo 0) ) / 86400 ))
    if [ "$age" -gt "$BASE_MAX_AGE_DAYS" ]; then
      log "cached build $d is $age days old (> BASE_MAX_AGE_DAYS=$BASE_MAX_AGE_DAYS): rebuilding"
      return 1
    fi
  fi
  readlink -f "$cur"
}

# ------------------------------------------------------------------------------ push

ensure_registry() {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$REGISTRY/v2/" || true)
  [ "$code" = 200 ] && return 0
  case "$REGISTRY" in
    127.0.0.1:*|localhost:*)
      log "registry $REGISTRY not answering (HTTP ${code:-none}); starting it"
      "$REGISTRY_SH" install 9>&-
      "$REGISTRY_SH" start --port "${REGISTRY##*:}" 9>&- ;;  # 9 = our flock
    *) die "registry $REGISTRY is not answering (HTTP ${code:-none})" ;;
  esac
}

push_tags() { # build-dir
  local b=$1 want tag have pushed=0 skipped=0
  want=$(awk -F= '$1 == "digest" {print $2}' "$b/build-info")
  # shellcheck disable=SC2046
  set -- $(awk -F= '$1 == "tags" {print $2}' "$b/build-info")
  for tag in "$@"; do
    have=$(skopeo inspect -n --tls-verify=false --format '{{.Digest}}' "docker://$REGISTRY/$REPO:$tag" 2>/dev/null || true)
    if [ "$have" = "$want" ]; then
      skipped=$((skipped + 1))
      continue
    fi
    skopeo copy -q --preserve-digests --dest-tls-verify=false \
      "oci:$b/oci:$SUITE" "docker://$REGISTRY/$REPO:$tag"
    have=$(skopeo inspect -n --tls-verify=false --format '{{.Digest}}' "docker://$REGISTRY/$REPO:$tag")
    [ "$have" = "$want" ] || die "pushed $REPO:$tag but the registry reports $have, not $want"
    pushed=$((pushed + 1))
  done
  log "registry $REGISTRY/$REPO: $pushed tag(s) pushed, $skipped already current ($want)"
}

# ------------------------------------------------------------------------------ multi-arch

# One OCI layout with every arch's manifest (blobs hard-linked from the per-arch caches) and an OCI
# image index per tag. Deterministic: same per-arch builds -> same index digest.
assemble_index() { # out-dir tag... ; build dirs in $BUILDS (space-separated, host arch first)
  local out=$1; shift
  rm -rf "$out.tmp" && mkdir -p "$out.tmp/oci/blobs/sha256"
  # shellcheck disable=SC2086
  /usr/bin/python3 - "$out.tmp/oci" "$SUITE" "$*" $BUILDS <<'PY'
import hashlib, json, os, shutil, sys
out, ref, tags, builds = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
def blob(layout, digest): return os.path.join(layout, "blobs", *digest.split(":"))
def put(src_layout, desc):
    src, dst = blob(src_layout, desc["digest"]), blob(out, desc["digest"])
    if not os.path.exists(dst):
        try: os.link(src, dst)
        except OSError: shutil.copyfile(src, dst)
entries = []
for b in builds:
    layout = os.path.join(b, "oci")
    idx = json.load(open(os.path.join(layout, "index.json")))
    desc = next(d for d in idx["manifests"] if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref)
    man = json.load(open(blob(layout, desc["digest"])))
    cfg = json.load(open(blob(layout, man["config"]["digest"])))
    for d in [desc, man["config"], *man["layers"]]: put(layout, d)
    platform = {"architecture": cfg["architecture"], "os": cfg["os"]}
    if cfg.get("variant"): platform["variant"] = cfg["variant"]
    entries.append({"mediaType": desc["mediaType"], "digest": desc["digest"], "size": desc["size"], "platform": platform})
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
raw = json.dumps(index, separators=(",", ":")).encode()
digest = "sha256:" + hashlib.sha256(raw).hexdigest()
open(blob(out, digest), "wb").write(raw)
top = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": index["mediaType"], "digest": digest, "size": len(raw),
     "annotations": {"org.opencontainers.image.ref.name": t}} for t in tags]}
json.dump(top, open(os.path.join(out, "index.json"), "w"), separators=(",", ":"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(out, "oci-layout"), "w"))
print(digest)
PY
}

push_index() { # multi-dir tag...
  local m=$1 want tag have pushed=0 skipped=0; shift
  want=$(cat "$m/index-digest")
  for tag in "$@"; do
    # skopeo inspect --raw gives the index itself; its sha256 is the tag's digest.
    have=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/$REPO:$tag" 2>/dev/null | sha256sum | cut -d' ' -f1 || true)
    if [ "sha256:$have" = "$want" ]; then skipped=$((skipped + 1)); continue; fi
    skopeo copy -q --all --preserve-digests --dest-tls-verify=false "oci:$m/oci:$SUITE" "docker://$REGISTRY/$REPO:$tag"
    have=$(skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/$REPO:$tag" | sha256sum | cut -d' ' -f1)
    [ "sha256:$have" = "$want" ] || die "pushed $REPO:$tag but the registry reports sha256:$have, not $want"
    pushed=$((pushed + 1))
  done
  log "registry $REGISTRY/$REPO: $pushed tag(s) pushed, $skipped already current (index $want)"
}

# ------------------------------------------------------------------------------ main

apt_install debootstrap umoci skopeo debian-archive-keyring util-linux curl python3
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9    # one build per cache dir at a time (parallel CI jobs on one machine)

# The host's architecture first: the index takes its tags (and so its date) from that build.
ORDERED=
for A in ${ARCHES//,/ }; do
  if [ "$A" = "$HOST_ARCH" ]; then ORDERED="$A $ORDERED"; else ORDERED="$ORDERED $A"; fi
done

build_all() { # -> BUILDS: one build dir per architecture, cached or built now
  BUILDS=
  local A BUILD T0 DATE
  for A in $ORDERED; do
    set_arch "$A"
    # the host's architecture keeps the historic cache path; others get a sibling directory
    if [ "$DPKG_ARCH" = "$HOST_ARCH" ]; then ARCH_ROOT=$CACHE_ROOT; else ARCH_ROOT=$CACHE_ROOT-$DPKG_ARCH; fi
    mkdir -p "$ARCH_ROOT"
    BUILD=
    if [ "$REBUILD" = 0 ]; then BUILD=$(usable_build || true); fi
    if [ -n "$BUILD" ]; then
      log "cache hit ($DPKG_ARCH): $BUILD ($(awk -F= '$1 == "debian_version" {print $2}' "$BUILD/build-info"))"
    else
      T0=$(date +%s)
      DATE=$(date -u +%Y%m%d)
      log "cold build ($DPKG_ARCH) into $ARCH_ROOT/$DATE"
      build_image "$ARCH_ROOT/$DATE" "$DATE"
      ln -sfn "$DATE" "$ARCH_ROOT/current.new" && mv -T "$ARCH_ROOT/current.new" "$ARCH_ROOT/current"
      # keep only the current build
      find "$ARCH_ROOT" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]\{8\}' ! -name "$DATE" -exec rm -rf {} +
      BUILD=$ARCH_ROOT/$DATE
      log "cold build ($DPKG_ARCH) done in $(elapsed "$T0")"
    fi
    BUILDS="$BUILDS $BUILD"
  done
  BUILDS=${BUILDS# }
}

same_release() { # every build carries the first one's Debian point release
  local b v first
  first=$(awk -F= '$1 == "debian_version" {print $2}' "${BUILDS%% *}/build-info")
  for b in $BUILDS; do
    v=$(awk -F= '$1 == "debian_version" {print $2}' "$b/build-info")
    [ "$v" = "$first" ] || { log "$b is Debian $v, ${BUILDS%% *} is $first"; return 1; }
  done
}

build_all
if ! same_release; then
  # e.g. one architecture's cache expired after a point release: one index needs one release
  log "the architectures' builds are of different Debian point releases: rebuilding every one"
  REBUILD=1
  build_all
  same_release || die "the fresh builds still differ in their Debian point release"
fi
FIRST=${BUILDS%% *}
info() { awk -F= -v k="$1" '$1 == k {sub(/^[^=]*=/, ""); print; exit}' "$FIRST/build-info"; }

if [ "$(echo "$BUILDS" | wc -w)" = 1 ]; then
  if [ "$PUSH" = 1 ]; then ensure_registry; push_tags "$FIRST"; fi
  log "done: Debian $(info debian_version) $(info digest); layer $(( $(info layer_gzip_bytes) / 1024 / 1024 )) MiB gzip," \
      "rootfs $(( $(info rootfs_bytes) / 1024 / 1024 )) MiB; archive $FIRST/$ARCHIVE_NAME"
  exit 0
fi

MULTI=$TFCI_CACHE/base/debian-$SUITE-multi
if [ -f "$MULTI/index-digest" ] && grep -qxF "builds=$BUILDS" "$MULTI/build-info" 2>/dev/null; then
  log "index cache hit: $MULTI ($(cat "$MULTI/index-digest"))"
else
  T0=$(date +%s)
  # shellcheck disable=SC2046  # the tags are words
  DIGEST=$(assemble_index "$MULTI" $(info tags))
  echo "$DIGEST" >"$MULTI.tmp/index-digest"
  skopeo copy -q --all --preserve-digests "oci:$MULTI.tmp/oci:$SUITE" "oci-archive:$MULTI.tmp/$ARCHIVE_NAME:$SUITE"
  printf 'index_digest=%s\nbuilds=%s\ntags=%s\n' "$DIGEST" "$BUILDS" "$(info tags)" >"$MULTI.tmp/build-info"
  chmod -R go+rX "$MULTI.tmp"
  rm -rf "$MULTI" && mv "$MULTI.tmp" "$MULTI"
  log "assembled the index $DIGEST of $(echo "$BUILDS" | wc -w) platforms in $(elapsed "$T0"): $MULTI"
fi
# shellcheck disable=SC2046
if [ "$PUSH" = 1 ]; then ensure_registry; push_index "$MULTI" $(info tags); fi
log "done: Debian $(info debian_version), index $(cat "$MULTI/index-digest") of$(for b in $BUILDS; do
  printf ' %s %s' "$(awk -F= '$1 == "architecture" {print $2}' "$b/build-info")" "$(awk -F= '$1 == "digest" {print $2}' "$b/build-info")"; done);" \
  "archive $MULTI/$ARCHIVE_NAME"

#!/usr/bin/env bash
# Build a Debian base image (debian:bookworm) without any registry or container runtime, and
# push it into the local registry (tests/infra/registry/registry.sh), so that a Dagger engine
# with a docker.io mirror -> 127.0.0.1:5000 resolves from_("debian:bookworm") as from Docker Hub.
#
#   build-debian.sh [--rebuild] [--no-push] [--registry HOST:PORT]
#
# Cold: debootstrap --variant=minbase, apply bookworm-updates/-security, clean, pack with umoci
# into an OCI layout, export an oci-archive, push with skopeo. Warm: the OCI layout is cached
# under $TFCI_CACHE/base/debian-$SUITE/<YYYYMMDD>/ (the build date; `current` points at the
# newest), and tags whose digest the registry already has are skipped, so a warm run is seconds.
#
# Outputs (cache dir = $TFCI_CACHE/base/debian-$SUITE/current/):
#   oci/                          OCI image layout; tags bookworm, 12, 12.<point>, bookworm-<date>
#   debian-bookworm.oci.tar       the same image as an oci-archive (for dagger Container.import_)
#   build-info                    key=value: manifest digest, debian_version, sizes, mirror, date
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
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REGISTRY_SH=$(cd "$HERE/../registry" && pwd)/registry.sh
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
while [ $# -gt 0 ]; do
  case "$1" in
    --rebuild) REBUILD=1; shift ;;
    --no-push) PUSH=0; shift ;;
    --registry) REGISTRY=${2:?--registry needs HOST:PORT}; shift 2 ;;
    --registry=*) REGISTRY=${1#*=}; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (usage: $0 [--rebuild] [--no-push] [--registry HOST:PORT])" ;;
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

DPKG_ARCH=$(dpkg --print-architecture)
case "$DPKG_ARCH" in
  amd64|arm64|ppc64le|s390x|riscv64) OCI_ARCH=$DPKG_ARCH ;;
  i386) OCI_ARCH=386 ;;
  armhf) OCI_ARCH=arm ;;
  *) die "unsupported architecture $DPKG_ARCH" ;;
esac

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
  tmp=$CACHE_ROOT/.build-$date-$$
  rm -rf "$tmp" && mkdir -p "$tmp"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  local rootfs=$tmp/rootfs oci=$tmp/oci

  t=$(date +%s)
  log "debootstrap --variant=minbase $SUITE ($DPKG_ARCH) from $DEBIAN_MIRROR"
  # Own mount namespace: debootstrap mounts /proc and /sys in the target; nothing can leak.
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
  umoci config --image "$oci:$SUITE" --no-history --os linux --architecture "$OCI_ARCH" \
    --created "$created" --config.env "PATH=$IMAGE_PATH" --config.cmd bash
  add_manifest_media_type "$oci" "$SUITE"
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
add_manifest_media_type() { # oci-layout tag
  /usr/bin/python3 - "$1" "$2" <<'PY'
import hashlib, json, os, sys
layout, tag = sys.argv[1], sys.argv[2]
index_path = os.path.join(layout, "index.json")
index = json.load(open(index_path))
mt = "application/vnd.oci.image.manifest.v1+json"
for desc in index["manifests"]:
    if desc.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag:
        continue
    algo, hexd = desc["digest"].split(":")
    manifest = json.load(open(os.path.join(layout, "blobs", algo, hexd)))
    if manifest.get("mediaType") == mt:
        break
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
  local cur=$CACHE_ROOT/current d age
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

# ------------------------------------------------------------------------------ main

apt_install debootstrap umoci skopeo debian-archive-keyring util-linux curl python3
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock"
flock 9    # one build per cache dir at a time (parallel CI jobs on one machine)

BUILD=
if [ "$REBUILD" = 0 ]; then BUILD=$(usable_build || true); fi
if [ -n "$BUILD" ]; then
  log "cache hit: $BUILD ($(awk -F= '$1 == "debian_version" {print $2}' "$BUILD/build-info"))"
else
  T0=$(date +%s)
  DATE=$(date -u +%Y%m%d)
  log "cold build into $CACHE_ROOT/$DATE"
  build_image "$CACHE_ROOT/$DATE" "$DATE"
  ln -sfn "$DATE" "$CACHE_ROOT/current.new" && mv -T "$CACHE_ROOT/current.new" "$CACHE_ROOT/current"
  # keep only the current build
  find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d -regex '.*/[0-9]\{8\}' ! -name "$DATE" -exec rm -rf {} +
  BUILD=$CACHE_ROOT/$DATE
  log "cold build done in $(elapsed "$T0")"
fi

if [ "$PUSH" = 1 ]; then
  ensure_registry
  push_tags "$BUILD"
fi

info() { awk -F= -v k="$1" '$1 == k {sub(/^[^=]*=/, ""); print; exit}' "$BUILD/build-info"; }
log "done: Debian $(info debian_version) $(info digest); layer $(( $(info layer_gzip_bytes) / 1024 / 1024 )) MiB gzip," \
    "rootfs $(( $(info rootfs_bytes) / 1024 / 1024 )) MiB; archive $BUILD/$ARCHIVE_NAME"

#!/usr/bin/env bash
# Prove that the local debian:bookworm (tests/infra/baseimage/build-debian.sh) is well-formed
# and pullable the way a Dagger/BuildKit docker.io mirror pulls it. No container runtime needed:
# each layer is unpacked and exercised with chroot (a foreign architecture's through qemu's
# binfmt handler, tests/infra/binfmt.sh).
#
#   verify.sh [--apt] [IMAGE]        IMAGE defaults to $REGISTRY/library/debian:bookworm
#     --apt   also run `apt-get update` + a simulated install inside each unpacked rootfs
#             (needs deb.debian.org; proves the image's apt sources work)
#
# IMAGE may be one image or an OCI image index (several architectures). Checks: registry answers
# /v2/; tags bookworm, 12 share one digest; the manifest answers the Accept headers BuildKit sends;
# the cached oci-archive (the index's for several architectures) has the same digest; for an
# index: OCI index media type, one entry per architecture with its platform, the amd64 entry is
# the single-architecture cached build byte for byte. Per image: os linux and the architecture
# (and variant) its index entry claims, >=1 layer, PATH env, Cmd [bash]; manifest/config/layer
# media types; the layer unpacks to a rootfs with /bin/bash, /etc/os-release
# VERSION_CODENAME=bookworm, apt sources on deb.debian.org, empty machine-id, no ssh host keys, no
# apt lists; bash and apt-get run inside it and report its architecture. Exit 0 only if every
# check passes.
# shellcheck disable=SC2015,SC2016  # "test && ok || bad" idiom; single-quoted scripts run in the chroot
set -euo pipefail

REGISTRY=${REGISTRY:-127.0.0.1:5000}
TFCI_CACHE=${TFCI_CACHE:-/var/cache/tfimages-ci}
SUITE=bookworm
SINGLE=$TFCI_CACHE/base/debian-$SUITE/current
MULTI=$TFCI_CACHE/base/debian-$SUITE-multi

APT=0 IMAGE=
while [ $# -gt 0 ]; do
  case "$1" in
    --apt) APT=1; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) IMAGE=$1; shift ;;
  esac
done
IMAGE=${IMAGE:-$REGISTRY/library/debian:$SUITE}
REPO=${IMAGE%:*}
HOSTPORT=${IMAGE%%/*}
PATH_IN_REPO=${REPO#*/}

FAILS=0
ok() { printf '  ok    %s\n' "$*"; }
bad() { printf '  FAIL  %s\n' "$*"; FAILS=$((FAILS + 1)); }
check() { # description command...
  local d=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
raw_digest() { echo "sha256:$(sha256sum | cut -d' ' -f1)"; }

[ "$(id -u)" = 0 ] || { echo "run as root (chroot, device-free tar extraction with owners)" >&2; exit 2; }
for t in skopeo curl python3 tar sha256sum; do command -v "$t" >/dev/null || { echo "$t missing (run build-debian.sh first)" >&2; exit 2; }; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/verify-debian.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "registry $HOSTPORT"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$HOSTPORT/v2/" || true)
[ "$code" = 200 ] && ok "GET /v2/ -> 200" || { bad "GET /v2/ -> ${code:-no answer} (start tests/infra/registry/registry.sh)"; exit 1; }

echo "skopeo inspect --raw docker://$IMAGE"
skopeo inspect --tls-verify=false --raw "docker://$IMAGE" >"$WORK/top.json" || { bad "skopeo inspect failed"; exit 1; }
DIGEST=$(raw_digest <"$WORK/top.json")
TOP_TYPE=$(json 'd.get("mediaType", "")' <"$WORK/top.json")

echo "tags and mirror-style pull"
for tag in "$SUITE" 12; do
  d=$(skopeo inspect --tls-verify=false --raw "docker://$REPO:$tag" 2>/dev/null | raw_digest || true)
  [ "$d" = "$DIGEST" ] && ok "$REPO:$tag -> $DIGEST" || bad "$REPO:$tag -> '${d:-missing}', want $DIGEST"
done
# What BuildKit's resolver sends to a docker.io mirror for "debian:bookworm".
accept='application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*'
hdr=$(curl -s -I --max-time 5 -H "Accept: $accept" "http://$HOSTPORT/v2/$PATH_IN_REPO/manifests/${IMAGE##*:}" | tr -d '\r')
echo "$hdr" | head -n1 | grep -q ' 200' && echo "$hdr" | grep -qi "^docker-content-digest: $DIGEST" &&
  ok "HEAD /v2/$PATH_IN_REPO/manifests/${IMAGE##*:} -> 200, same digest" ||
  bad "HEAD manifest: $(echo "$hdr" | head -n1)"

# image MANIFEST-FILE OS ARCH VARIANT: one platform's image, with its layer unpacked and run.
image() {
  local mf=$1 want_os=$2 want_arch=$3 want_variant=$4 dir=$5
  local cf=$dir/config.json R=$dir/rootfs
  local mt lmt nl nd cfg os arch variant cmd l ls_bytes codename machine
  mt=$(json 'd.get("mediaType", "")' <"$mf")
  case "$mt" in
    application/vnd.oci.image.manifest.v1+json|application/vnd.docker.distribution.manifest.v2+json) ok "manifest $mt" ;;
    *) bad "manifest media type '$mt'"; return ;;
  esac
  lmt=$(json '",".join(sorted(set(l["mediaType"] for l in d["layers"])))' <"$mf")
  case "$lmt" in
    application/vnd.oci.image.layer.v1.tar+gzip|application/vnd.docker.image.rootfs.diff.tar.gzip) ok "layers $lmt" ;;
    *) bad "layer media types '$lmt'" ;;
  esac
  cfg=$(json 'd["config"]["digest"]' <"$mf")
  skopeo copy -q --src-tls-verify=false "docker://$REPO@$(raw_digest <"$mf")" "dir:$dir/img" ||
    { bad "skopeo copy to dir: failed (it verifies every blob against its digest)"; return; }
  cp "$dir/img/${cfg#sha256:}" "$cf"
  os=$(json 'd["os"]' <"$cf"); arch=$(json 'd["architecture"]' <"$cf"); variant=$(json 'd.get("variant", "")' <"$cf")
  [ "$os/$arch" = "$want_os/$want_arch" ] && ok "config platform $os/$arch${variant:+/$variant}" || bad "config platform $os/$arch, want $want_os/$want_arch"
  [ "$variant" = "$want_variant" ] || bad "config variant '$variant', the index says '$want_variant'"
  nl=$(json 'len(d["layers"])' <"$mf"); nd=$(json 'len(d["rootfs"]["diff_ids"])' <"$cf")
  [ "$nl" -ge 1 ] && ok "$nl layer(s)" || bad "no layers"
  [ "$nd" = "$nl" ] && ok "config diff_ids match layer count" || bad "config has $nd diff_ids for $nl layers"
  json 'd["config"].get("Env")' <"$cf" | grep -q "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" &&
    ok "Env PATH" || bad "Env lacks the standard PATH"
  cmd=$(json 'd["config"].get("Cmd")' <"$cf")
  [ "$cmd" = "['bash']" ] && ok "config Cmd $cmd" || bad "config Cmd $cmd, want ['bash']"

  mkdir -p "$R"
  for l in $(json '" ".join(l["digest"].split(":")[1] for l in d["layers"])' <"$mf"); do
    tar -xzf "$dir/img/$l" -C "$R" --numeric-owner --same-permissions || bad "untar layer $l"
  done
  ls_bytes=$(json 'sum(l["size"] for l in d["layers"])' <"$mf")
  echo "  size: $((ls_bytes / 1024 / 1024)) MiB compressed, $(du -sm "$R" | cut -f1) MiB unpacked, $(find "$R" | wc -l) entries"
  if [ -L "$R/bin" ]; then
    [ "$(readlink "$R/bin")" = usr/bin ] && [ -x "$R/usr/bin/bash" ] && ok "/bin -> usr/bin (merged /usr), /usr/bin/bash" || bad "/bin/bash"
  else
    check "/bin/bash" test -x "$R/bin/bash"
  fi
  # /etc/os-release is a relative symlink into /usr/lib; read it through chroot so it resolves inside.
  codename=$(chroot "$R" /bin/bash -c '. /etc/os-release && echo "$VERSION_CODENAME"' 2>/dev/null || true)
  [ "$codename" = "$SUITE" ] && ok "/etc/os-release VERSION_CODENAME=$codename (read by the image's own bash)" ||
    bad "VERSION_CODENAME='$codename' (a foreign architecture needs tests/infra/binfmt.sh install)"
  machine=$(chroot "$R" /usr/bin/dpkg --print-architecture 2>/dev/null || true)
  [ "$machine" = "$want_arch" ] && ok "dpkg --print-architecture: $machine" || bad "dpkg says '$machine', the image says $want_arch"
  grep -q '^URIs: http://deb.debian.org/debian$' "$R/etc/apt/sources.list.d/debian.sources" 2>/dev/null &&
    grep -q '^URIs: http://deb.debian.org/debian-security$' "$R/etc/apt/sources.list.d/debian.sources" &&
    ok "apt sources: deb.debian.org (debian + debian-security)" || bad "apt sources do not name deb.debian.org"
  [ -f "$R/etc/machine-id" ] && [ ! -s "$R/etc/machine-id" ] && ok "/etc/machine-id empty" || bad "/etc/machine-id missing or not empty"
  [ -z "$(find "$R/etc/ssh" -name 'ssh_host_*' 2>/dev/null)" ] && ok "no ssh host keys" || bad "ssh host keys present"
  [ -z "$(find "$R/var/lib/apt/lists" -type f 2>/dev/null)" ] && ok "no apt lists" || bad "apt lists present"
  [ -z "$(find "$R/var/cache/apt" -name '*.deb' -o -name '*.bin' 2>/dev/null)" ] && ok "no apt caches" || bad "apt caches present"
  [ ! -s "$R/etc/resolv.conf" ] && ok "/etc/resolv.conf empty (runtime supplies it)" || bad "/etc/resolv.conf carries the build host's"
  check "apt-get runs inside (chroot)" chroot "$R" /usr/bin/apt-get --version
  check "dpkg database consistent (dpkg --audit)" chroot "$R" /usr/bin/dpkg --audit
  echo "  $(chroot "$R" /bin/bash -c 'echo "Debian $(cat /etc/debian_version), $(dpkg-query -W | wc -l) packages"')"

  if [ "$APT" = 1 ]; then
    cp /etc/resolv.conf "$R/etc/resolv.conf"
    # shellcheck disable=SC2016
    if unshare -m --propagation private -- /bin/sh -c '
          mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
          chroot "$1" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            DEBIAN_FRONTEND=noninteractive /bin/bash -c "apt-get -qq update && apt-get -s -qq install ca-certificates curl"
        ' apt "$R" >"$dir/apt.log" 2>&1; then
      ok "apt-get update + simulated install of ca-certificates curl (network)"
    else
      bad "apt inside the image failed:"; tail -n 15 "$dir/apt.log" | sed 's/^/        /'
    fi
  fi
}

host_arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
[ "$host_arch" = i386 ] && host_arch=386
case "$TOP_TYPE" in
  application/vnd.oci.image.index.v1+json|application/vnd.docker.distribution.manifest.list.v2+json)
    ok "image index $TOP_TYPE"
    ARCHIVE=$MULTI/debian-$SUITE.oci.tar
    json '"\n".join("%s %s %s %s" % (m["digest"], m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant", "-")) for m in d["manifests"])' \
      <"$WORK/top.json" >"$WORK/entries"
    n=$(wc -l <"$WORK/entries")
    [ "$n" -ge 2 ] && ok "$n platforms: $(awk '{printf "%s/%s ", $2, $3}' "$WORK/entries")" || bad "an index of $n platform(s)"
    [ "$(awk '{print $3}' "$WORK/entries" | sort | uniq -d)" = "" ] && ok "one entry per architecture" || bad "an architecture listed twice"
    awk '{print $3}' "$WORK/entries" | grep -qx "$host_arch" && ok "the host's architecture ($host_arch) is in it" || bad "no $host_arch entry"
    if [ -f "$SINGLE/build-info" ]; then
      single=$(awk -F= '$1 == "digest" {print $2}' "$SINGLE/build-info")
      mine=$(awk -v a="$host_arch" '$3 == a {print $1}' "$WORK/entries")
      [ "$mine" = "$single" ] && ok "the $host_arch entry is the single-architecture build byte for byte ($single)" ||
        bad "the $host_arch entry is $mine, the single-architecture build is $single"
    fi
    i=0
    while read -r digest os arch variant; do
      i=$((i + 1)); [ "$variant" = - ] && variant=
      echo "platform $os/$arch${variant:+/$variant} ($digest)"
      mkdir -p "$WORK/p$i"
      skopeo inspect --tls-verify=false --raw "docker://$REPO@$digest" >"$WORK/p$i/manifest.json"
      [ "$(raw_digest <"$WORK/p$i/manifest.json")" = "$digest" ] && ok "manifest digest" || bad "the registry serves another manifest for $digest"
      image "$WORK/p$i/manifest.json" "$os" "$arch" "$variant" "$WORK/p$i"
    done <"$WORK/entries"
    ;;
  *)
    ARCHIVE=$SINGLE/debian-$SUITE.oci.tar
    echo "platform linux/$host_arch"
    mkdir -p "$WORK/p1"
    cp "$WORK/top.json" "$WORK/p1/manifest.json"
    image "$WORK/p1/manifest.json" linux "$host_arch" "" "$WORK/p1"
    ;;
esac

echo "oci-archive $ARCHIVE"
if [ -f "$ARCHIVE" ]; then
  ad=$(skopeo inspect --raw "oci-archive:$ARCHIVE" 2>/dev/null | raw_digest || true)
  [ "$ad" = "$DIGEST" ] && ok "archive digest matches the registry" || bad "archive digest '${ad:-unreadable}' != $DIGEST"
else
  bad "missing (build-debian.sh writes it)"
fi

if [ "$FAILS" -eq 0 ]; then echo "PASS $IMAGE ($DIGEST)"; else echo "FAILED: $FAILS check(s)"; exit 1; fi

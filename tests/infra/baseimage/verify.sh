#!/usr/bin/env bash
# Prove that the local debian:bookworm (tests/infra/baseimage/build-debian.sh) is well-formed
# and pullable the way a Dagger/BuildKit docker.io mirror pulls it. No container runtime needed:
# the layer is unpacked and exercised with chroot.
#
#   verify.sh [--apt] [IMAGE]        IMAGE defaults to $REGISTRY/library/debian:bookworm
#     --apt   also run `apt-get update` + a simulated install inside the unpacked rootfs
#             (needs deb.debian.org; proves the image's apt sources work)
#
# Checks: registry answers /v2/; skopeo inspect -> os linux, host arch, >=1 layer, PATH env,
# Cmd [bash]; manifest/config/layer media types; tags bookworm, 12 share one digest; the
# manifest answers the Accept headers BuildKit sends; the cached oci-archive has the same
# digest; the layer unpacks to a rootfs with /bin/bash, /etc/os-release VERSION_CODENAME=bookworm,
# apt sources on deb.debian.org, empty machine-id, no ssh host keys, no apt lists; bash and
# apt-get run inside it. Exit 0 only if every check passes.
# shellcheck disable=SC2015,SC2016  # "test && ok || bad" idiom; single-quoted scripts run in the chroot
set -euo pipefail

REGISTRY=${REGISTRY:-127.0.0.1:5000}
TFCI_CACHE=${TFCI_CACHE:-/var/cache/tfimages-ci}
SUITE=bookworm
ARCHIVE=$TFCI_CACHE/base/debian-$SUITE/current/debian-$SUITE.oci.tar

APT=0 IMAGE=
while [ $# -gt 0 ]; do
  case "$1" in
    --apt) APT=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
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

[ "$(id -u)" = 0 ] || { echo "run as root (chroot, device-free tar extraction with owners)" >&2; exit 2; }
for t in skopeo curl python3 tar; do command -v "$t" >/dev/null || { echo "$t missing (run build-debian.sh first)" >&2; exit 2; }; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/verify-debian.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "registry $HOSTPORT"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$HOSTPORT/v2/" || true)
[ "$code" = 200 ] && ok "GET /v2/ -> 200" || { bad "GET /v2/ -> ${code:-no answer} (start tests/infra/registry/registry.sh)"; exit 1; }

echo "skopeo inspect docker://$IMAGE"
skopeo inspect --tls-verify=false "docker://$IMAGE" >"$WORK/inspect.json" || { bad "skopeo inspect failed"; exit 1; }
skopeo inspect --tls-verify=false --raw "docker://$IMAGE" >"$WORK/manifest.json"
skopeo inspect --tls-verify=false --config "docker://$IMAGE" >"$WORK/config.json"
DIGEST=$(json 'd["Digest"]' <"$WORK/inspect.json")
want_arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
[ "$want_arch" = i386 ] && want_arch=386
os=$(json 'd["Os"]' <"$WORK/inspect.json"); arch=$(json 'd["Architecture"]' <"$WORK/inspect.json")
[ "$os/$arch" = "linux/$want_arch" ] && ok "platform $os/$arch" || bad "platform $os/$arch, want linux/$want_arch"
nl=$(json 'len(d["Layers"])' <"$WORK/inspect.json")
[ "$nl" -ge 1 ] && ok "$nl layer(s)" || bad "no layers"
json 'd["Env"]' <"$WORK/inspect.json" | grep -q "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" &&
  ok "Env PATH" || bad "Env lacks the standard PATH"
cmd=$(json 'd["config"].get("Cmd")' <"$WORK/config.json")
[ "$cmd" = "['bash']" ] && ok "config Cmd $cmd" || bad "config Cmd $cmd, want ['bash']"
mt=$(json 'd.get("mediaType", "")' <"$WORK/manifest.json")
case "$mt" in
  application/vnd.oci.image.manifest.v1+json|application/vnd.docker.distribution.manifest.v2+json) ok "manifest $mt" ;;
  *) bad "manifest media type '$mt'" ;;
esac
lmt=$(json '",".join(sorted(set(l["mediaType"] for l in d["layers"])))' <"$WORK/manifest.json")
case "$lmt" in
  application/vnd.oci.image.layer.v1.tar+gzip|application/vnd.docker.image.rootfs.diff.tar.gzip) ok "layers $lmt" ;;
  *) bad "layer media types '$lmt'" ;;
esac
nd=$(json 'len(d["rootfs"]["diff_ids"])' <"$WORK/config.json")
[ "$nd" = "$nl" ] && ok "config diff_ids match layer count" || bad "config has $nd diff_ids for $nl layers"

echo "tags and mirror-style pull"
for tag in "$SUITE" 12; do
  d=$(skopeo inspect -n --tls-verify=false --format '{{.Digest}}' "docker://$REPO:$tag" 2>/dev/null || true)
  [ "$d" = "$DIGEST" ] && ok "$REPO:$tag -> $DIGEST" || bad "$REPO:$tag -> '${d:-missing}', want $DIGEST"
done
# What BuildKit's resolver sends to a docker.io mirror for "debian:bookworm".
accept='application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*'
hdr=$(curl -s -I --max-time 5 -H "Accept: $accept" "http://$HOSTPORT/v2/$PATH_IN_REPO/manifests/${IMAGE##*:}" | tr -d '\r')
echo "$hdr" | head -n1 | grep -q ' 200' && echo "$hdr" | grep -qi "^docker-content-digest: $DIGEST" &&
  ok "HEAD /v2/$PATH_IN_REPO/manifests/${IMAGE##*:} -> 200, same digest" ||
  bad "HEAD manifest: $(echo "$hdr" | head -n1)"

echo "oci-archive $ARCHIVE"
if [ -f "$ARCHIVE" ]; then
  ad=$(skopeo inspect -n --format '{{.Digest}}' "oci-archive:$ARCHIVE" 2>/dev/null || true)
  [ "$ad" = "$DIGEST" ] && ok "archive digest matches the registry" || bad "archive digest '${ad:-unreadable}' != $DIGEST"
else
  bad "missing (build-debian.sh writes it)"
fi

echo "layer contents"
# dir: copies and verifies every blob against its digest.
skopeo copy -q --src-tls-verify=false "docker://$IMAGE" "dir:$WORK/img" || { bad "skopeo copy to dir: failed"; exit 1; }
R=$WORK/rootfs; mkdir -p "$R"
for l in $(json '" ".join(l["digest"].split(":")[1] for l in d["layers"])' <"$WORK/manifest.json"); do
  tar -xzf "$WORK/img/$l" -C "$R" --numeric-owner --same-permissions || bad "untar layer $l"
done
ls_bytes=$(json 'sum(l["size"] for l in d["layers"])' <"$WORK/manifest.json")
echo "  size: $((ls_bytes / 1024 / 1024)) MiB compressed, $(du -sm "$R" | cut -f1) MiB unpacked, $(find "$R" | wc -l) entries"
if [ -L "$R/bin" ]; then
  [ "$(readlink "$R/bin")" = usr/bin ] && [ -x "$R/usr/bin/bash" ] && ok "/bin -> usr/bin (merged /usr), /usr/bin/bash" || bad "/bin/bash"
else
  check "/bin/bash" test -x "$R/bin/bash"
fi
# /etc/os-release is a relative symlink into /usr/lib; read it through chroot so it resolves inside.
codename=$(chroot "$R" /bin/bash -c '. /etc/os-release && echo "$VERSION_CODENAME"' 2>/dev/null || true)
[ "$codename" = "$SUITE" ] && ok "/etc/os-release VERSION_CODENAME=$codename (read by the image's own bash)" ||
  bad "VERSION_CODENAME='$codename'"
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
  echo "apt inside the image (network)"
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  # shellcheck disable=SC2016
  if unshare -m --propagation private -- /bin/sh -c '
        mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" &&
        chroot "$1" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
          DEBIAN_FRONTEND=noninteractive /bin/bash -c "apt-get -qq update && apt-get -s -qq install ca-certificates curl"
      ' apt "$R" >"$WORK/apt.log" 2>&1; then
    ok "apt-get update + simulated install of ca-certificates curl"
  else
    bad "apt inside the image failed:"; tail -n 15 "$WORK/apt.log" | sed 's/^/        /'
  fi
fi

if [ "$FAILS" -eq 0 ]; then echo "PASS $IMAGE ($DIGEST)"; else echo "FAILED: $FAILS check(s)"; exit 1; fi

#!/usr/bin/env bash
# Register qemu's binfmt_misc handlers, so this host runs binaries of other architectures: the
# Dagger engine's linux/arm64 containers, debootstrap's second stage of an arm64 Debian base.
#
#   binfmt.sh install [ARCH...]   ARCH: qemu's name (aarch64, the default; riscv64, s390x, ...)
#   binfmt.sh status [ARCH...]    exit 0 when each handler is registered, enabled and fix-binary
#
# install: apt-get install Debian's qemu-user-static and binfmt-support when missing, mount
# binfmt_misc when it is not, register each handler with binfmt-support's update-binfmts (Debian's
# /usr/share/binfmts/qemu-ARCH says fix_binary: flag F), then run a 132-byte aarch64 program as
# proof. Idempotent, no systemd needed; a few hundred milliseconds when everything is in place.
#
# Why F (fix binary): the kernel opens the interpreter when the handler is registered, so it works
# in every mount namespace, chroot and container (none of them has /usr/libexec/qemu-binfmt/). The
# table is global to the host: the engine, dockerd and chroot all see it. Register before the
# engine starts (stack.sh does); an engine started earlier works too but logs a warning.
set -euo pipefail

BM=/proc/sys/fs/binfmt_misc
CMD=${1:-install}; shift || true
ARCHES=("$@"); [ ${#ARCHES[@]} -gt 0 ] || ARCHES=(aarch64)

log() { printf '[binfmt] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ok() { # arch -> 0 when registered, enabled and fix-binary
  local f=$BM/qemu-$1
  [ -r "$f" ] && grep -qx enabled "$f" && grep -q '^flags: .*F' "$f"
}

ensure_packages() {
  local missing=() p
  for p in qemu-user-static binfmt-support; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  # No service is started by the postinst here (policy-rc.d or no systemd); handlers are
  # registered below.
  {
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
      --no-install-recommends "${missing[@]}"
  } >"${TMPDIR:-/tmp}/binfmt-apt.log" 2>&1 || { tail -n 20 "${TMPDIR:-/tmp}/binfmt-apt.log" >&2; die "apt-get failed"; }
}

ensure_mounted() {
  [ -e "$BM/register" ] && return 0
  log "mounting binfmt_misc on $BM"
  mount -t binfmt_misc binfmt_misc "$BM" || die "cannot mount binfmt_misc (kernel without CONFIG_BINFMT_MISC, or not privileged)"
}

register() { # arch
  local a=$1
  [ -r "/usr/share/binfmts/qemu-$a" ] || die "binfmt-support knows no qemu-$a (/usr/share/binfmts/qemu-$a)"
  if [ -e "$BM/qemu-$a" ]; then
    log "qemu-$a is registered without the F flag (or disabled): registering it again"
    echo -1 >"$BM/qemu-$a"
  fi
  update-binfmts --enable "qemu-$a" >&2
}

proof() { # arch: run a foreign static program (written from base64, no download)
  [ "$1" = aarch64 ] || return 0
  [ "$(uname -m)" = aarch64 ] && return 0
  local tmp rc=0
  tmp=$(mktemp)
  # aarch64 ELF, static: mov x0,#42; mov x8,#93 (exit); svc #0. Exits 42 only if it really ran.
  base64 -d >"$tmp" <<'B64'
f0VMRgIBAQAAAAAAAAAAAAIAtwABAAAAeABAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAAAAEAAOAABAAAAAAAAAAEAAAAFAAAAAAAAAAAAAAAAAEAAAAAAAAAAQAAAAAAAhAAAAAAAAACEAAAAAAAAAAAQAAAAAAAAQAWA0qgLgNIBAADU
B64
  chmod +x "$tmp"
  "$tmp" || rc=$?
  rm -f "$tmp"
  [ "$rc" = 42 ] || die "an aarch64 test program exited $rc, not 42: the qemu-aarch64 handler does not work"
}

case "$CMD" in
  install)
    [ "$(id -u)" = 0 ] || die "must run as root"
    t0=$(date +%s%N)
    ensure_packages
    ensure_mounted
    for a in "${ARCHES[@]}"; do
      [ "$(uname -m)" = "$a" ] && continue   # the host's own machine needs no handler
      ok "$a" || register "$a"
      ok "$a" || die "qemu-$a is not registered with the F flag after update-binfmts"
      proof "$a"
    done
    log "qemu handlers for ${ARCHES[*]} ready in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    ;;
  status)
    [ -e "$BM/register" ] || exit 1
    for a in "${ARCHES[@]}"; do [ "$(uname -m)" = "$a" ] || ok "$a" || exit 1; done
    ;;
  *) echo "usage: $0 install|status [ARCH...]" >&2; exit 2 ;;
esac

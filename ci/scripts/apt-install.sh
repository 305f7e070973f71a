#!/usr/bin/env bash
# apt-get install PACKAGE... for one build step, with the build's options, leaving the image's own
# apt configuration as it was:
#   TFCI_APT_MIRROR  (optional) base URL serving /debian, /debian-security, /ubuntu: the sources
#                    point at it for this exec only (it may carry credentials: a Dagger secret)
#   TFCI_APT_CA      (optional) CA bundle apt trusts for https sources (a TLS-intercepting proxy)
# /var/cache/apt and /var/lib/apt/lists are cache volumes: docker-clean (which deletes downloaded
# .debs after every dpkg run) is moved aside while apt runs and put back afterwards.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

apt=(apt-get -q -o APT::Keep-Downloaded-Packages=true -o DPkg::Lock::Timeout=600)
if [ -n "${TFCI_APT_CA:-}" ]; then
  apt+=(-o "Acquire::https::CAInfo=$TFCI_APT_CA")
fi

backup=/tmp/tfci-apt-backup
sources=()
restore() {
  local f
  for f in "${sources[@]}"; do cp -a "$backup/$(echo "$f" | tr / _)" "$f"; done
  rm -rf "$backup"
  if [ -e /tmp/tfci-docker-clean ]; then mv /tmp/tfci-docker-clean /etc/apt/apt.conf.d/docker-clean; fi
}
trap restore EXIT

if [ -e /etc/apt/apt.conf.d/docker-clean ]; then
  mv /etc/apt/apt.conf.d/docker-clean /tmp/tfci-docker-clean
fi

if [ -n "${TFCI_APT_MIRROR:-}" ]; then
  # Debian 12: deb822 debian.sources; Ubuntu 24.04: ubuntu.sources; Ubuntu 22.04: sources.list.
  m=$(printf '%s' "$TFCI_APT_MIRROR" | sed 's/[#&\\]/\\&/g')
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    if [ -f "$f" ]; then sources+=("$f"); fi
  done
  mkdir -p "$backup"
  for f in "${sources[@]}"; do cp -a "$f" "$backup/$(echo "$f" | tr / _)"; done
  for f in "${sources[@]}"; do
    sed -i -E \
      -e "s#https?://(deb|httpredir|ftp\\.[a-z]+)\\.debian\\.org/debian-security#$m/debian-security#g" \
      -e "s#https?://security\\.debian\\.org(/debian-security)?#$m/debian-security#g" \
      -e "s#https?://(deb|httpredir|ftp\\.[a-z]+)\\.debian\\.org/debian#$m/debian#g" \
      -e "s#https?://([a-z]+\\.)?(archive|security)\\.ubuntu\\.com/ubuntu#$m/ubuntu#g" \
      "$f"
  done
fi

"${apt[@]}" update
"${apt[@]}" install -y --no-install-recommends "$@"

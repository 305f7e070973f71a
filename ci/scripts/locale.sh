#!/usr/bin/env bash
# Generate LOCALE (e.g. zh_CN.UTF-8) on Ubuntu (locale-gen NAME) and Debian (uncomment it in
# /etc/locale.gen, then locale-gen), make it the system default, and prove `locale -a` lists it.
#   locale.sh LOCALE LANGUAGE LISTED      (LISTED: how `locale -a` spells it, e.g. zh_CN.utf8)
set -euo pipefail
locale=$1 language=$2 listed=$3
if grep -qi '^ID=ubuntu' /etc/os-release; then
  locale-gen "$locale"
else
  if grep -qE "^#? *$locale UTF-8" /etc/locale.gen; then
    sed -i -E "s/^# *($locale UTF-8)/\\1/" /etc/locale.gen
  else
    echo "$locale UTF-8" >>/etc/locale.gen
  fi
  locale-gen
fi
printf 'LANG=%s\nLANGUAGE=%s\n' "$locale" "$language" >/etc/default/locale
locale -a | grep -qx "$listed"

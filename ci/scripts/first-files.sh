#!/usr/bin/env bash
# What the stopped first boot left behind, in sections the checks split on (---NAME---): its host
# keys, root's and www-data's shadow entries, supervisord's log, and whether the sync password
# file is gone.
#   first-files.sh SUPERVISOR_LOG_DIR ROOT_PASSWORD_FILE
log_dir=$1 password_file=$2
cat /etc/ssh/ssh_host_*_key.pub
echo ---shadow---
grep -E '^(root|www-data):' /etc/shadow
echo ---log---
cat "$log_dir/supervisord.log"
echo ---sync---
if test -e "$password_file"; then echo present; else echo deleted; fi

# shellcheck shell=bash
# The environment a `bash -c` under sshd sees (ssh HOST CMD), one TFCI_NAME=VALUE line each.
# Sent as the remote command string (ssh) or run with bash -c: anything else it printed would break
# scp, sftp and rsync.
printf 'TFCI_%s=%s\n' PATH "$PATH" LANG "${LANG:-}" LC_ALL "${LC_ALL:-}" TZ "${TZ:-}" \
  PYTHON_PREFIX "${PYTHON_PREFIX:-}" PYTHON "$(command -v python)"

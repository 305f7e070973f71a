#!/usr/bin/env bash
# The restart scenario's first boot: the image's real CMD in the foreground, while a helper waits
# for sshd and JupyterLab and then stops everything with the image's own shutdown wrapper (the
# exec ending 0 in bounded time is the clean stop `docker stop` would see).
#   first-boot.sh BOOT_SCRIPT SHUTDOWN_COMMAND SSH_PORT JUPYTER_STATUS_URL
boot=$1 shutdown=$2 ssh_port=$3 jupyter=$4
(
  for _ in $(seq 60); do (exec 3<>"/dev/tcp/127.0.0.1/$ssh_port") 2>/dev/null && break; sleep 1; done
  for _ in $(seq 90); do
    curl -s -o /dev/null "$jupyter" && break
    sleep 1
  done
  sleep 2
  echo "[tfci] calling $shutdown"
  "$shutdown" -h now
  echo "[tfci] shutdown exited $?"
) &
exec bash "$boot"

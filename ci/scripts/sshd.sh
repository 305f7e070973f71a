#!/usr/bin/env bash
# No host keys and no root password in the image: boot.sh creates both per container. The sshd
# configuration itself is generated per OpenSSH version by context/init/init.py.
set -euo pipefail
rm -f /etc/ssh/ssh_host_*
mkdir -p /run/sshd
chmod 0755 /run/sshd
usermod -p '*' root

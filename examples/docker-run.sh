#!/usr/bin/env bash
# Run a TensorFlow development image: the original guide's docker-run.sh (ssh 22 -> 2222, JupyterLab
# 8888, TensorBoard 6006, all GPUs, restarted with the Docker daemon) plus the operator inputs the
# image documents (context/README.md): a root password through /sync/root-passwd, a Jupyter token, a
# larger /dev/shm. No secret is ever put on a command line (visible in `ps` and shell history):
# the password goes into a 0600 file, the token through the environment (`-e NAME` without a value).
#
#   examples/docker-run.sh [IMAGE]
#
# Environment (all optional):
#   IMAGE            image to run (default below; any tag or alias `tf-images plan --all` lists)
#   NAME             container name (tensorflow)
#   SYNC_DIR         host directory mounted at /sync ($PWD/sync)
#   ROOT_PASSWORD    root's password: written to $SYNC_DIR/root-passwd, applied once, then deleted
#                    by the container. Unset and on a terminal: asked for. Unset otherwise: the
#                    container prints a random one once (`docker logs NAME`).
#   JUPYTER_TOKEN    JupyterLab token, passed from this environment. Unset: the container makes one
#                    (`docker exec NAME cat /root/.jupyter/token`).
#   SSH_PUBLIC_KEY   public key(s) for root (default: ~/.ssh/id_ed25519.pub or id_rsa.pub if present)
#   GPUS             value of --gpus (all); empty for a CPU image or a host without NVIDIA GPUs
#   SHM_SIZE         /dev/shm size (8g; Docker's default of 64m starves TensorFlow input pipelines)
#   SSH_PORT JUPYTER_PORT TENSORBOARD_PORT   host ports (2222, 8888, 6006)
#   RESTART          restart policy (always, as in the guide)
set -euo pipefail

IMAGE=${1:-${IMAGE:-ghcr.io/OWNER/tensorflow:2.15.0-gpu}}
NAME=${NAME:-tensorflow}
SYNC_DIR=${SYNC_DIR:-$PWD/sync}
GPUS=${GPUS-all}
SHM_SIZE=${SHM_SIZE:-8g}
SSH_PORT=${SSH_PORT:-2222}
JUPYTER_PORT=${JUPYTER_PORT:-8888}
TENSORBOARD_PORT=${TENSORBOARD_PORT:-6006}
RESTART=${RESTART:-always}

mkdir -p "$SYNC_DIR"
chmod 700 "$SYNC_DIR"

password_file=$SYNC_DIR/root-passwd
if [ -z "${ROOT_PASSWORD:-}" ] && [ ! -f "$password_file" ] && [ -t 0 ]; then
  read -rsp "root password for the container (empty: a random one in docker logs): " ROOT_PASSWORD
  echo
fi
if [ -n "${ROOT_PASSWORD:-}" ]; then
  # printf is a shell builtin: the password is never an argument of a process.
  (umask 077 && printf 'root:%s\n' "$ROOT_PASSWORD" >"$password_file")
fi
unset ROOT_PASSWORD

if [ -z "${SSH_PUBLIC_KEY:-}" ]; then
  for key in "$HOME/.ssh/id_ed25519.pub" "$HOME/.ssh/id_rsa.pub"; do
    if [ -f "$key" ]; then SSH_PUBLIC_KEY=$(cat "$key"); break; fi
  done
fi

args=(
  run -d
  --name "$NAME"
  --restart "$RESTART"
  --shm-size "$SHM_SIZE"
  -p "$SSH_PORT:22"
  -p "$JUPYTER_PORT:8888"
  -p "$TENSORBOARD_PORT:6006"
  -v "$SYNC_DIR:/sync"
)
if [ -n "$GPUS" ]; then
  args+=(--gpus "$GPUS")
fi
if [ -n "${JUPYTER_TOKEN:-}" ]; then
  export JUPYTER_TOKEN
  args+=(-e JUPYTER_TOKEN)  # the value comes from this environment, not the command line
fi
if [ -n "${SSH_PUBLIC_KEY:-}" ]; then
  export SSH_PUBLIC_KEY
  args+=(-e SSH_PUBLIC_KEY)
fi

docker "${args[@]}" "$IMAGE"

cat <<EOF
started $NAME from $IMAGE
  ssh:         ssh -p $SSH_PORT root@localhost
  JupyterLab:  http://localhost:$JUPYTER_PORT/jupyter/lab   (token: \$JUPYTER_TOKEN, or docker exec $NAME cat /root/.jupyter/token)
  TensorBoard: http://localhost:$TENSORBOARD_PORT/monitor/   (logs in /root/tensorboard-logs)
  password:    the one you chose, or: docker logs $NAME | grep -i password
EOF

# shellcheck shell=sh
# /etc/profile.d/tfimage.sh: the session environment of the TensorFlow dev image.
# Installed by /init/init/init.py and sourced by
#   - /etc/profile: login shells (interactive ssh logins, JupyterLab terminals, bash -l);
#   - /etc/bash.bashrc, whose first block sources it: sshd runs `ssh host CMD`, scp, sftp
#     and rsync as `bash -c`, and Debian/Ubuntu bash reads /etc/bash.bashrc for those
#     (why this and not sshd's SetEnv or pam_env: see /init/init/init.py).
# So command mode gets the same PATH, LANG/LC_ALL, TZ and Python as a login shell.
#
# It MUST print nothing and never fail: scp, sftp and rsync speak their protocol over the
# session's stdout, and one stray byte breaks them. Sourcing it twice changes nothing.
#
# Order: the image contract's defaults (/etc/tfimage/contract.env), then the container's
# environment as this boot saved it (PATH, PYTHON_PREFIX, LANG/LC_ALL/TZ, CUDA/NVIDIA/NCCL
# variables; never secrets), so `docker run -e` values win; then the Python prefix first
# on PATH. TFIMAGE_CONTRACT_ENV (tests only) replaces the contract file's path.

if [ -r "${TFIMAGE_CONTRACT_ENV:-/etc/tfimage/contract.env}" ]; then
    # shellcheck disable=SC1090,SC1091
    . "${TFIMAGE_CONTRACT_ENV:-/etc/tfimage/contract.env}"
fi
if [ -n "${TFIMAGE_LOCALE:-}" ]; then
    LANG="$TFIMAGE_LOCALE"
    LC_ALL="$TFIMAGE_LOCALE"
fi
if [ -n "${TFIMAGE_LANGUAGE:-}" ]; then
    LANGUAGE="$TFIMAGE_LANGUAGE"
fi
if [ -n "${TFIMAGE_TIMEZONE:-}" ]; then
    TZ="$TFIMAGE_TIMEZONE"
fi

if [ -n "${TFIMAGE_ENV_SNAPSHOT:-}" ] && [ -r "$TFIMAGE_ENV_SNAPSHOT" ]; then
    # shellcheck disable=SC1090
    . "$TFIMAGE_ENV_SNAPSHOT"
fi

PYTHON_PREFIX="${PYTHON_PREFIX:-${TFIMAGE_PYTHON_PREFIX:-}}"
if [ -n "$PYTHON_PREFIX" ]; then
    case ":${PATH:-}:" in
        *":${PYTHON_PREFIX}/bin:"*) ;;
        *) PATH="${PYTHON_PREFIX}/bin${PATH:+:${PATH}}" ;;
    esac
    export PYTHON_PREFIX
fi
export PATH
[ -n "${LANG:-}" ] && export LANG
[ -n "${LANGUAGE:-}" ] && export LANGUAGE
[ -n "${LC_ALL:-}" ] && export LC_ALL
[ -n "${TZ:-}" ] && export TZ

# Interactive shells only: the seed let users paste "sudo ..." commands as root.
case $- in
    *i*)
        if ! command -v sudo >/dev/null 2>&1; then
            alias sudo=''
        fi
        ;;
esac
true

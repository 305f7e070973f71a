# shellcheck shell=sh
# /etc/profile.d/tfimage.sh: login-shell environment of the TensorFlow dev image.
# Copied here by the image build (and kept in sync by /init/init/init.py).
#
# sshd sessions do not inherit the container's ENV, and Debian's /etc/profile
# resets PATH, so first restore the container environment snapshot that
# /init/init/init.py writes at every boot (PATH, PYTHON_PREFIX, CUDA/NVIDIA vars;
# never secrets).
if [ -r /etc/tfimage/env.sh ]; then
    # shellcheck disable=SC1091
    . /etc/tfimage/env.sh
fi

if [ -n "${PYTHON_PREFIX:-}" ]; then
    case ":${PATH}:" in
        *":${PYTHON_PREFIX}/bin:"*) ;;
        *) PATH="${PYTHON_PREFIX}/bin:${PATH}" ;;
    esac
    export PATH
fi

LANG=zh_CN.UTF-8
LANGUAGE=zh_CN:zh
LC_ALL=zh_CN.UTF-8
TZ=Asia/Shanghai
export LANG LANGUAGE LC_ALL TZ

# Interactive shells only: the seed let users paste "sudo ..." commands as root.
case $- in
    *i*)
        if ! command -v sudo >/dev/null 2>&1; then
            alias sudo=''
        fi
        ;;
esac

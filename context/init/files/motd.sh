#!/bin/bash
# /etc/tfimage-motd: login banner of the TensorFlow dev image (CPU, memory, GPU, disk).
# Installed by /init/init/init.py; run by /etc/profile.d/zz-tfimage-motd.sh for
# interactive login shells. Must never fail a login: no `set -e`, every probe has a
# fallback.
#
# CPU and memory are the container's cgroup limits (cgroup v2: cpu.max, memory.max;
# cgroup v1: cpu.cfs_quota_us/cpu.cfs_period_us, memory.limit_in_bytes). "max", -1 or a
# limit above the host's total fall back to the host values (nproc, /proc/meminfo).
# The directories and URL paths it names come from the image contract
# (/etc/tfimage/contract.env), never from copies here.
# Test overrides: TFIMAGE_CGROUP_ROOT (default /sys/fs/cgroup), TFIMAGE_MEMINFO
# (default /proc/meminfo), TFIMAGE_DF_PATH (default /), TFIMAGE_CONTRACT_ENV.

CONTRACT="${TFIMAGE_CONTRACT_ENV:-/etc/tfimage/contract.env}"
if [ -r "$CONTRACT" ]; then
    # shellcheck disable=SC1090
    . "$CONTRACT"
fi
CG="${TFIMAGE_CGROUP_ROOT:-/sys/fs/cgroup}"
MEMINFO="${TFIMAGE_MEMINFO:-/proc/meminfo}"
DF_PATH="${TFIMAGE_DF_PATH:-/}"

green() { printf '\033[32m%s\033[0m' "$1"; }

host_cpus() {
    nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo "?"
}

host_mem_bytes() {
    awk '/^MemTotal:/ { printf "%.0f", $2 * 1024; exit }' "$MEMINFO" 2>/dev/null
}

# read_first FILE: first line of FILE, or nothing.
read_first() {
    local line=""
    if [ -r "$1" ]; then
        IFS= read -r line <"$1" || true
    fi
    printf '%s' "$line"
}

cpu_cores() {
    local quota="" period="" host line
    host=$(host_cpus)
    if [ -r "$CG/cpu.max" ]; then
        line=$(read_first "$CG/cpu.max")
        quota="${line%% *}"
        period="${line##* }"
    elif [ -r "$CG/cpu/cpu.cfs_quota_us" ]; then
        quota=$(read_first "$CG/cpu/cpu.cfs_quota_us")
        period=$(read_first "$CG/cpu/cpu.cfs_period_us")
    elif [ -r "$CG/cpu,cpuacct/cpu.cfs_quota_us" ]; then
        quota=$(read_first "$CG/cpu,cpuacct/cpu.cfs_quota_us")
        period=$(read_first "$CG/cpu,cpuacct/cpu.cfs_period_us")
    fi
    if [[ "$quota" =~ ^[0-9]+$ && "$period" =~ ^[1-9][0-9]*$ && "$host" =~ ^[0-9]+$ ]]; then
        awk -v q="$quota" -v p="$period" -v h="$host" \
            'BEGIN { c = q / p; if (c > h) c = h; printf "%g\n", int(c * 100 + 0.5) / 100 }'
    else
        printf '%s\n' "$host"
    fi
}

mem_bytes() {
    local limit="" host
    host=$(host_mem_bytes)
    if [ -r "$CG/memory.max" ]; then
        limit=$(read_first "$CG/memory.max")
    elif [ -r "$CG/memory/memory.limit_in_bytes" ]; then
        limit=$(read_first "$CG/memory/memory.limit_in_bytes")
    fi
    if [[ "$limit" =~ ^[0-9]+$ && "$host" =~ ^[0-9]+$ ]] && [ "${#limit}" -le 18 ] && [ "$limit" -lt "$host" ]; then
        printf '%s\n' "$limit"
    else
        printf '%s\n' "$host"
    fi
}

human_gb() {
    awk -v b="$1" 'BEGIN { if (b == "") print "?"; else printf "%.1f GB\n", b / 1073741824 }'
}

line="+------------------------------------------------------------------------------+"
printf '%s\n' "$line"
printf '%s\n' "$(green '目录说明:')"
printf '  %-22s %s\n' "/" "系统盘：实例关机数据不会丢失，可存放代码等，会随保存镜像一起保存"
printf '  %-22s %s\n' "${TFIMAGE_WORKDIR:-?}" "JupyterLab 工作目录（浏览器访问 ${TFIMAGE_JUPYTER_BASE_URL:-?}）"
printf '  %-22s %s\n' "${TFIMAGE_TENSORBOARD_LOGDIR:-?}" "TensorBoard 日志目录（浏览器访问 ${TFIMAGE_TENSORBOARD_PATH_PREFIX:-?}/）"
printf '%s\n' "$line"

printf '%s：%s 核心\n' "$(green 'CPU ')" "$(cpu_cores)"
printf '%s：%s\n' "$(green '内存')" "$(human_gb "$(mem_bytes)")"

if command -v nvidia-smi >/dev/null 2>&1; then
    gpus=$(timeout 10 nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null)
    if [ -n "$gpus" ]; then
        count=$(printf '%s\n' "$gpus" | grep -c .)
        printf '%s：%s 块\n' "$(green 'GPU ')" "$count"
        printf '%s\n' "$gpus" | awk '{ printf "      [%d] %s\n", NR - 1, $0 }'
    else
        printf '%s：nvidia-smi 未检测到 GPU\n' "$(green 'GPU ')"
    fi
fi

disk=$(df -hP "$DF_PATH" 2>/dev/null | awk 'NR == 2 { print $5 " " $3 "/" $2 }')
printf '%s\n' "$(green '存储：')"
printf '  %s：%s\n' "$(green "系统盘 ${DF_PATH}")" "${disk:-?}"
printf '%s\n' "$line"

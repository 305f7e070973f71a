#!/usr/bin/env bash
# Container entrypoint (CMD ["bash", "/init/boot/boot.sh"]) of the TensorFlow dev image.
#
# Prepares the container, then execs supervisord (sshd, JupyterLab, TensorBoard) as
# PID 1. Safe to run on every start of the same container: each step checks what is
# already there, so a second boot changes nothing it should not (no duplicated config
# lines, no new host keys, no new password or token).
#
# Every step is a function and every path goes through "$R" (TFIMAGE_ROOT, empty in
# the image), so tests can `source` this file and run single steps against a
# temporary root. Sourcing does not run main.
#
# Operator contract (see /init/README.md):
#   /sync/root-passwd      "root:PASSWORD" (chpasswd format); applied, then deleted
#   ROOT_PASSWORD          applied on every boot when /sync/root-passwd is absent
#   (neither)              first boot only: random password, printed once
#   SSH_PUBLIC_KEY, /sync/authorized_keys   appended to /root/.ssh/authorized_keys
#   JUPYTER_TOKEN          JupyterLab token; otherwise a random one kept in
#                          /root/.jupyter/token (0600), printed once when created
#   JUPYTER_ALLOW_NO_TOKEN=1   token-less JupyterLab (warned about in the log)
#   INIT_SCRIPT_URL + INIT_SCRIPT_SHA256    optional https init script, run only
#                          when its sha256 matches
#   PIP_MIRROR_URL, CONDA_MIRROR_CHANNELS, MIRRORS=off   see /init/init/init.py
#
# Test-only overrides: TFIMAGE_ROOT (path prefix), TFIMAGE_INIT_DIR (this tree,
# default /init), TFIMAGE_CHPASSWD, TFIMAGE_CURL, TFIMAGE_SSH_KEYGEN, TFIMAGE_SUPERVISORD
# (commands).

set -euo pipefail

R="${TFIMAGE_ROOT:-}"
INIT_DIR="${TFIMAGE_INIT_DIR:-/init}"
SUPERVISOR_CONF="${INIT_DIR}/supervisor/supervisord.conf"
SUPERVISORD="${TFIMAGE_SUPERVISORD:-/usr/bin/supervisord}"

log() { printf '[boot] %s\n' "$*"; }
warn() { printf '[boot] WARNING: %s\n' "$*"; }

# random_hex N: 2N lowercase hex characters from /dev/urandom.
random_hex() {
    od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# merge_path DIR-LISTS...: join colon lists, drop empty and repeated entries.
merge_path() {
    local joined out="" d
    local -a parts
    joined=$(IFS=:; printf '%s' "$*")
    IFS=: read -r -a parts <<<"$joined"
    for d in "${parts[@]}"; do
        [[ -z "$d" ]] && continue
        case ":${out}:" in
            *":${d}:"*) ;;
            *) out="${out:+${out}:}${d}" ;;
        esac
    done
    printf '%s' "$out"
}

# --- environment --------------------------------------------------------------

load_profile() {
    # Debian's /etc/profile resets PATH, which would drop the image's CUDA and
    # Python directories: keep the container's PATH and merge it back afterwards.
    local orig_path="${PATH:-}"
    if [[ -r "${R}/etc/profile" ]]; then
        set +u
        # shellcheck disable=SC1091
        source "${R}/etc/profile" || true
        set -u
    fi
    if [[ -z "${PYTHON_PREFIX:-}" ]]; then
        local p
        for p in /root/miniconda3 /opt/python; do
            if [[ -x "${R}${p}/bin/python" ]]; then PYTHON_PREFIX="$p"; break; fi
        done
    fi
    if [[ -n "${PYTHON_PREFIX:-}" ]]; then
        export PYTHON_PREFIX
        PATH=$(merge_path "${PYTHON_PREFIX}/bin" "$orig_path" "${PATH:-}")
    else
        warn "PYTHON_PREFIX is not set and no Python prefix was found; JupyterLab and TensorBoard will not start"
        PATH=$(merge_path "$orig_path" "${PATH:-}")
    fi
    export PATH
}

# --- root password ------------------------------------------------------------

# root_password_is_set: true when /etc/shadow holds a usable hash for root
# (not empty, "*" or a locked "!...").
root_password_is_set() {
    local hash
    hash=$(awk -F: '$1 == "root" { print $2; exit }' "${R}/etc/shadow" 2>/dev/null || true)
    case "$hash" in
        "" | "*"* | "!"*) return 1 ;;
        *) return 0 ;;
    esac
}

# apply_root_password PASSWORD: feed "root:PASSWORD" to chpasswd on stdin
# (printf is a builtin: the password never appears in a process list or the log).
apply_root_password() {
    local chpasswd="${TFIMAGE_CHPASSWD:-chpasswd}"
    printf 'root:%s\n' "$1" | "$chpasswd"
}

setup_root_password() {
    local sync_file="${R}/sync/root-passwd" line pw
    if [[ -f "$sync_file" ]]; then
        line=$(head -n 1 "$sync_file" | tr -d '\r')
        if [[ "$line" == root:?* ]]; then
            if apply_root_password "${line#root:}"; then
                log "root password set from /sync/root-passwd"
            else
                warn "chpasswd failed for /sync/root-passwd"
            fi
        else
            warn "/sync/root-passwd must contain 'root:PASSWORD'; ignored"
        fi
        rm -f -- "$sync_file" 2>/dev/null || warn "could not delete /sync/root-passwd (read-only mount?)"
    elif [[ -n "${ROOT_PASSWORD:-}" ]]; then
        if apply_root_password "$ROOT_PASSWORD"; then
            log "root password set from ROOT_PASSWORD"
        else
            warn "chpasswd failed for ROOT_PASSWORD"
        fi
    elif root_password_is_set; then
        log "root password already set; keeping it"
    else
        pw=$(random_hex 12)
        if apply_root_password "$pw"; then
            log "=================================================================="
            log "Generated root password (shown only once, on first boot): ${pw}"
            log "Change it with 'passwd' or set ROOT_PASSWORD / /sync/root-passwd."
            log "=================================================================="
        else
            warn "chpasswd failed; root has no password (key login only)"
        fi
    fi
    # Keep the secret out of the environment of supervisord and every service.
    unset ROOT_PASSWORD
}

# --- SSH ----------------------------------------------------------------------

# add_authorized_keys FILE: append each key line of FILE not already present.
add_authorized_keys() {
    local src="$1" dest="${R}/root/.ssh/authorized_keys" line added=0
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%$'\r'}"
        [[ -z "${line//[[:space:]]/}" || "$line" == \#* ]] && continue
        if ! grep -qxF -- "$line" "$dest"; then
            printf '%s\n' "$line" >>"$dest"
            added=$((added + 1))
        fi
    done <"$src"
    log "authorized_keys: ${added} new key(s) from ${2:-$src}"
}

setup_authorized_keys() {
    local ssh_dir="${R}/root/.ssh" tmp
    if [[ -z "${SSH_PUBLIC_KEY:-}" && ! -f "${R}/sync/authorized_keys" ]]; then
        return 0
    fi
    mkdir -p "$ssh_dir"
    chmod 0700 "$ssh_dir"
    touch "${ssh_dir}/authorized_keys"
    chmod 0600 "${ssh_dir}/authorized_keys"
    if [[ -n "${SSH_PUBLIC_KEY:-}" ]]; then
        tmp=$(mktemp)
        printf '%s\n' "$SSH_PUBLIC_KEY" >"$tmp"
        add_authorized_keys "$tmp" SSH_PUBLIC_KEY
        rm -f "$tmp"
    fi
    if [[ -f "${R}/sync/authorized_keys" ]]; then
        add_authorized_keys "${R}/sync/authorized_keys" /sync/authorized_keys
    fi
}

setup_sshd() {
    local etc="${R}/etc/ssh" keygen="${TFIMAGE_SSH_KEYGEN:-ssh-keygen}"
    local dropin="${etc}/sshd_config.d/tfimage.conf" main_conf="${etc}/sshd_config" tmp
    mkdir -p "${etc}/sshd_config.d" "${R}/run/sshd"
    chmod 0755 "${R}/run/sshd"

    # Host keys: the image ships none; create the missing ones on first boot.
    if ! compgen -G "${etc}/ssh_host_*_key" >/dev/null; then
        log "generating SSH host keys"
    fi
    local -a prefix=()
    [[ -n "$R" ]] && prefix=(-f "$R")
    "$keygen" -A "${prefix[@]}" >/dev/null || warn "ssh-keygen -A failed; sshd may not start"

    # Drop-in with PermitRootLogin/PasswordAuthentication (rewritten only if it differs).
    if ! cmp -s "${INIT_DIR}/ssh/tfimage.conf" "$dropin"; then
        install -m 0644 "${INIT_DIR}/ssh/tfimage.conf" "$dropin"
        log "installed /etc/ssh/sshd_config.d/tfimage.conf"
    fi

    # sshd keeps the first value of a keyword, so the Include must come first.
    touch "$main_conf"
    if ! grep -qE '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf[[:space:]]*$' "$main_conf"; then
        tmp=$(mktemp "${main_conf}.XXXXXX")
        {
            printf '# Added by /init/boot/boot.sh: drop-ins take precedence.\n'
            printf 'Include /etc/ssh/sshd_config.d/*.conf\n\n'
            cat "$main_conf"
        } >"$tmp"
        chmod 0644 "$tmp"
        mv -f "$tmp" "$main_conf"
        log "prepended 'Include /etc/ssh/sshd_config.d/*.conf' to /etc/ssh/sshd_config"
    fi
}

# --- JupyterLab token ---------------------------------------------------------

setup_jupyter_token() {
    local dir="${R}/root/.jupyter" file="${R}/root/.jupyter/token" token
    if [[ "${JUPYTER_ALLOW_NO_TOKEN:-}" == "1" ]]; then
        warn "JUPYTER_ALLOW_NO_TOKEN=1: JupyterLab runs WITHOUT authentication; anyone who can reach port 8888 can run code as root"
        return 0
    fi
    if [[ -n "${JUPYTER_TOKEN:-}" ]]; then
        log "JupyterLab token taken from JUPYTER_TOKEN (not shown)"
        return 0
    fi
    if [[ -s "$file" ]]; then
        chmod 0600 "$file"
        log "JupyterLab token: using the existing /root/.jupyter/token"
        return 0
    fi
    if [[ ! -d "$dir" ]]; then
        mkdir -p "$dir"
        chmod 0700 "$dir"
    fi
    token=$(random_hex 24)
    (
        umask 077
        printf '%s\n' "$token" >"${file}.tmp"
    )
    mv -f "${file}.tmp" "$file"
    log "=================================================================="
    log "JupyterLab token generated (stored in /root/.jupyter/token, shown once):"
    log "  http://<host>:8888/jupyter/lab?token=${token}"
    log "=================================================================="
}

# --- init step ----------------------------------------------------------------

find_python() {
    if [[ -n "${PYTHON_PREFIX:-}" && -x "${PYTHON_PREFIX}/bin/python" ]]; then
        printf '%s' "${PYTHON_PREFIX}/bin/python"
    elif command -v python3 >/dev/null 2>&1; then
        command -v python3
    else
        return 1
    fi
}

run_init() {
    local py
    if ! py=$(find_python); then
        warn "no python found; skipping ${INIT_DIR}/init/init.py"
        return 0
    fi
    TFIMAGE_ROOT="$R" "$py" "${INIT_DIR}/init/init.py" || warn "init step reported errors (see above); continuing"
}

# --- optional remote init script ------------------------------------------------

# remote_init_decision URL SHA256: prints "run" (status 0) or "skip: REASON" (status 1).
remote_init_decision() {
    local url="${1:-}" sha="${2:-}"
    if [[ -z "$url" ]]; then
        printf 'skip: INIT_SCRIPT_URL not set\n'; return 1
    fi
    if [[ "$url" != https://?* ]]; then
        printf 'skip: INIT_SCRIPT_URL must be an https:// URL\n'; return 1
    fi
    if [[ "$url" =~ [[:space:]] ]]; then
        printf 'skip: INIT_SCRIPT_URL contains whitespace\n'; return 1
    fi
    if [[ -z "$sha" ]]; then
        printf 'skip: INIT_SCRIPT_SHA256 not set\n'; return 1
    fi
    if [[ ! "$sha" =~ ^[0-9a-fA-F]{64}$ ]]; then
        printf 'skip: INIT_SCRIPT_SHA256 is not 64 hex digits\n'; return 1
    fi
    printf 'run\n'
}

# verify_sha256 FILE EXPECTED: status 0 only when the digest matches.
verify_sha256() {
    local actual
    actual=$(sha256sum -- "$1" | awk '{ print $1 }')
    [[ "$actual" == "$(printf '%s' "$2" | tr 'A-F' 'a-f')" ]]
}

run_remote_init() {
    local url="${INIT_SCRIPT_URL:-}" sha="${INIT_SCRIPT_SHA256:-}" decision dir script
    local curl="${TFIMAGE_CURL:-curl}"
    decision=$(remote_init_decision "$url" "$sha") || {
        log "remote init script ${decision}"
        return 0
    }
    dir=$(mktemp -d)
    script="${dir}/init-script"
    # Certificate verification stays on (never -k/--insecure); https only, also on redirects.
    if ! "$curl" -fsSL --proto '=https' --proto-redir '=https' --connect-timeout 10 --max-time 120 \
        -o "$script" -- "$url"; then
        warn "remote init script: download failed; skipped"
        rm -rf -- "$dir"
        return 0
    fi
    if ! verify_sha256 "$script" "$sha"; then
        warn "remote init script: sha256 mismatch; NOT run"
        rm -rf -- "$dir"
        return 0
    fi
    log "remote init script: sha256 verified; running"
    local py
    if [[ "${url%%\?*}" == *.py ]]; then
        if py=$(find_python); then
            "$py" "$script" || warn "remote init script exited with status $?"
        else
            warn "remote init script is Python but no python was found; skipped"
        fi
    else
        bash "$script" || warn "remote init script exited with status $?"
    fi
    rm -rf -- "$dir"
}

# --- supervisord ----------------------------------------------------------------

prepare_supervisor() {
    local pidfile="${R}/run/supervisord.pid" pid
    mkdir -p "${R}/root/tensorboard-logs" "${R}/var/log/supervisor" "${R}/run"
    # Logs may contain the JupyterLab token: root only.
    chmod 0700 "${R}/var/log/supervisor"
    if [[ -f "$pidfile" ]]; then
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [[ ! "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
            rm -f -- "$pidfile" "${R}/run/supervisor.sock"
        fi
    fi
}

main() {
    log "boot begin"
    load_profile
    setup_root_password
    setup_authorized_keys
    setup_sshd
    setup_jupyter_token
    run_init
    run_remote_init
    prepare_supervisor
    log "starting supervisord"
    exec "$SUPERVISORD" -n -c "$SUPERVISOR_CONF"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    main "$@"
fi

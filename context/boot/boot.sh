#!/usr/bin/env bash
# Container entrypoint (CMD ["bash", "/init/boot/boot.sh"]) of the TensorFlow dev image.
#
# Prepares the container, then execs supervisord (sshd, JupyterLab, TensorBoard and the
# one-shot remote init script) as PID 1. Safe to run on every start of the same container:
# each step checks what is already there, so a second boot changes nothing it should not
# (no duplicated config lines, no new host keys, no new password or token).
#
# Every input is hostile and every step fallible. There is deliberately no `set -e` or
# `set -u`: each step runs through step(), which logs ONE line when the step fails and
# carries on, so supervisord and sshd always start (a container that crash-loops before sshd
# cannot even be debugged). Only exec'ing supervisord is essential; if that fails, sshd
# alone is exec'd.
#
# `boot.sh remote-init` is supervisord's one-shot program "init-script": the opt-in remote
# init script runs there, after supervisord has started the services, with bounded
# download and run times, never in front of them.
#
# The image contract (ports, paths, locale, timezone, Python prefix) comes from
# /etc/tfimage/contract.env, which the build generates from ci/model/contract.py; this file
# sources and exports it (supervisord.conf reads %(ENV_TFIMAGE_...)s) and spells none of
# those values itself.
#
# Every step is a function and every path goes through "$R" (TFIMAGE_ROOT, empty in
# the image), so tests can `source` this file and run single steps against a
# temporary root. Sourcing does not run main.
#
# Operator contract (see /init/README.md):
#   /sync/root-passwd      exactly one line "root:PASSWORD"; applied, then deleted
#   ROOT_PASSWORD          applied on every boot when /sync/root-passwd is absent
#   (neither)              first boot only: random password, printed once
#   SSH_PUBLIC_KEY, /sync/authorized_keys   appended to /root/.ssh/authorized_keys
#   JUPYTER_TOKEN          JupyterLab token; otherwise a random one kept in
#                          /root/.jupyter/token (0600), printed once when created
#   JUPYTER_ALLOW_NO_TOKEN=1   token-less JupyterLab (warned about in the log)
#   INIT_SCRIPT_URL + INIT_SCRIPT_SHA256 [+ INIT_SCRIPT_TIMEOUT]   optional https init
#                          script, run after the services start, only when its sha256 matches
#   PIP_MIRROR_URL, CONDA_MIRROR_CHANNELS, MIRRORS=off   see /init/init/init.py
# A password, token or key that is malformed (line break, wrong user, blank, shorter than
# TFIMAGE_MIN_SECRET_LENGTH, a /sync/root-passwd that is not a regular file, ...) is refused
# with one log line and changes nothing; boot goes on as if it had not been given.
#
# Test-only overrides: TFIMAGE_ROOT (path prefix), TFIMAGE_INIT_DIR (this tree, default
# /init), TFIMAGE_CONTRACT_ENV (contract file), TFIMAGE_CHPASSWD, TFIMAGE_CURL,
# TFIMAGE_SSH_KEYGEN, TFIMAGE_SSHD, TFIMAGE_SUPERVISORD (commands).

set -o pipefail

R="${TFIMAGE_ROOT:-}"
INIT_DIR="${TFIMAGE_INIT_DIR:-/init}"
SUPERVISOR_CONF="${INIT_DIR}/supervisor/supervisord.conf"
SUPERVISORD="${TFIMAGE_SUPERVISORD:-/usr/bin/supervisord}"
SSHD="${TFIMAGE_SSHD:-/usr/sbin/sshd}"
# Download limits of the remote init script (seconds).
INIT_CONNECT_TIMEOUT=10
INIT_DOWNLOAD_TIMEOUT=60
INIT_RUN_TIMEOUT_DEFAULT=600

log() { printf '[boot] %s\n' "$*"; }
warn() { printf '[boot] WARNING: %s\n' "$*"; }

# fail REASON: record why the current step failed (step() logs it); always status 1.
STEP_ERROR=""
fail() {
    STEP_ERROR="$*"
    return 1
}

# step NAME FUNCTION [ARGS...]: run one boot step; on failure log one line and go on.
STEP_GOES_ON="boot continues"
step() {
    local name="$1" rc
    shift
    STEP_ERROR=""
    "$@"
    rc=$?
    if ((rc != 0)); then
        warn "${name}: ${STEP_ERROR:-failed with status ${rc}}; ${STEP_GOES_ON}"
    fi
    return 0
}

# need VAR...: fail unless every named variable (from the image contract) is set.
need() {
    local name
    for name in "$@"; do
        [[ -n "${!name:-}" ]] || {
            fail "the image contract does not define ${name} (${TFIMAGE_CONTRACT_ENV:-/etc/tfimage/contract.env})"
            return 1
        }
    done
}

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

# load_environment: export the image contract; default LANG/LC_ALL/LANGUAGE/TZ and
# PYTHON_PREFIX from it where the container's environment leaves them unset.
#
# Deliberately NOT /etc/profile: that sources the environment snapshot of the PREVIOUS
# boot, which would override this container's fresh `docker run -e` values (and init.py
# would then write the stale values back). The container's environment always wins.
load_environment() {
    local file="${TFIMAGE_CONTRACT_ENV:-${R}/etc/tfimage/contract.env}"
    if [[ ! -r "$file" ]]; then
        fail "cannot read ${file} (the image contract); services that need it will not start"
        return 1
    fi
    set -a
    # shellcheck disable=SC1090
    source "$file" || {
        set +a
        fail "cannot source ${file}"
        return 1
    }
    set +a
    : "${LANG:=${TFIMAGE_LOCALE:-}}" "${LC_ALL:=${TFIMAGE_LOCALE:-}}"
    : "${LANGUAGE:=${TFIMAGE_LANGUAGE:-}}" "${TZ:=${TFIMAGE_TIMEZONE:-}}"
    : "${PYTHON_PREFIX:=${TFIMAGE_PYTHON_PREFIX:-}}"
    export LANG LC_ALL LANGUAGE TZ PYTHON_PREFIX
    PATH=$(merge_path "${PYTHON_PREFIX:+${PYTHON_PREFIX}/bin}" "${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}")
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

# password_problem PASSWORD: prints why PASSWORD must not reach chpasswd (nothing if fine).
# chpasswd reads "user:password" LINES: a line break would start a second account's entry.
# Root logs in over SSH on a published port: a password shorter than the contract's minimum is
# refused like a blank one (then the existing or a generated password is used).
password_problem() {
    local pw="$1"
    if [[ -z "${pw//[[:space:]]/}" ]]; then
        printf 'it is empty or blank'
    elif [[ "$pw" == *$'\n'* || "$pw" == *$'\r'* ]]; then
        printf 'it contains a line break (chpasswd would read the rest as another account)'
    elif [[ "$pw" == *[[:cntrl:]]* ]]; then
        printf 'it contains control characters'
    elif ((${#pw} > 512)); then
        printf 'it is longer than 512 characters'
    elif ((${#pw} < TFIMAGE_MIN_SECRET_LENGTH)); then
        printf 'it is shorter than %s characters' "$TFIMAGE_MIN_SECRET_LENGTH"
    fi
}

# sync_bytes FILE: at most 4097 bytes of FILE, opened O_NONBLOCK (dd iflag=nonblock): a named pipe
# swapped in after the regular-file check returns nothing instead of blocking boot forever.
sync_bytes() {
    dd if="$1" iflag=nonblock bs=4097 count=1 status=none 2>/dev/null
}

# read_sync_password FILE: set SYNC_PASSWORD from a valid /sync/root-passwd, else fail.
# Valid: a regular file (a pipe would hang boot, a device never end), exactly one line
# "root:PASSWORD" (a final LF or CRLF is allowed), at most 4 KiB.
SYNC_PASSWORD=""
read_sync_password() {
    local file="$1" content size problem
    SYNC_PASSWORD=""
    if [[ ! -f "$file" ]]; then
        fail "it is not a regular file (a directory, named pipe or device?)"
        return 1
    fi
    size=$(sync_bytes "$file" | wc -c) || {
        fail "cannot read it"
        return 1
    }
    if ((size > 4096)); then
        fail "it is larger than 4 KiB"
        return 1
    fi
    if [[ "$(sync_bytes "$file" | tr -d '\000' | wc -c)" != "$size" ]]; then
        fail "it contains NUL bytes"
        return 1
    fi
    content=$(sync_bytes "$file" && printf x) || {
        fail "cannot read it"
        return 1
    }
    content="${content%x}"
    content="${content%$'\n'}"
    content="${content%$'\r'}"
    if [[ "$content" == *$'\n'* || "$content" == *$'\r'* ]]; then
        fail "it must be exactly one line 'root:PASSWORD' (chpasswd would read the other lines as other accounts)"
        return 1
    fi
    if [[ "$content" != *:* ]]; then
        fail "it must contain 'root:PASSWORD'"
        return 1
    fi
    if [[ "${content%%:*}" != "root" ]]; then
        fail "the user part must be exactly 'root' (only root's password is set here)"
        return 1
    fi
    problem=$(password_problem "${content#*:}")
    if [[ -n "$problem" ]]; then
        fail "the password is refused: ${problem}"
        return 1
    fi
    SYNC_PASSWORD="${content#*:}"
}

# apply_root_password PASSWORD: feed "root:PASSWORD" to chpasswd on stdin
# (printf is a builtin: the password never appears in a process list or the log).
apply_root_password() {
    local chpasswd="${TFIMAGE_CHPASSWD:-chpasswd}"
    printf 'root:%s\n' "$1" | "$chpasswd" >/dev/null 2>&1
}

# setup_root_password: the first VALID source wins (/sync/root-passwd, then ROOT_PASSWORD);
# a refused source is logged in one line and skipped. With none: keep root's password, or on
# first boot set a random one and print it once.
setup_root_password() {
    need TFIMAGE_SYNC_DIR TFIMAGE_MIN_SECRET_LENGTH || return 1
    local sync_file="${R}${TFIMAGE_SYNC_DIR}/root-passwd" pw problem
    if [[ -e "$sync_file" ]]; then
        if read_sync_password "$sync_file"; then
            if apply_root_password "$SYNC_PASSWORD"; then
                log "root password set from ${TFIMAGE_SYNC_DIR}/root-passwd"
            else
                warn "chpasswd failed for ${TFIMAGE_SYNC_DIR}/root-passwd; root password unchanged"
            fi
            SYNC_PASSWORD=""
            rm -f -- "$sync_file" 2>/dev/null ||
                warn "could not delete ${TFIMAGE_SYNC_DIR}/root-passwd (read-only mount?)"
            return 0
        fi
        warn "${TFIMAGE_SYNC_DIR}/root-passwd refused: ${STEP_ERROR}; nothing changed (file deleted)"
        STEP_ERROR=""
        rm -f -- "$sync_file" 2>/dev/null ||
            warn "could not delete ${TFIMAGE_SYNC_DIR}/root-passwd (read-only mount?)"
    fi
    if [[ -n "${ROOT_PASSWORD+set}" ]]; then
        problem=$(password_problem "$ROOT_PASSWORD")
        if [[ -z "$problem" ]]; then
            if apply_root_password "$ROOT_PASSWORD"; then
                log "root password set from ROOT_PASSWORD"
            else
                warn "chpasswd failed for ROOT_PASSWORD; root password unchanged"
            fi
            return 0
        fi
        warn "ROOT_PASSWORD refused: ${problem}; nothing changed"
    fi
    if root_password_is_set; then
        log "root password already set; keeping it"
        return 0
    fi
    pw=$(random_hex 12)
    if ! apply_root_password "$pw"; then
        fail "chpasswd failed; root has no password (key login only)"
        return 1
    fi
    log "=================================================================="
    log "Generated root password (shown only once, on first boot): ${pw}"
    log "Change it with 'passwd' or set ROOT_PASSWORD / ${TFIMAGE_SYNC_DIR}/root-passwd."
    log "=================================================================="
}

# --- SSH ----------------------------------------------------------------------

# key_lines SOURCE-TEXT: the usable authorized_keys lines of a text (no blanks, comments
# or control characters; CRLF tolerated), one per line.
key_lines() {
    local line
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%$'\r'}"
        [[ -z "${line//[[:space:]]/}" || "$line" == \#* ]] && continue
        [[ "$line" == *[[:cntrl:]]* ]] && continue
        printf '%s\n' "$line"
    done <<<"$1"
}

setup_authorized_keys() {
    need TFIMAGE_SYNC_DIR || return 1
    local sync="${R}${TFIMAGE_SYNC_DIR}/authorized_keys" ssh_dir="${R}/root/.ssh"
    local dest="${R}/root/.ssh/authorized_keys" text="" line sync_text
    local -a new=()
    local -A seen=()
    if [[ -z "${SSH_PUBLIC_KEY:-}" && ! -f "$sync" ]]; then
        return 0
    fi
    text="${SSH_PUBLIC_KEY:-}"
    if [[ -f "$sync" ]]; then
        sync_text=$(cat -- "$sync" 2>/dev/null) || {
            fail "cannot read ${TFIMAGE_SYNC_DIR}/authorized_keys"
            return 1
        }
        text+=$'\n'"$sync_text"
    fi
    { mkdir -p -- "$ssh_dir" && chmod 0700 -- "$ssh_dir"; } 2>/dev/null || {
        fail "cannot create /root/.ssh (mode 0700); keys not added"
        return 1
    }
    if [[ ! -e "$dest" ]]; then
        (umask 077 && : >"$dest") 2>/dev/null || {
            fail "cannot create /root/.ssh/authorized_keys; keys not added"
            return 1
        }
    fi
    if [[ ! -f "$dest" || ! -r "$dest" ]]; then
        fail "/root/.ssh/authorized_keys is not a readable file; keys not added"
        return 1
    fi
    while IFS= read -r line; do
        [[ -z "$line" ]] && continue
        [[ -n "${seen[$line]:-}" ]] && continue
        seen[$line]=1
        grep -qxF -- "$line" "$dest" 2>/dev/null && continue
        new+=("$line")
    done < <(key_lines "$text")
    if ((${#new[@]} == 0)); then
        log "authorized_keys: no new keys"
        return 0
    fi
    # sshd only needs the file not to be group/world-writable; a read-only mount may refuse.
    chmod 0600 -- "$dest" 2>/dev/null || true
    local sep=""
    if [[ -s "$dest" && -n "$(tail -c 1 -- "$dest")" ]]; then sep=$'\n'; fi
    {
        printf '%s' "$sep"
        printf '%s\n' "${new[@]}"
    } 2>/dev/null >>"$dest" || {
        fail "cannot write /root/.ssh/authorized_keys (read-only mount?); ${#new[@]} key(s) not added"
        return 1
    }
    log "authorized_keys: ${#new[@]} new key(s)"
}

# setup_sshd: what sshd needs at run time: /run/sshd, per-container host keys (created once,
# kept across restarts) and /var/log/lastlog (without it every login prints
# "lastlog_openseek: Couldn't stat /var/log/lastlog"). Its configuration is generated per
# OpenSSH version by init.py (build and boot).
setup_sshd() {
    local etc="${R}/etc/ssh" keygen="${TFIMAGE_SSH_KEYGEN:-ssh-keygen}" lastlog="${R}/var/log/lastlog"
    { mkdir -p -- "${R}/run/sshd" && chmod 0755 -- "${R}/run/sshd"; } 2>/dev/null || {
        fail "cannot create /run/sshd (sshd's privilege separation directory)"
        return 1
    }
    if [[ ! -e "$lastlog" ]]; then
        if { mkdir -p -- "${R}/var/log" && : >>"$lastlog" && chmod 0664 -- "$lastlog"; } 2>/dev/null; then
            chgrp utmp -- "$lastlog" 2>/dev/null || true
        else
            warn "could not create /var/log/lastlog; logins may print lastlog errors"
        fi
    fi
    # Host keys: the image ships none; create the missing ones on first boot.
    if ! compgen -G "${etc}/ssh_host_*_key" >/dev/null; then
        log "generating SSH host keys"
    fi
    local -a prefix=()
    [[ -n "$R" ]] && prefix=(-f "$R")
    mkdir -p -- "$etc" 2>/dev/null
    "$keygen" -A "${prefix[@]}" >/dev/null 2>&1 || {
        fail "ssh-keygen -A failed; sshd cannot start without host keys"
        return 1
    }
}

# check_sshd_config: `sshd -t`, so a broken configuration is named in the container log
# instead of only as supervisord restarting sshd.
check_sshd_config() {
    local out
    out=$("$SSHD" -t 2>&1) && return 0
    fail "sshd -t rejects the configuration: $(printf '%s' "$out" | head -n 1)"
    return 1
}

# --- JupyterLab token ---------------------------------------------------------

# token_problem TOKEN: prints why TOKEN is unusable (nothing when fine).
token_problem() {
    local token="$1"
    if [[ -z "${token//[[:space:]]/}" ]]; then
        printf 'it is empty or blank'
    elif [[ "$token" == *[[:space:]]* || "$token" == *[[:cntrl:]]* ]]; then
        printf 'it contains whitespace or control characters'
    elif ((${#token} > 256)); then
        printf 'it is longer than 256 characters'
    elif ((${#token} < TFIMAGE_MIN_SECRET_LENGTH)); then
        printf 'it is shorter than %s characters' "$TFIMAGE_MIN_SECRET_LENGTH"
    fi
}

setup_jupyter_token() {
    need TFIMAGE_JUPYTER_TOKEN_FILE TFIMAGE_JUPYTER_PORT TFIMAGE_JUPYTER_BASE_URL TFIMAGE_MIN_SECRET_LENGTH || return 1
    local file="${R}${TFIMAGE_JUPYTER_TOKEN_FILE}" dir token problem
    dir=$(dirname -- "$file")
    if [[ "${JUPYTER_ALLOW_NO_TOKEN:-}" == "1" ]]; then
        warn "JUPYTER_ALLOW_NO_TOKEN=1: JupyterLab runs WITHOUT authentication; anyone who can reach port ${TFIMAGE_JUPYTER_PORT} can run code as root"
        return 0
    fi
    if [[ -n "${JUPYTER_TOKEN+set}" ]]; then
        problem=$(token_problem "$JUPYTER_TOKEN")
        if [[ -z "$problem" ]]; then
            log "JupyterLab token taken from JUPYTER_TOKEN (not shown)"
            return 0
        fi
        # Unset, so JupyterLab (supervisord passes the environment on) uses the token file.
        unset JUPYTER_TOKEN
        warn "JUPYTER_TOKEN refused: ${problem}; using the container's generated token instead"
    fi
    if [[ -s "$file" ]]; then
        chmod 0600 -- "$file" 2>/dev/null
        log "JupyterLab token: using the existing ${TFIMAGE_JUPYTER_TOKEN_FILE}"
        return 0
    fi
    if [[ ! -d "$dir" ]]; then
        { mkdir -p -- "$dir" && chmod 0700 -- "$dir"; } 2>/dev/null || {
            fail "cannot create $(dirname -- "$TFIMAGE_JUPYTER_TOKEN_FILE"); JupyterLab will print its own token in its log"
            return 1
        }
    fi
    token=$(random_hex 24)
    { (umask 077 && printf '%s\n' "$token" >"${file}.tmp") && mv -f -- "${file}.tmp" "$file"; } 2>/dev/null || {
        fail "cannot write ${TFIMAGE_JUPYTER_TOKEN_FILE}; JupyterLab will print its own token in its log"
        return 1
    }
    log "=================================================================="
    log "JupyterLab token generated (stored in ${TFIMAGE_JUPYTER_TOKEN_FILE}, shown once):"
    log "  http://<host>:${TFIMAGE_JUPYTER_PORT}${TFIMAGE_JUPYTER_BASE_URL}lab?token=${token}"
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
        fail "no python found; ${INIT_DIR}/init/init.py not run"
        return 1
    fi
    TFIMAGE_ROOT="$R" "$py" "${INIT_DIR}/init/init.py" || {
        fail "${INIT_DIR}/init/init.py reported errors (see the [init] lines above)"
        return 1
    }
}

# --- optional remote init script (supervisord program "init-script") ------------------

# remote_init_decision URL SHA256: prints "run" (status 0) or "skip: REASON" (status 1).
remote_init_decision() {
    local url="${1:-}" sha="${2:-}"
    if [[ -z "$url" ]]; then
        printf 'skip: INIT_SCRIPT_URL not set\n'; return 1
    fi
    if [[ "$url" != https://?* ]]; then
        printf 'skip: INIT_SCRIPT_URL must be an https:// URL\n'; return 1
    fi
    if [[ "$url" =~ [[:space:][:cntrl:]] ]]; then
        printf 'skip: INIT_SCRIPT_URL contains whitespace or control characters\n'; return 1
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

# init_run_timeout: INIT_SCRIPT_TIMEOUT when it is 1..86400 seconds, else the default.
init_run_timeout() {
    local t="${INIT_SCRIPT_TIMEOUT:-}"
    if [[ -z "$t" ]]; then
        printf '%s' "$INIT_RUN_TIMEOUT_DEFAULT"
    elif [[ "$t" =~ ^[0-9]{1,5}$ ]] && ((10#$t >= 1 && 10#$t <= 86400)); then
        printf '%s' "$((10#$t))"
    else
        warn "INIT_SCRIPT_TIMEOUT must be 1..86400 seconds; using ${INIT_RUN_TIMEOUT_DEFAULT}" >&2
        printf '%s' "$INIT_RUN_TIMEOUT_DEFAULT"
    fi
}

run_remote_init() {
    local url="${INIT_SCRIPT_URL:-}" sha="${INIT_SCRIPT_SHA256:-}" decision dir script limit rc
    local curl="${TFIMAGE_CURL:-curl}"
    decision=$(remote_init_decision "$url" "$sha") || {
        log "remote init script ${decision}"
        return 0
    }
    limit=$(init_run_timeout)
    dir=$(mktemp -d) || {
        fail "cannot create a temporary directory"
        return 1
    }
    script="${dir}/init-script"
    # Certificate verification stays on (never -k/--insecure); https only, also on redirects;
    # bounded connect and total time, so an unreachable or stalling host costs at most a minute.
    if ! "$curl" -fsSL --proto '=https' --proto-redir '=https' \
        --connect-timeout "$INIT_CONNECT_TIMEOUT" --max-time "$INIT_DOWNLOAD_TIMEOUT" \
        -o "$script" -- "$url"; then
        rm -rf -- "$dir"
        fail "download failed (or took over ${INIT_DOWNLOAD_TIMEOUT} s); skipped"
        return 1
    fi
    if ! verify_sha256 "$script" "$sha"; then
        rm -rf -- "$dir"
        fail "sha256 mismatch; NOT run"
        return 1
    fi
    log "remote init script: sha256 verified; running (limit ${limit} s)"
    local py
    local -a runner=(bash)
    if [[ "${url%%\?*}" == *.py ]]; then
        if ! py=$(find_python); then
            rm -rf -- "$dir"
            fail "the script is Python but no python was found; skipped"
            return 1
        fi
        runner=("$py")
    fi
    timeout --kill-after=10 "$limit" "${runner[@]}" "$script"
    rc=$?
    rm -rf -- "$dir"
    if ((rc == 124 || rc == 137)); then
        fail "stopped after its ${limit} s limit (INIT_SCRIPT_TIMEOUT)"
        return 1
    elif ((rc != 0)); then
        fail "the script exited with status ${rc}"
        return 1
    fi
    log "remote init script finished"
}

remote_init_main() {
    STEP_GOES_ON="the services are not affected"
    step environment load_environment
    step "remote init script" run_remote_init
    return 0
}

# --- supervisord ----------------------------------------------------------------

prepare_supervisor() {
    need TFIMAGE_TENSORBOARD_LOGDIR TFIMAGE_SUPERVISOR_LOG_DIR || return 1
    local pidfile="${R}/run/supervisord.pid" pid logs="${R}${TFIMAGE_SUPERVISOR_LOG_DIR}"
    mkdir -p -- "${R}${TFIMAGE_TENSORBOARD_LOGDIR}" "${R}/run" 2>/dev/null
    # Logs may contain the JupyterLab token: root only.
    { mkdir -p -- "$logs" && chmod 0700 -- "$logs"; } 2>/dev/null || {
        fail "cannot create ${TFIMAGE_SUPERVISOR_LOG_DIR} (mode 0700)"
        return 1
    }
    if [[ -f "$pidfile" ]]; then
        pid=$(cat "$pidfile" 2>/dev/null || true)
        if [[ ! "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
            rm -f -- "$pidfile" "${R}/run/supervisor.sock"
        fi
    fi
}

main() {
    log "boot begin"
    step environment load_environment
    step "root password" setup_root_password
    # Keep the secret out of the environment of supervisord and every service.
    unset ROOT_PASSWORD
    step "authorized_keys" setup_authorized_keys
    step sshd setup_sshd
    step "JupyterLab token" setup_jupyter_token
    step "init step" run_init
    step "sshd configuration" check_sshd_config
    step supervisord prepare_supervisor
    log "starting supervisord"
    shopt -s execfail  # a failed exec returns here instead of ending the shell
    # shellcheck disable=SC2093
    exec "$SUPERVISORD" -n -c "$SUPERVISOR_CONF"
    warn "could not start ${SUPERVISORD}; running sshd alone so the container can be debugged"
    exec "$SSHD" -D -e
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    case "${1:-}" in
        remote-init) remote_init_main ;;
        *) main ;;
    esac
fi

#!/usr/bin/env python3
"""Idempotent init step of the TensorFlow dev image: run by the build and at every boot.

`init.py --build` (the image build's system_files layer) installs the static files, so the image
is right before its first boot (login shells, `sshd -t`); `init.py` (boot.sh, every boot) runs the
same steps again, which repairs them, plus the per-container ones. Running it twice writes
identical files. Written (paths inside the image):

build and boot
- /etc/profile.d/tfimage.sh             the session environment (from ../profile.d)
- /etc/bash.bashrc                      a managed first block that sources it (see below)
- /etc/tfimage-motd                     login banner script (from files/motd.sh)
- /etc/profile.d/zz-tfimage-motd.sh     shows it once per interactive login shell
- /usr/local/bin/shutdown               stops supervisord gracefully (from files/shutdown.sh)
- sshd configuration                    generated per OpenSSH version (see configure_sshd)
boot only
- /etc/tfimage/env.sh                   snapshot of the container's PATH, PYTHON_PREFIX, locale,
                                        TZ and CUDA/NVIDIA/NCCL variables for sshd sessions
                                        (no secrets); always from THIS boot's environment
- /root/.jupyter/lab/user-settings/...  dark terminal theme and the contract's UI language;
                                        created only when missing, so a user's choice is kept
- /etc/pip.conf, /root/.condarc         package mirrors, only when asked for (see below); 0600
                                        when a mirror URL carries credentials

Why /etc/bash.bashrc: sshd starts every session, also `ssh host CMD`, scp, sftp and rsync, as
`bash -c CMD` with a bare environment (sshd's own PATH, no LANG/TZ/PYTHON_PREFIX). Debian and
Ubuntu build bash with SYS_BASHRC=/etc/bash.bashrc and SSH_SOURCE_BASHRC, so such a shell reads
/etc/bash.bashrc first (bash(1), INVOCATION: "run by the remote shell daemon"). One silent script
sourced from there and from /etc/profile.d gives command mode exactly the login environment on
every base (OpenSSH 7.6 to 9.x). The alternatives fall short: sshd's SetEnv needs OpenSSH 7.8
(Ubuntu 18.04 ships 7.6) and, like PermitUserEnvironment's ~/.ssh/environment, holds only fixed
values, not this boot's container environment; pam_env's /etc/environment is undone for login
shells by /etc/profile, which resets PATH.

The image contract (ports, paths, locale, timezone) comes from the environment (boot.sh exports
/etc/tfimage/contract.env) or, at build time, from that file; it is never spelled out here.

Mirrors are off by default. Environment:

- MIRRORS=off                  write no mirror config at all (and remove the files this
                               step wrote earlier)
- PIP_MIRROR_URL=https://...   /etc/pip.conf "[global] index-url". https only, unless
                               PIP_MIRROR_ALLOW_HTTP=1, which also adds "trusted-host"
                               (never added otherwise). Example (the original image's):
                               https://mirrors.aliyun.com/pypi/simple
- CONDA_MIRROR_CHANNELS=a,b    /root/.condarc channels (URLs must be https unless
                               CONDA_MIRROR_ALLOW_HTTP=1; bare names such as "defaults"
                               are allowed). Example (the original image's):
                               https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main/,
                               https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/free/,defaults

A mirror file this step wrote carries a "Managed by tfimage init" line; when its
variable is later unset (or MIRRORS=off) the file is removed. Files without that line
are never touched unless the operator sets the variable.

TFIMAGE_ROOT (tests only) prefixes every path read or written; TFIMAGE_SSHD (tests only)
replaces /usr/sbin/sshd. Compatible with Python 3.6+ (TensorFlow 1.15 images run Python 3.7).
"""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from urllib.parse import urlsplit

MANAGED_MARK = "Managed by tfimage init"
HERE = os.path.dirname(os.path.abspath(__file__))
INIT_DIR = os.path.dirname(HERE)
FILES_DIR = os.path.join(HERE, "files")
PROFILE_SRC = os.path.join(INIT_DIR, "profile.d", "tfimage.sh")
SSHD_SETTINGS_SRC = os.path.join(INIT_DIR, "ssh", "tfimage.conf")
CONTRACT_ENV = "/etc/tfimage/contract.env"  # written by the image build from ci/model/contract.py

# Variables copied into the environment snapshot (exact names, then name prefixes).
SNAPSHOT_NAMES = (
    "PATH",
    "LD_LIBRARY_PATH",
    "LIBRARY_PATH",
    "PYTHON_PREFIX",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "TZ",
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_VERSION",
    "CUDNN_VERSION",
)
SNAPSHOT_PREFIXES = ("NVIDIA_", "NV_", "NCCL_")
# Never snapshot anything that looks like a secret, whatever its prefix.
SECRET_RE = re.compile(r"(PASSW|TOKEN|SECRET|KEY|CREDENTIAL)", re.IGNORECASE)

CHANNEL_RE = re.compile(r"^[A-Za-z0-9._~:/+-]+$")

# sshd_config gained `Include` in OpenSSH 8.2 (release notes, 2020-02-14); older sshd (Ubuntu
# 18.04: 7.6) rejects the keyword, so there the settings go into sshd_config itself.
SSHD_INCLUDE_SINCE = (8, 2)
SSHD_CONFIG = "/etc/ssh/sshd_config"
SSHD_DROPIN_DIR = "/etc/ssh/sshd_config.d"
SSHD_DROPIN = SSHD_DROPIN_DIR + "/tfimage.conf"
SSHD_INCLUDE = "Include " + SSHD_DROPIN_DIR + "/*.conf"
BLOCK_BEGIN = "# BEGIN tfimage: " + MANAGED_MARK + " (/init/init/init.py); do not edit this block"
BLOCK_END = "# END tfimage"

BASHRC = "/etc/bash.bashrc"
BASHRC_HOOK = (
    "# sshd runs `ssh host CMD`, scp, sftp and rsync as `bash -c`, which reads this file first:\n"
    "# give them the login environment (PATH with the image's Python, locale, TZ), silently.\n"
    "if [ -r /etc/profile.d/tfimage.sh ]; then . /etc/profile.d/tfimage.sh; fi\n"
)


def log(msg: str) -> None:
    print("[init] " + msg, flush=True)


def target(path: str) -> str:
    """Path inside the image -> path on disk (TFIMAGE_ROOT prefix for tests)."""
    root = os.environ.get("TFIMAGE_ROOT", "").rstrip("/")
    return root + path if root else path


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as fo:
        return fo.read()


def parse_env_file(text: str) -> dict:
    """KEY=VALUE lines (the contract file's format: no quotes, no spaces)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            out[name.strip()] = value.strip()
    return out


_contract_cache = {}  # type: dict


def contract(name: str) -> str:
    """An image contract value: the environment (boot.sh exports the file), else the file."""
    value = os.environ.get(name, "")
    if value:
        return value
    if not _contract_cache:
        try:
            _contract_cache.update(parse_env_file(read_text(target(CONTRACT_ENV))))
        except (OSError, UnicodeDecodeError) as exc:
            raise RuntimeError("cannot read the image contract " + CONTRACT_ENV + ": " + str(exc)) from exc
    value = _contract_cache.get(name, "")
    if not value:
        raise RuntimeError(CONTRACT_ENV + " does not define " + name)
    return value


def write_file(path: str, content: str, mode: int) -> bool:
    """Write content to path atomically if it differs; always enforce mode.

    Returns True when the file was (re)written.
    """
    real = target(path)
    try:
        if read_text(real) == content:
            os.chmod(real, mode)
            return False
    except (OSError, UnicodeDecodeError):
        pass
    directory = os.path.dirname(real)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tfimage-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fo:
            fo.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    log("wrote " + path)
    return True


def write_if_missing(path: str, content: str, mode: int) -> bool:
    if os.path.exists(target(path)):
        return False
    return write_file(path, content, mode)


def remove_managed(path: str) -> None:
    """Remove path only if this step wrote it (it carries MANAGED_MARK)."""
    real = target(path)
    try:
        if MANAGED_MARK in read_text(real):
            os.unlink(real)
            log("removed " + path)
    except (OSError, UnicodeDecodeError):
        pass


def read_or_empty(path: str) -> str:
    try:
        return read_text(target(path))
    except (OSError, UnicodeDecodeError):
        return ""


def without_block(text: str) -> str:
    """text with this step's managed block (BLOCK_BEGIN .. BLOCK_END lines) removed."""
    out = []
    inside = False
    for line in text.splitlines(True):
        if line.rstrip("\n") == BLOCK_BEGIN:
            inside = True
        elif inside and line.rstrip("\n") == BLOCK_END:
            inside = False
        elif not inside:
            out.append(line)
    return "".join(out)


def managed_block(body: str) -> str:
    return BLOCK_BEGIN + "\n" + body.rstrip("\n") + "\n" + BLOCK_END + "\n"


# --- login environment ----------------------------------------------------------------


def install_profile() -> None:
    write_file("/etc/profile.d/tfimage.sh", read_text(PROFILE_SRC), 0o644)


def bashrc_with_hook(text: str) -> str:
    """/etc/bash.bashrc with the hook as its first block (before Debian's `[ -z "$PS1" ] && return`)."""
    return managed_block(BASHRC_HOOK) + without_block(text)


def install_bashrc_hook() -> None:
    write_file(BASHRC, bashrc_with_hook(read_or_empty(BASHRC)), 0o644)


def install_motd() -> None:
    write_file("/etc/tfimage-motd", read_text(os.path.join(FILES_DIR, "motd.sh")), 0o755)
    write_file(
        "/etc/profile.d/zz-tfimage-motd.sh",
        read_text(os.path.join(FILES_DIR, "motd-hook.sh")),
        0o644,
    )


def install_shutdown() -> None:
    write_file(contract("TFIMAGE_SHUTDOWN_COMMAND"), read_text(os.path.join(FILES_DIR, "shutdown.sh")), 0o755)


def snapshot_text(environ: dict) -> str:
    names = []  # type: list
    for name in sorted(environ):
        wanted = name in SNAPSHOT_NAMES or name.startswith(SNAPSHOT_PREFIXES)
        if wanted and not SECRET_RE.search(name) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            names.append(name)
    lines = [
        "# shellcheck shell=sh",
        "# " + MANAGED_MARK + " (/init/init/init.py) at every boot, from that boot's container",
        "# environment (so `docker run -e` values always win); sourced by /etc/profile.d/tfimage.sh.",
    ]
    for name in names:
        lines.append(f"export {name}={shlex.quote(environ[name])}")
    return "\n".join(lines) + "\n"


def write_env_snapshot() -> None:
    write_file(contract("TFIMAGE_ENV_SNAPSHOT"), snapshot_text(dict(os.environ)), 0o644)


# --- sshd -------------------------------------------------------------------------------


def parse_openssh_version(text: str) -> "tuple | None":
    """'OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.15' -> (9, 2); None when absent."""
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def sshd_version() -> "tuple | None":
    """The installed sshd's version. `sshd -V` prints it (older sshd: in its usage message)."""
    sshd = os.environ.get("TFIMAGE_SSHD", "/usr/sbin/sshd")
    try:
        proc = subprocess.run(
            [sshd, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_openssh_version(proc.stdout.decode("utf-8", "replace"))


def sshd_settings(template: str, port: str) -> str:
    """The image's sshd settings: the keyword lines of ssh/tfimage.conf plus the contract's Port."""
    lines = ["Port " + port]
    for line in template.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            lines.append(stripped)
    return "\n".join(lines) + "\n"


def _first_directive(text: str) -> "list | None":
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.split()
    return None


def plan_sshd_config(version: "tuple | None", main_text: str, settings: str) -> "tuple":
    """(new /etc/ssh/sshd_config, drop-in content or None) for an sshd of `version`.

    sshd keeps the FIRST value it reads for a keyword, so the image's settings must come before
    everything else. OpenSSH >= 8.2: the settings live in sshd_config.d/tfimage.conf and
    sshd_config starts with the Include (kept when the distribution already starts with it).
    Older or unknown versions: no Include anywhere; the settings are a managed block at the top
    of sshd_config itself.
    """
    base = without_block(main_text)
    if version is not None and tuple(version) >= SSHD_INCLUDE_SINCE:
        first = _first_directive(base)
        if first is not None and first[0].lower() == "include" and first[1:] == [SSHD_INCLUDE.split()[1]]:
            return base, settings
        return managed_block(SSHD_INCLUDE + "\n") + base, settings
    header = "# The image's settings, first in this file: OpenSSH {} reads no drop-in files.\n".format(
        ".".join(str(v) for v in version) if version else "version unknown"
    )
    return managed_block(header + settings) + base, None


def configure_sshd() -> None:
    version = sshd_version()
    settings = sshd_settings(read_text(SSHD_SETTINGS_SRC), contract("TFIMAGE_SSH_PORT"))
    main_text, dropin = plan_sshd_config(version, read_or_empty(SSHD_CONFIG), settings)
    if dropin is not None:
        write_file(SSHD_DROPIN, "# " + MANAGED_MARK + " (/init/init/init.py).\n" + dropin, 0o644)
    else:
        remove_managed(SSHD_DROPIN)
    write_file(SSHD_CONFIG, main_text, 0o644)


# --- Jupyter ---------------------------------------------------------------------------


def init_jupyter_settings() -> None:
    base = "/root/.jupyter/lab/user-settings/@jupyterlab"
    settings = (
        ("terminal-extension", {"theme": "dark"}),
        ("translation-extension", {"locale": contract("TFIMAGE_JUPYTER_UI_LOCALE")}),
    )
    for extension, value in settings:
        path = f"{base}/{extension}/plugin.jupyterlab-settings"
        write_if_missing(path, json.dumps(value, indent=2) + "\n", 0o644)


# --- mirrors ---------------------------------------------------------------------------


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _mirror_url_ok(url: str, allow_http: bool) -> bool:
    if re.search(r"\s", url):
        return False
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    return parts.scheme in schemes and bool(parts.hostname)


def _secret_mode(urls: str) -> int:
    """0600 when a mirror URL carries credentials (https://user:token@host/): every local user can
    read a 0644 file, and the token is root's alone. Any '@' after a scheme counts (an unencoded '/'
    or '#' in a password ends the URL's authority early)."""
    return 0o600 if re.search(r"://[^,]*@", urls) else 0o644


def pip_conf_content(url: str, allow_http: bool) -> "str | None":
    """Content of /etc/pip.conf for the mirror url (None when url is invalid)."""
    if not _mirror_url_ok(url, allow_http):
        return None
    lines = ["# " + MANAGED_MARK + " (PIP_MIRROR_URL)", "[global]", "index-url = " + url]
    if allow_http and urlsplit(url).scheme == "http":
        lines.append("trusted-host = " + str(urlsplit(url).hostname))
    return "\n".join(lines) + "\n"


def condarc_content(channels_csv: str, allow_http: bool) -> "str | None":
    """Content of /root/.condarc for a comma list of channels (None when invalid)."""
    channels = [c.strip() for c in channels_csv.split(",") if c.strip()]
    if not channels:
        return None
    for channel in channels:
        if not CHANNEL_RE.match(channel):
            return None
        if "://" in channel and not _mirror_url_ok(channel, allow_http):
            return None
    lines = ["# " + MANAGED_MARK + " (CONDA_MIRROR_CHANNELS)", "channels:"]
    lines.extend("  - " + c for c in channels)
    lines.append("show_channel_urls: true")
    return "\n".join(lines) + "\n"


def configure_mirrors() -> None:
    if os.environ.get("MIRRORS", "").strip().lower() == "off":
        log("MIRRORS=off: no mirror configuration")
        remove_managed("/etc/pip.conf")
        remove_managed("/root/.condarc")
        return
    pip_url = os.environ.get("PIP_MIRROR_URL", "").strip()
    if pip_url:
        content = pip_conf_content(pip_url, _env_flag("PIP_MIRROR_ALLOW_HTTP"))
        if content is None:
            log("PIP_MIRROR_URL ignored: must be an https:// URL (http needs PIP_MIRROR_ALLOW_HTTP=1)")
        else:
            write_file("/etc/pip.conf", content, _secret_mode(pip_url))
    else:
        remove_managed("/etc/pip.conf")
    channels = os.environ.get("CONDA_MIRROR_CHANNELS", "").strip()
    if channels:
        content = condarc_content(channels, _env_flag("CONDA_MIRROR_ALLOW_HTTP"))
        if content is None:
            log("CONDA_MIRROR_CHANNELS ignored: comma list of https:// URLs or channel names")
        else:
            write_file("/root/.condarc", content, _secret_mode(channels))
    else:
        remove_managed("/root/.condarc")


# The build installs the static files; every boot repeats them (repair) and adds its own.
BUILD_STEPS = (
    install_profile,
    install_bashrc_hook,
    install_motd,
    install_shutdown,
    configure_sshd,
)
BOOT_STEPS = (write_env_snapshot, *BUILD_STEPS, init_jupyter_settings, configure_mirrors)


def main(argv: "list | None" = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--build"]):
        log("usage: init.py [--build]")
        return 2
    failed = 0
    for step in BUILD_STEPS if args else BOOT_STEPS:
        try:
            step()
        except Exception as exc:  # one broken step must not stop the others: one line, go on
            failed += 1
            log(f"step {step.__name__} failed: {type(exc).__name__}: {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

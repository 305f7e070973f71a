#!/usr/bin/env python3
"""Idempotent init step of the TensorFlow dev image, run by /init/boot/boot.sh.

Runs on every boot with the image's Python ($PYTHON_PREFIX/bin/python); running it
twice writes identical files. Written (paths inside the image):

- /etc/tfimage-motd                     login banner script (from files/motd.sh)
- /etc/profile.d/zz-tfimage-motd.sh     shows it for interactive login shells
- /etc/profile.d/tfimage.sh             LANG/LC_ALL zh_CN.UTF-8, TZ, PATH (from ../profile.d)
- /etc/tfimage/env.sh                   snapshot of the container's PATH, PYTHON_PREFIX and
                                        CUDA/NVIDIA variables for sshd sessions (no secrets)
- /usr/local/bin/shutdown               stops supervisord gracefully (from files/shutdown.sh)
- /root/.jupyter/lab/user-settings/...  dark terminal theme and zh_CN UI language; created
                                        only when missing, so a user's later choice is kept
- /etc/pip.conf, /root/.condarc         package mirrors, only when asked for (see below)

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

TFIMAGE_ROOT (tests only) prefixes every path written. Compatible with Python 3.6+
(TensorFlow 1.15 images run Python 3.7).
"""

import json
import os
import re
import shlex
import sys
import tempfile
import traceback
from urllib.parse import urlsplit

MANAGED_MARK = "Managed by tfimage init"
HERE = os.path.dirname(os.path.abspath(__file__))
FILES_DIR = os.path.join(HERE, "files")
PROFILE_SRC = os.path.join(os.path.dirname(HERE), "profile.d", "tfimage.sh")

# Variables copied into /etc/tfimage/env.sh (exact names, then name prefixes).
SNAPSHOT_NAMES = (
    "PATH",
    "LD_LIBRARY_PATH",
    "LIBRARY_PATH",
    "PYTHON_PREFIX",
    "CUDA_HOME",
    "CUDA_PATH",
    "CUDA_VERSION",
    "CUDNN_VERSION",
)
SNAPSHOT_PREFIXES = ("NVIDIA_", "NV_", "NCCL_")
# Never snapshot anything that looks like a secret, whatever its prefix.
SECRET_RE = re.compile(r"(PASSW|TOKEN|SECRET|KEY|CREDENTIAL)", re.IGNORECASE)

CHANNEL_RE = re.compile(r"^[A-Za-z0-9._~:/+-]+$")


def log(msg: str) -> None:
    print("[init] " + msg, flush=True)


def target(path: str) -> str:
    """Path inside the image -> path on disk (TFIMAGE_ROOT prefix for tests)."""
    root = os.environ.get("TFIMAGE_ROOT", "").rstrip("/")
    return root + path if root else path


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as fo:
        return fo.read()


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


def install_motd() -> None:
    write_file("/etc/tfimage-motd", read_text(os.path.join(FILES_DIR, "motd.sh")), 0o755)
    write_file(
        "/etc/profile.d/zz-tfimage-motd.sh",
        read_text(os.path.join(FILES_DIR, "motd-hook.sh")),
        0o644,
    )


def install_profile() -> None:
    write_file("/etc/profile.d/tfimage.sh", read_text(PROFILE_SRC), 0o644)


def install_shutdown() -> None:
    write_file("/usr/local/bin/shutdown", read_text(os.path.join(FILES_DIR, "shutdown.sh")), 0o755)


def write_env_snapshot() -> None:
    names = []  # type: list
    for name in sorted(os.environ):
        wanted = name in SNAPSHOT_NAMES or name.startswith(SNAPSHOT_PREFIXES)
        if wanted and not SECRET_RE.search(name) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            names.append(name)
    lines = [
        "# shellcheck shell=sh",
        "# " + MANAGED_MARK + " (/init/init/init.py) at every boot: the container's",
        "# environment for sshd login sessions, sourced by /etc/profile.d/tfimage.sh.",
    ]
    for name in names:
        lines.append(f"export {name}={shlex.quote(os.environ[name])}")
    write_file("/etc/tfimage/env.sh", "\n".join(lines) + "\n", 0o644)


def init_jupyter_settings() -> None:
    base = "/root/.jupyter/lab/user-settings/@jupyterlab"
    settings = (
        ("terminal-extension", {"theme": "dark"}),
        ("translation-extension", {"locale": "zh_CN"}),
    )
    for extension, value in settings:
        path = f"{base}/{extension}/plugin.jupyterlab-settings"
        write_if_missing(path, json.dumps(value, indent=2) + "\n", 0o644)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _mirror_url_ok(url: str, allow_http: bool) -> bool:
    if re.search(r"\s", url):
        return False
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    return parts.scheme in schemes and bool(parts.hostname)


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
            write_file("/etc/pip.conf", content, 0o644)
    else:
        remove_managed("/etc/pip.conf")
    channels = os.environ.get("CONDA_MIRROR_CHANNELS", "").strip()
    if channels:
        content = condarc_content(channels, _env_flag("CONDA_MIRROR_ALLOW_HTTP"))
        if content is None:
            log("CONDA_MIRROR_CHANNELS ignored: comma list of https:// URLs or channel names")
        else:
            write_file("/root/.condarc", content, 0o644)
    else:
        remove_managed("/root/.condarc")


STEPS = (
    install_profile,
    write_env_snapshot,
    install_motd,
    install_shutdown,
    init_jupyter_settings,
    configure_mirrors,
)


def main() -> int:
    failed = 0
    for step in STEPS:
        try:
            step()
        except Exception:  # one broken step must not stop the others
            failed += 1
            log(f"step {step.__name__} failed:\n{traceback.format_exc()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

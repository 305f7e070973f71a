"""Helpers for the engine-free tests of context/ (boot.sh, init.py and the configs).

Why a fake root: boot.sh and init.py prefix every path with TFIMAGE_ROOT, so the tests run the
real scripts against a temporary directory tree, with chpasswd, sshd and supervisord replaced
by small fakes that record what they were given. The image contract file in that root is the
one ci/model/contract.py generates, exactly as the image build writes it.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
import types
from collections.abc import Mapping
from pathlib import Path

from ci.model import contract

REPO = Path(__file__).resolve().parents[2]
CONTEXT = REPO / "context"
BOOT = CONTEXT / "boot" / "boot.sh"
INIT_PY = CONTEXT / "init" / "init.py"
MOTD = CONTEXT / "init" / "files" / "motd.sh"
MOTD_HOOK = CONTEXT / "init" / "files" / "motd-hook.sh"
SHUTDOWN = CONTEXT / "init" / "files" / "shutdown.sh"
SUPERVISOR_CONF = CONTEXT / "supervisor" / "supervisord.conf"
JUPYTER_CONF = CONTEXT / "jupyter" / "jupyter_config.py"
PROFILE = CONTEXT / "profile.d" / "tfimage.sh"
SSHD_SETTINGS = CONTEXT / "ssh" / "tfimage.conf"
SHELL_FILES = sorted({*CONTEXT.rglob("*.sh")})

PREFIX = "/opt/python"
CONTRACT = dict(contract.contract_env(PREFIX))

# Operator and contract variables that must not leak from the developer's shell into the tests.
OPERATOR_VARS = (
    *contract.OPERATOR_ENV,
    "JUPYTER_ALLOW_ORIGIN",
    "JUPYTER_FRAME_ANCESTORS",
    "PIP_MIRROR_URL",
    "PIP_MIRROR_ALLOW_HTTP",
    "CONDA_MIRROR_CHANNELS",
    "CONDA_MIRROR_ALLOW_HTTP",
    "MIRRORS",
    "TFIMAGE_ROOT",
    "TFIMAGE_CONTRACT_ENV",
    "TFIMAGE_MOTD_SHOWN",
    *CONTRACT,
    # The container's locale and TZ: unset, as in a container started without them, so boot.sh
    # falls back to the contract (the image's ENV sets the same values).
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "TZ",
)

FAKE_CHPASSWD = """#!/bin/bash
# records what chpasswd got and marks root's password as set in the fake shadow
cat >> "$TFIMAGE_ROOT/chpasswd.log"
sed -i 's/^root:[^:]*:/root:$6$fakehash:/' "$TFIMAGE_ROOT/etc/shadow"
"""
# Debian 12's sshd: `-V` prints the version (older sshd: in its usage message), `-t` passes.
# /bin/sh: dash has no locales, so it never warns that zh_CN.UTF-8 is missing on the test host.
FAKE_SSHD = """#!/bin/sh
case "$1" in
    -V) echo "OpenSSH_${FAKE_SSHD_VERSION:-9.2}p1 Debian-2+deb12u6, OpenSSL 3.0.15 3 Sep 2024" >&2 ;;
    -t) [ -n "${FAKE_SSHD_T_ERROR:-}" ] && { echo "$FAKE_SSHD_T_ERROR" >&2; exit 255; }; exit 0 ;;
    -D) echo "sshd alone: $*"; exit 0 ;;
esac
exit 1
"""
# Records its argv and the environment it was started with (what every service inherits).
FAKE_SUPERVISORD = """#!/bin/bash
echo "supervisord $*"
env > "$TFIMAGE_ROOT/supervisord.env"
"""


def write_exe(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_VARS}
    env.update(extra)
    return env


def make_root(tmp_path: Path) -> Path:
    """A fake image root: no root password, a stock sshd_config, the generated contract file."""
    r = tmp_path / "root"
    (r / "etc" / "ssh").mkdir(parents=True)
    (r / "etc" / "tfimage").mkdir()
    (r / "sync").mkdir()
    (r / "etc" / "shadow").write_text(
        "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nwww-data:*:19000:0:99999:7:::\n"
    )
    (r / "etc" / "ssh" / "sshd_config").write_text(
        "Include /etc/ssh/sshd_config.d/*.conf\n#PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
    )
    (r / "etc" / "tfimage" / "contract.env").write_text(contract.contract_env_file(PREFIX))
    bindir = tmp_path / "bin"
    write_exe(bindir / "chpasswd", FAKE_CHPASSWD)
    write_exe(bindir / "sshd", FAKE_SSHD)
    write_exe(bindir / "supervisord", FAKE_SUPERVISORD)
    return r


def run_boot(
    root: Path, steps: str, env: Mapping[str, str] | None = None, check: bool = True, timeout: int = 60
) -> subprocess.CompletedProcess[str]:
    """Source boot.sh, load the fake root's contract as main() does first, then run `steps`."""
    bindir = root.parent / "bin"
    full_env = clean_env(
        TFIMAGE_ROOT=str(root),
        TFIMAGE_INIT_DIR=str(CONTEXT),
        TFIMAGE_CHPASSWD=str(bindir / "chpasswd"),
        TFIMAGE_SSHD=str(bindir / "sshd"),
        TFIMAGE_SUPERVISORD=str(bindir / "supervisord"),
        PYTHON_PREFIX=sys.prefix,
    )
    full_env.update(env or {})
    proc = subprocess.run(
        ["bash", "-c", f'source "{BOOT}"; load_environment; {steps}'],
        env=full_env,
        text=True,
        capture_output=True,
        check=False,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def run_init(
    root: Path, env: Mapping[str, str] | None = None, *args: str
) -> subprocess.CompletedProcess[str]:
    full_env = clean_env(
        TFIMAGE_ROOT=str(root), PYTHON_PREFIX=PREFIX, TFIMAGE_SSHD=str(root.parent / "bin" / "sshd")
    )
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(INIT_PY), *args], env=full_env, text=True, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def load_init_module() -> types.ModuleType:
    """context/init/init.py as a module, to test its pure functions directly."""
    spec = importlib.util.spec_from_file_location("tfimage_init", INIT_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if "WARNING" in line]

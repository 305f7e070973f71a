"""What every image promises its users: timezone, locale, ports, URL paths, log and Python paths.

Why one home: these values are the product's interface (README, run examples, Kubernetes probes,
the service checks and the files in context/ all depend on them). The layers write them into the
image (ENV, EXPOSE, and /etc/tfimage/contract.env for the runtime scripts), the checks and service
checks assert them, and the examples are tested against them, so changing one here changes all of
them together and nothing can drift.

The files in context/ never carry their own copies: boot.sh sources /etc/tfimage/contract.env and
exports it (supervisord.conf reads %(ENV_TFIMAGE_...)s, jupyter_config.py and init.py read the
environment and fall back to the file), and /etc/profile.d/tfimage.sh and the MOTD source the file.
tests/unit/context/test_context.py fails when a context/ file spells one of these values out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

TIMEZONE = "Asia/Shanghai"
TIMEZONE_ABBREVIATION = "CST"  # what `date +%Z` prints in TIMEZONE
LOCALE = "zh_CN.UTF-8"
LOCALE_LISTED = "zh_CN.utf8"  # how `locale -a` spells LOCALE
LANGUAGE = "zh_CN:zh"
JUPYTER_UI_LOCALE = "zh_CN"  # JupyterLab's language-pack locale

WORKDIR = "/root"
MINICONDA_PREFIX = "/root/miniconda3"  # the seed's install path
SYSTEM_PYTHON_PREFIX = "/opt/python"  # venv over the base OS's python3

INIT_DIR = "/init"  # context/ is copied here
BOOT_SCRIPT = f"{INIT_DIR}/boot/boot.sh"
SUPERVISOR_CONF = f"{INIT_DIR}/supervisor/supervisord.conf"
CONTRACT_ENV_FILE = "/etc/tfimage/contract.env"  # generated from this module by the image build
ENV_SNAPSHOT_FILE = "/etc/tfimage/env.sh"  # the container's environment, rewritten at every boot

SYNC_DIR = "/sync"
ROOT_PASSWORD_FILE = f"{SYNC_DIR}/root-passwd"  # "root:PASSWORD", applied once then deleted
AUTHORIZED_KEYS_FILE = f"{SYNC_DIR}/authorized_keys"
JUPYTER_TOKEN_FILE = "/root/.jupyter/token"  # noqa: S105 - a path, not a token
TENSORBOARD_LOGDIR = "/root/tensorboard-logs"
SUPERVISOR_LOG_DIR = "/var/log/supervisor"
SHUTDOWN_COMMAND = "/usr/local/bin/shutdown"  # stops supervisord, and with it the container
# The one-shot supervisord program that runs the opt-in remote init script after the services start.
REMOTE_INIT_PROGRAM = "init-script"


@dataclass(frozen=True)
class Service:
    """One network service of the image: supervisord program, port and URL path (None for ssh)."""

    name: str  # supervisord program name
    port: int
    path: str | None
    description: str


SSH = Service("sshd", 22, None, "ssh")
JUPYTER = Service("jupyterlab", 8888, "/jupyter/", "JupyterLab /jupyter/")
TENSORBOARD = Service("tensorboard", 6006, "/monitor/", "TensorBoard /monitor/")
SERVICES: tuple[Service, ...] = (SSH, JUPYTER, TENSORBOARD)

# Operator inputs (container environment) the runtime reads; documented in context/README.md.
ENV_ROOT_PASSWORD = "ROOT_PASSWORD"  # noqa: S105 - variable names, not secrets
ENV_SSH_PUBLIC_KEY = "SSH_PUBLIC_KEY"
ENV_JUPYTER_TOKEN = "JUPYTER_TOKEN"  # noqa: S105
ENV_JUPYTER_ALLOW_NO_TOKEN = "JUPYTER_ALLOW_NO_TOKEN"  # noqa: S105
ENV_INIT_SCRIPT_URL = "INIT_SCRIPT_URL"
ENV_INIT_SCRIPT_SHA256 = "INIT_SCRIPT_SHA256"
ENV_INIT_SCRIPT_TIMEOUT = "INIT_SCRIPT_TIMEOUT"
# A root password or JupyterLab token shorter than this is refused at boot (a generated one is used):
# root SSH and JupyterLab are exposed on GPU clouds, where a 1-character password is guessed at once.
MIN_SECRET_LENGTH = 8
OPERATOR_ENV: tuple[str, ...] = (
    ENV_ROOT_PASSWORD,
    ENV_SSH_PUBLIC_KEY,
    ENV_JUPYTER_TOKEN,
    ENV_JUPYTER_ALLOW_NO_TOKEN,
    ENV_INIT_SCRIPT_URL,
    ENV_INIT_SCRIPT_SHA256,
    ENV_INIT_SCRIPT_TIMEOUT,
)

# Values must survive every reader unquoted: POSIX sh `.`, supervisord's %(ENV_x)s and the small
# KEY=VALUE parsers of init.py and jupyter_config.py. So: no quotes, spaces, `$`, `%` or `#`.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_./:,+@=-]*$")
_NAME = re.compile(r"^TFIMAGE_[A-Z0-9_]+$")


def locale_env() -> tuple[tuple[str, str], ...]:
    """LANG/LANGUAGE/LC_ALL/TZ as the image's ENV and every login shell set them."""
    return (("LANG", LOCALE), ("LANGUAGE", LANGUAGE), ("LC_ALL", LOCALE), ("TZ", TIMEZONE))


def contract_env(python_prefix: str) -> Mapping[str, str]:
    """The variables of /etc/tfimage/contract.env: what context/ scripts and configs read.

    Names are prefixed TFIMAGE_ so they never collide with a user's own variables; supervisord
    reads them as %(ENV_TFIMAGE_...)s, shell scripts source the file.
    """
    return {
        "TFIMAGE_PYTHON_PREFIX": python_prefix,
        "TFIMAGE_TIMEZONE": TIMEZONE,
        "TFIMAGE_LOCALE": LOCALE,
        "TFIMAGE_LANGUAGE": LANGUAGE,
        "TFIMAGE_JUPYTER_UI_LOCALE": JUPYTER_UI_LOCALE,
        "TFIMAGE_WORKDIR": WORKDIR,
        "TFIMAGE_SSH_PORT": str(SSH.port),
        "TFIMAGE_JUPYTER_PORT": str(JUPYTER.port),
        "TFIMAGE_JUPYTER_BASE_URL": str(JUPYTER.path),
        "TFIMAGE_TENSORBOARD_PORT": str(TENSORBOARD.port),
        "TFIMAGE_TENSORBOARD_PATH_PREFIX": str(TENSORBOARD.path).rstrip("/"),
        "TFIMAGE_TENSORBOARD_LOGDIR": TENSORBOARD_LOGDIR,
        "TFIMAGE_SYNC_DIR": SYNC_DIR,
        "TFIMAGE_JUPYTER_TOKEN_FILE": JUPYTER_TOKEN_FILE,
        "TFIMAGE_SUPERVISOR_LOG_DIR": SUPERVISOR_LOG_DIR,
        "TFIMAGE_ENV_SNAPSHOT": ENV_SNAPSHOT_FILE,
        "TFIMAGE_SHUTDOWN_COMMAND": SHUTDOWN_COMMAND,
        "TFIMAGE_MIN_SECRET_LENGTH": str(MIN_SECRET_LENGTH),
    }


def contract_env_file(python_prefix: str) -> str:
    """/etc/tfimage/contract.env: POSIX-shell assignments (values have no quotes or spaces).

    Raises ValueError for a value no reader could take unquoted (a bug here, not user input).
    """
    env = contract_env(python_prefix)
    for name, value in env.items():
        if not _NAME.match(name) or not _SAFE_VALUE.match(value):
            raise ValueError(f"contract value {name}={value!r} cannot be written unquoted")
    lines = ["# Generated by the image build from ci/model/contract.py; do not edit."]
    lines += [f"{name}={value}" for name, value in env.items()]
    return "\n".join(lines) + "\n"


def parse_contract_env(text: str) -> dict[str, str]:
    """The inverse of contract_env_file, by the same rule the image's Python readers use."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        out[name.strip()] = value.strip()
    return out

"""Unit tests of the image runtime in context/ (copied to /init in the image).

No engine and no root side effects: boot.sh is sourced and its steps run against a
temporary root (TFIMAGE_ROOT), with chpasswd/curl/supervisord replaced by fakes;
the supervisor and Jupyter configs are loaded with their own parsers.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import types
from collections.abc import Mapping
from pathlib import Path

import pytest
from supervisor.datatypes import RestartUnconditionally  # type: ignore[import-untyped]
from supervisor.options import ClientOptions, ServerOptions  # type: ignore[import-untyped]
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[2]
CONTEXT = REPO / "context"
BOOT = CONTEXT / "boot" / "boot.sh"
INIT_PY = CONTEXT / "init" / "init.py"
MOTD = CONTEXT / "init" / "files" / "motd.sh"
SHUTDOWN = CONTEXT / "init" / "files" / "shutdown.sh"
SUPERVISOR_CONF = CONTEXT / "supervisor" / "supervisord.conf"
JUPYTER_CONF = CONTEXT / "jupyter" / "jupyter_config.py"
PROFILE = CONTEXT / "profile.d" / "tfimage.sh"
SHELL_FILES = sorted({*CONTEXT.rglob("*.sh")})

# Operator variables that must not leak from the developer's shell into the tests.
OPERATOR_VARS = (
    "ROOT_PASSWORD",
    "SSH_PUBLIC_KEY",
    "JUPYTER_TOKEN",
    "JUPYTER_ALLOW_NO_TOKEN",
    "JUPYTER_ALLOW_ORIGIN",
    "JUPYTER_FRAME_ANCESTORS",
    "INIT_SCRIPT_URL",
    "INIT_SCRIPT_SHA256",
    "PIP_MIRROR_URL",
    "PIP_MIRROR_ALLOW_HTTP",
    "CONDA_MIRROR_CHANNELS",
    "CONDA_MIRROR_ALLOW_HTTP",
    "MIRRORS",
    "TFIMAGE_ROOT",
    "TFIMAGE_JUPYTER_TOKEN_FILE",
)

FAKE_CHPASSWD = """#!/bin/bash
# records what chpasswd got and marks root's password as set in the fake shadow
cat >> "$TFIMAGE_ROOT/chpasswd.log"
sed -i 's/^root:[^:]*:/root:$6$fakehash:/' "$TFIMAGE_ROOT/etc/shadow"
"""


# --- helpers ------------------------------------------------------------------------


def _write_exe(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OPERATOR_VARS}
    env.update(extra)
    return env


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fake image root: /etc/shadow with no root password, a stock sshd_config."""
    r = tmp_path / "root"
    (r / "etc" / "ssh").mkdir(parents=True)
    (r / "sync").mkdir()
    (r / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n")
    (r / "etc" / "ssh" / "sshd_config").write_text(
        "#PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
    )
    _write_exe(tmp_path / "bin" / "chpasswd", FAKE_CHPASSWD)
    return r


def run_boot(
    root: Path, steps: str, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Source boot.sh and run `steps` (bash code) against the fake root."""
    full_env = _clean_env(
        TFIMAGE_ROOT=str(root),
        TFIMAGE_INIT_DIR=str(CONTEXT),
        TFIMAGE_CHPASSWD=str(root.parent / "bin" / "chpasswd"),
        PYTHON_PREFIX=sys.prefix,
    )
    full_env.update(env or {})
    proc = subprocess.run(
        ["bash", "-c", f'source "{BOOT}"; {steps}'],
        env=full_env,
        text=True,
        capture_output=True,
        check=False,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def run_init(root: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = _clean_env(TFIMAGE_ROOT=str(root), PYTHON_PREFIX="/opt/python")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(INIT_PY)], env=full_env, text=True, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(root)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run_motd(env: Mapping[str, str], path_prefix: Path | None = None) -> str:
    full_env = _clean_env(**env)
    if path_prefix is not None:
        full_env["PATH"] = f"{path_prefix}:{full_env.get('PATH', '')}"
    proc = subprocess.run(["bash", str(MOTD)], env=full_env, text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)


# --- supervisor -----------------------------------------------------------------------


@pytest.fixture
def supervisor_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real config with /var/log/supervisor and /run moved under tmp_path.

    supervisord's parser checks that log/pid directories exist; nothing else changes.
    """
    logs = tmp_path / "log"
    run = tmp_path / "run"
    logs.mkdir()
    run.mkdir()
    text = SUPERVISOR_CONF.read_text()
    text = text.replace("/var/log/supervisor", str(logs)).replace("/run/", f"{run}/")
    conf = tmp_path / "supervisord.conf"
    conf.write_text(text)
    monkeypatch.setenv("PYTHON_PREFIX", "/opt/python")
    return conf


def test_supervisor_config_parses_with_supervisord(supervisor_conf: Path) -> None:
    options = ServerOptions()
    options.realize(args=["-c", str(supervisor_conf)])
    assert options.nodaemon is True
    programs = {g.name: g.process_configs[0] for g in options.process_group_configs}
    assert set(programs) == {"sshd", "jupyterlab", "tensorboard"}
    assert programs["sshd"].command == "/usr/sbin/sshd -D -e"
    assert programs["jupyterlab"].command == (
        "/opt/python/bin/jupyter-lab --allow-root --config=/init/jupyter/jupyter_config.py"
    )
    assert programs["tensorboard"].command == (
        "/opt/python/bin/tensorboard --host 0.0.0.0 --port 6006 "
        "--logdir /root/tensorboard-logs --path_prefix /monitor"
    )
    for name, proc in programs.items():
        assert proc.autostart is True, name
        assert proc.autorestart is RestartUnconditionally, name  # autorestart=true
        assert proc.startretries >= 3, name
        assert proc.stdout_logfile.startswith(str(supervisor_conf.parent / "log")), name
        assert proc.stderr_logfile.startswith(str(supervisor_conf.parent / "log")), name
    assert programs["jupyterlab"].directory == "/root"
    assert programs["jupyterlab"].environment["LANG"] == "zh_CN.UTF-8"
    assert programs["tensorboard"].environment["TZ"] == "Asia/Shanghai"
    # supervisorctl can talk to it: a unix socket, root only.
    assert options.server_configs[0]["family"] == socket.AF_UNIX
    assert options.server_configs[0]["chmod"] == 0o700


def test_supervisorctl_section(supervisor_conf: Path) -> None:
    options = ClientOptions()
    options.realize(args=["-c", str(supervisor_conf)])
    assert options.serverurl == f"unix://{supervisor_conf.parent / 'run'}/supervisor.sock"


def test_supervisor_config_keeps_logs_out_of_tmp() -> None:
    text = SUPERVISOR_CONF.read_text()
    settings = [line for line in text.splitlines() if not line.startswith(";")]
    assert not [line for line in settings if "/tmp" in line]
    assert "pidfile=/run/supervisord.pid" in text
    assert "file=/run/supervisor.sock" in text


# --- Jupyter ------------------------------------------------------------------------


def load_jupyter_config(
    monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str], server_version: str | None = None
) -> Config:

    for var in OPERATOR_VARS:
        monkeypatch.delenv(var, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if server_version is None:
        monkeypatch.setitem(sys.modules, "jupyter_server", None)  # import fails -> both APIs set
    else:
        fake = types.ModuleType("jupyter_server")
        fake.__dict__["__version__"] = server_version
        monkeypatch.setitem(sys.modules, "jupyter_server", fake)
    loader = PyFileConfigLoader(JUPYTER_CONF.name, path=str(JUPYTER_CONF.parent))
    return loader.load_config()


def test_jupyter_config_basics(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = load_jupyter_config(monkeypatch, {"TFIMAGE_JUPYTER_TOKEN_FILE": str(tmp_path / "absent")})
    server = cfg.ServerApp
    assert server.base_url == "/jupyter/"
    assert server.port == 8888
    assert server.ip == "0.0.0.0"  # noqa: S104
    assert server.root_dir == "/root"
    assert server.open_browser is False
    assert server.allow_root is True
    assert server.allow_remote_access is True
    # unknown jupyter_server version: both the 1.x and the 2.x names are set
    assert server.iopub_data_rate_limit == 1000000.0
    assert server.rate_limit_window == 3.0
    assert cfg.ZMQChannelsWebsocketConnection.iopub_data_rate_limit == 1000000.0
    assert cfg.ZMQChannelsWebsocketConnection.rate_limit_window == 3.0
    csp = server.tornado_settings["headers"]["Content-Security-Policy"]
    assert csp == "frame-ancestors * 'self'"
    assert "allow_origin" not in server  # no CORS '*' unless the operator asks
    # no token source: leave jupyter_server's own random token alone
    assert "token" not in server
    assert "token" not in cfg.IdentityProvider


def test_jupyter_token_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    cfg = load_jupyter_config(
        monkeypatch,
        {"JUPYTER_TOKEN": "from-env", "TFIMAGE_JUPYTER_TOKEN_FILE": str(token_file)},
        server_version="2.14.2",
    )
    assert cfg.IdentityProvider.token == "from-env"  # noqa: S105
    assert cfg.ZMQChannelsWebsocketConnection.rate_limit_window == 3.0
    assert "rate_limit_window" not in cfg.ServerApp  # deprecated in 2.x
    assert "token" not in cfg.ServerApp  # deprecated in 2.x


def test_jupyter_token_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("abc123\n")
    env = {"TFIMAGE_JUPYTER_TOKEN_FILE": str(token_file)}
    v1 = load_jupyter_config(monkeypatch, env, server_version="1.24.0")
    assert v1.ServerApp.token == "abc123"  # noqa: S105
    assert "token" not in v1.IdentityProvider
    unknown = load_jupyter_config(monkeypatch, env)
    assert unknown.ServerApp.token == "abc123"  # noqa: S105
    assert unknown.IdentityProvider.token == "abc123"  # noqa: S105


def test_jupyter_no_token_only_when_allowed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("abc123\n")
    env = {
        "JUPYTER_ALLOW_NO_TOKEN": "1",
        "JUPYTER_TOKEN": "ignored",
        "TFIMAGE_JUPYTER_TOKEN_FILE": str(token_file),
    }
    v2 = load_jupyter_config(monkeypatch, env, server_version="2.0.0")
    assert v2.IdentityProvider.token == ""
    assert v2.PasswordIdentityProvider.hashed_password == ""
    v1 = load_jupyter_config(monkeypatch, env, server_version="1.13.0")
    assert v1.ServerApp.token == ""
    assert v1.ServerApp.password == ""
    # any other value is not "allow"
    env["JUPYTER_ALLOW_NO_TOKEN"] = "yes"  # noqa: S105
    strict = load_jupyter_config(monkeypatch, env, server_version="2.0.0")
    assert strict.IdentityProvider.token == "ignored"  # noqa: S105


def test_jupyter_origin_and_frame_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = load_jupyter_config(
        monkeypatch,
        {
            "JUPYTER_ALLOW_ORIGIN": "https://console.example.com",
            "JUPYTER_FRAME_ANCESTORS": "'self'",
            "TFIMAGE_JUPYTER_TOKEN_FILE": str(tmp_path / "absent"),
        },
    )
    server = cfg.ServerApp
    assert server.allow_origin == "https://console.example.com"
    assert server.tornado_settings["headers"]["Content-Security-Policy"] == "frame-ancestors 'self'"


# --- shell syntax -----------------------------------------------------------------------


def test_shell_files_found() -> None:
    names = {p.name for p in SHELL_FILES}
    assert {"boot.sh", "motd.sh", "shutdown.sh", "motd-hook.sh", "tfimage.sh"} <= names


@pytest.mark.parametrize("path", SHELL_FILES, ids=lambda p: str(p.relative_to(CONTEXT)))
def test_shell_syntax(path: Path) -> None:
    proc = subprocess.run(["bash", "-n", str(path)], text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("path", SHELL_FILES, ids=lambda p: str(p.relative_to(CONTEXT)))
def test_shellcheck(path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    proc = subprocess.run(
        ["shellcheck", "-x", str(path)], text=True, capture_output=True, check=False, cwd=path.parent
    )
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("path", [INIT_PY, JUPYTER_CONF], ids=lambda p: p.name)
def test_python_files_parse_as_python36(path: Path) -> None:
    # TensorFlow 1.15-2.x images run Python 3.6/3.7: no newer syntax in image-side code.
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 6))
    assert "from __future__ import annotations" not in path.read_text()


def test_no_insecure_download_anywhere() -> None:
    for path in [*SHELL_FILES, INIT_PY]:
        text = path.read_text()
        assert not re.search(r"curl[^\n]*\s(-k|--insecure)\b", text), path
        assert "trusted-host = mirrors" not in text, path


# --- boot steps -------------------------------------------------------------------------


def test_generated_root_password_printed_once(root: Path) -> None:
    first = run_boot(root, "setup_root_password")
    log = (root / "chpasswd.log").read_text()
    match = re.fullmatch(r"root:([0-9a-f]{24})\n", log)
    assert match, log
    assert f"Generated root password (shown only once, on first boot): {match[1]}" in first.stdout
    second = run_boot(root, "setup_root_password")
    assert match[1] not in second.stdout
    assert "already set" in second.stdout
    assert (root / "chpasswd.log").read_text() == log  # chpasswd not run again


def test_root_password_from_sync_file_is_applied_deleted_and_not_logged(root: Path) -> None:
    sync = root / "sync" / "root-passwd"
    sync.write_text("root:S3cret-from-file\n")
    proc = run_boot(root, "setup_root_password")
    assert (root / "chpasswd.log").read_text() == "root:S3cret-from-file\n"
    assert not sync.exists()
    assert "S3cret" not in proc.stdout + proc.stderr


def test_root_password_from_env_not_logged_nor_exported(root: Path) -> None:
    proc = run_boot(
        root,
        'setup_root_password; printf "leak=%s\\n" "${ROOT_PASSWORD:-}"',
        env={"ROOT_PASSWORD": "Env-Secret-42"},
    )
    assert (root / "chpasswd.log").read_text() == "root:Env-Secret-42\n"
    assert "Env-Secret-42" not in proc.stdout + proc.stderr
    assert "leak=\n" in proc.stdout  # unset before supervisord inherits the environment


def test_sync_file_for_other_user_is_refused(root: Path) -> None:
    (root / "sync" / "root-passwd").write_text("daemon:x\n")
    proc = run_boot(root, "setup_root_password")
    assert not (root / "chpasswd.log").exists()
    assert "must contain 'root:PASSWORD'" in proc.stdout


def test_authorized_keys_no_duplicates(root: Path) -> None:
    key_a = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA a@example"
    key_b = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ b@example"
    (root / "sync" / "authorized_keys").write_text(f"# comment\n{key_b}\r\n\n{key_a}\n")
    env = {"SSH_PUBLIC_KEY": key_a}
    run_boot(root, "setup_authorized_keys", env=env)
    run_boot(root, "setup_authorized_keys", env=env)
    auth = root / "root" / ".ssh" / "authorized_keys"
    assert auth.read_text() == f"{key_a}\n{key_b}\n"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert stat.S_IMODE(auth.parent.stat().st_mode) == 0o700


def test_sshd_setup_idempotent(root: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    run_boot(root, "setup_sshd")
    state = snapshot(root)
    second = run_boot(root, "setup_sshd")
    assert snapshot(root) == state
    assert "generating SSH host keys" not in second.stdout
    conf = (root / "etc" / "ssh" / "sshd_config").read_text()
    assert conf.splitlines()[1] == "Include /etc/ssh/sshd_config.d/*.conf"
    assert conf.count("Include /etc/ssh/sshd_config.d/*.conf") == 1
    dropin = (root / "etc" / "ssh" / "sshd_config.d" / "tfimage.conf").read_text()
    assert "\nPermitRootLogin yes\n" in dropin
    assert "\nPasswordAuthentication yes\n" in dropin
    assert (root / "etc" / "ssh" / "ssh_host_ed25519_key").is_file()
    assert (root / "run" / "sshd").is_dir()


def test_sshd_include_not_added_when_present(root: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    stock = "Include /etc/ssh/sshd_config.d/*.conf\n#PermitRootLogin prohibit-password\n"
    (root / "etc" / "ssh" / "sshd_config").write_text(stock)
    run_boot(root, "setup_sshd")
    assert (root / "etc" / "ssh" / "sshd_config").read_text() == stock


def test_jupyter_token_generated_once(root: Path) -> None:
    first = run_boot(root, "setup_jupyter_token")
    token_file = root / "root" / ".jupyter" / "token"
    token = token_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{48}", token)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert f"/jupyter/lab?token={token}" in first.stdout
    second = run_boot(root, "setup_jupyter_token")
    assert token not in second.stdout
    assert token_file.read_text().strip() == token


def test_jupyter_token_env_and_no_token_mode(root: Path) -> None:
    proc = run_boot(root, "setup_jupyter_token", env={"JUPYTER_TOKEN": "operator-token"})
    assert "operator-token" not in proc.stdout
    assert not (root / "root" / ".jupyter" / "token").exists()
    proc = run_boot(root, "setup_jupyter_token", env={"JUPYTER_ALLOW_NO_TOKEN": "1"})
    assert "WARNING" in proc.stdout
    assert not (root / "root" / ".jupyter" / "token").exists()


def test_boot_main_end_to_end_and_second_boot(root: Path, tmp_path: Path) -> None:
    """main() with every step, exec'ing a fake supervisord; a second boot changes nothing."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    fake_supervisord = _write_exe(tmp_path / "bin" / "supervisord", '#!/bin/bash\necho "supervisord $*"\n')
    env = {"TFIMAGE_SUPERVISORD": str(fake_supervisord), "SSH_PUBLIC_KEY": "ssh-ed25519 AAAA k@x"}
    first = run_boot(root, "main", env=env)
    assert f"supervisord -n -c {CONTEXT}/supervisor/supervisord.conf" in first.stdout
    assert "remote init script skip: INIT_SCRIPT_URL not set" in first.stdout
    assert (root / "root" / "tensorboard-logs").is_dir()
    assert stat.S_IMODE((root / "var" / "log" / "supervisor").stat().st_mode) == 0o700
    state = snapshot(root)
    second = run_boot(root, "main", env=env)
    assert snapshot(root) == state
    assert "Generated root password" not in second.stdout
    assert "token=" not in second.stdout


# --- remote init ------------------------------------------------------------------------

GOOD_SHA = "a" * 64


@pytest.mark.parametrize(
    ("url", "sha", "expected"),
    [
        ("", GOOD_SHA, "skip: INIT_SCRIPT_URL not set"),
        ("http://example.com/init.py", GOOD_SHA, "skip: INIT_SCRIPT_URL must be an https:// URL"),
        ("file:///tmp/init.py", GOOD_SHA, "skip: INIT_SCRIPT_URL must be an https:// URL"),
        ("https://example.com/init.py", "", "skip: INIT_SCRIPT_SHA256 not set"),
        ("https://example.com/init.py", "abc", "skip: INIT_SCRIPT_SHA256 is not 64 hex digits"),
        ("https://example.com/init.py", GOOD_SHA, "run"),
    ],
)
def test_remote_init_decision(root: Path, url: str, sha: str, expected: str) -> None:
    proc = run_boot(root, f"remote_init_decision '{url}' '{sha}' || true")
    assert proc.stdout.strip() == expected


@pytest.fixture
def fake_curl(tmp_path: Path) -> tuple[Path, Path]:
    """A curl stand-in serving a script that touches a marker; returns (curl, marker)."""
    marker = tmp_path / "ran"
    payload = tmp_path / "payload.sh"
    payload.write_text(f'touch "{marker}"\n')
    curl = _write_exe(
        tmp_path / "bin" / "curl",
        "#!/bin/bash\n"
        'echo "$*" > "$(dirname "$0")/curl.args"\n'
        'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out="$2"; fi; shift; done\n'
        f'cp "{payload}" "$out"\n',
    )
    return curl, marker


def test_remote_init_runs_only_with_matching_sha(root: Path, fake_curl: tuple[Path, Path]) -> None:
    curl, marker = fake_curl
    payload = (curl.parent.parent / "payload.sh").read_bytes()
    good = hashlib.sha256(payload).hexdigest()
    env = {"TFIMAGE_CURL": str(curl), "INIT_SCRIPT_URL": "https://example.com/init.sh"}

    proc = run_boot(root, "run_remote_init", env={**env, "INIT_SCRIPT_SHA256": "0" * 64})
    assert "sha256 mismatch; NOT run" in proc.stdout
    assert not marker.exists()
    args = (curl.parent / "curl.args").read_text()
    assert "--proto =https" in args
    assert "-k" not in args.split()
    assert "--insecure" not in args

    proc = run_boot(root, "run_remote_init", env={**env, "INIT_SCRIPT_SHA256": good.upper()})
    assert "sha256 verified" in proc.stdout
    assert marker.exists()


def test_remote_init_http_never_downloaded(root: Path, fake_curl: tuple[Path, Path]) -> None:
    curl, marker = fake_curl
    env = {
        "TFIMAGE_CURL": str(curl),
        "INIT_SCRIPT_URL": "http://example.com/init.sh",
        "INIT_SCRIPT_SHA256": GOOD_SHA,
    }
    proc = run_boot(root, "run_remote_init", env=env)
    assert "skip" in proc.stdout
    assert not (curl.parent / "curl.args").exists()
    assert not marker.exists()


# --- init step ---------------------------------------------------------------------------


def test_init_writes_files_and_is_idempotent(root: Path) -> None:
    first = run_init(root)
    state = snapshot(root)
    second = run_init(root)
    assert snapshot(root) == state
    assert "wrote" not in second.stdout
    assert "wrote /etc/tfimage-motd" in first.stdout
    settings = root / "root" / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
    assert json.loads((settings / "terminal-extension" / "plugin.jupyterlab-settings").read_text()) == {
        "theme": "dark"
    }
    assert json.loads((settings / "translation-extension" / "plugin.jupyterlab-settings").read_text()) == {
        "locale": "zh_CN"
    }
    shutdown = root / "usr" / "local" / "bin" / "shutdown"
    assert stat.S_IMODE(shutdown.stat().st_mode) == 0o755
    assert "supervisorctl" in shutdown.read_text()
    assert (root / "etc" / "profile.d" / "zz-tfimage-motd.sh").is_file()
    assert (root / "etc" / "profile.d" / "tfimage.sh").read_text() == PROFILE.read_text()
    # mirrors are off by default
    assert not (root / "etc" / "pip.conf").exists()
    assert not (root / "root" / ".condarc").exists()


def test_init_keeps_user_jupyter_settings(root: Path) -> None:
    run_init(root)
    term = root / "root/.jupyter/lab/user-settings/@jupyterlab/terminal-extension/plugin.jupyterlab-settings"
    term.write_text('{"theme": "light"}\n')
    run_init(root)
    assert term.read_text() == '{"theme": "light"}\n'


def test_env_snapshot_has_no_secrets(root: Path) -> None:
    run_init(
        root,
        env={
            "NVIDIA_VISIBLE_DEVICES": "all",
            "NV_SECRET_TOKEN": "x",
            "JUPYTER_TOKEN": "tok",
            "ROOT_PASSWORD": "pw",
            "LD_LIBRARY_PATH": "/usr/local/nvidia/lib64",
        },
    )
    text = (root / "etc" / "tfimage" / "env.sh").read_text()
    assert "export PYTHON_PREFIX=/opt/python\n" in text
    assert "export NVIDIA_VISIBLE_DEVICES=all\n" in text
    assert "export LD_LIBRARY_PATH=/usr/local/nvidia/lib64\n" in text
    for secret in ("NV_SECRET_TOKEN", "JUPYTER_TOKEN", "ROOT_PASSWORD"):
        assert secret not in text


def test_pip_mirror_https_only(root: Path) -> None:
    pip_conf = root / "etc" / "pip.conf"
    run_init(root, env={"PIP_MIRROR_URL": "http://mirrors.aliyun.com/pypi/simple"})
    assert not pip_conf.exists()
    run_init(root, env={"PIP_MIRROR_URL": "https://mirrors.aliyun.com/pypi/simple"})
    text = pip_conf.read_text()
    assert "[global]\nindex-url = https://mirrors.aliyun.com/pypi/simple\n" in text
    assert "trusted-host" not in text
    run_init(
        root,
        env={"PIP_MIRROR_URL": "http://mirror.internal/simple", "PIP_MIRROR_ALLOW_HTTP": "1"},
    )
    assert "trusted-host = mirror.internal\n" in pip_conf.read_text()
    # unset again -> the managed file is removed
    run_init(root)
    assert not pip_conf.exists()


def test_mirrors_off_and_unmanaged_files_kept(root: Path) -> None:
    pip_conf = root / "etc" / "pip.conf"
    env = {
        "PIP_MIRROR_URL": "https://pypi.example/simple",
        "CONDA_MIRROR_CHANNELS": "https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main/,defaults",
    }
    run_init(root, env=env)
    condarc = (root / "root" / ".condarc").read_text()
    assert (
        "channels:\n  - https://mirrors.tuna.tsinghua.edu.cn/anaconda/pkgs/main/\n  - defaults\n" in condarc
    )
    run_init(root, env={**env, "MIRRORS": "off"})
    assert not pip_conf.exists()
    assert not (root / "root" / ".condarc").exists()
    pip_conf.write_text("[global]\nindex-url = https://mine/simple\n")
    run_init(root, env={"MIRRORS": "off"})
    assert pip_conf.read_text() == "[global]\nindex-url = https://mine/simple\n"


def test_conda_channels_rejects_bad_input(root: Path) -> None:
    run_init(root, env={"CONDA_MIRROR_CHANNELS": "http://insecure/x,defaults"})
    assert not (root / "root" / ".condarc").exists()
    run_init(root, env={"CONDA_MIRROR_CHANNELS": "defaults\nmalicious: yes"})
    assert not (root / "root" / ".condarc").exists()


# --- MOTD -------------------------------------------------------------------------------


def test_motd_on_this_machine() -> None:
    out = run_motd({})
    assert re.search(r"CPU\s*：[0-9.]+ 核心", out), out
    assert re.search(r"内存：[0-9.]+ GB", out), out
    assert re.search(r"系统盘 /：\d+% \S+/\S+", out), out


def _meminfo(tmp_path: Path, kib: int = 8 * 1024 * 1024) -> Path:
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal:       {kib} kB\nMemFree:        1000 kB\n")
    return path


def test_motd_cgroup_v2_limits(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "cgroup.controllers").write_text("cpu memory\n")
    (cg / "cpu.max").write_text("50000 100000\n")
    (cg / "memory.max").write_text(f"{2 * 1024**3}\n")
    out = run_motd({"TFIMAGE_CGROUP_ROOT": str(cg), "TFIMAGE_MEMINFO": str(_meminfo(tmp_path))})
    assert "CPU ：0.5 核心" in out
    assert "内存：2.0 GB" in out


def test_motd_cgroup_v2_unlimited_falls_back_to_host(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "cpu.max").write_text("max 100000\n")
    (cg / "memory.max").write_text("max\n")
    out = run_motd({"TFIMAGE_CGROUP_ROOT": str(cg), "TFIMAGE_MEMINFO": str(_meminfo(tmp_path))})
    nproc = subprocess.run(["nproc"], text=True, capture_output=True, check=True).stdout.strip()
    assert f"CPU ：{nproc} 核心" in out
    assert "内存：8.0 GB" in out


def test_motd_cgroup_v1_limits(tmp_path: Path) -> None:
    cg = tmp_path / "cg"
    (cg / "cpu").mkdir(parents=True)
    (cg / "memory").mkdir()
    (cg / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (cg / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (cg / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    out = run_motd({"TFIMAGE_CGROUP_ROOT": str(cg), "TFIMAGE_MEMINFO": str(_meminfo(tmp_path))})
    assert "CPU ：1 核心" in out
    assert "内存：8.0 GB" in out  # "unlimited" v1 value -> host total


def test_motd_gpu_line(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    _write_exe(
        bindir / "nvidia-smi",
        '#!/bin/bash\n[ "$1" = --query-gpu=name,memory.total ] || exit 3\n'
        'echo "NVIDIA H200, 143771 MiB"\necho "NVIDIA H200, 143771 MiB"\n',
    )
    out = run_motd({}, path_prefix=bindir)
    assert "GPU ：2 块" in out
    assert "[1] NVIDIA H200, 143771 MiB" in out


# --- shutdown wrapper and profile -------------------------------------------------------


def test_shutdown_wrapper_uses_supervisorctl(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    _write_exe(bindir / "supervisorctl", f'#!/bin/bash\necho "$*" > "{tmp_path}/ctl.args"\n')
    trash = tmp_path / "root" / "root" / ".local" / "share" / "Trash"
    trash.mkdir(parents=True)
    env = _clean_env(TFIMAGE_ROOT=str(tmp_path / "root"))
    env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", str(SHUTDOWN), "-h", "now"], env=env, text=True, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ctl.args").read_text() == "-c /init/supervisor/supervisord.conf shutdown\n"
    assert not trash.exists()


def test_shutdown_wrapper_falls_back_to_pidfile(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    _write_exe(bindir / "supervisorctl", "#!/bin/bash\nexit 2\n")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "root" / "run").mkdir(parents=True)
        (tmp_path / "root" / "run" / "supervisord.pid").write_text(f"{sleeper.pid}\n")
        env = _clean_env(TFIMAGE_ROOT=str(tmp_path / "root"))
        env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
        proc = subprocess.run(["bash", str(SHUTDOWN)], env=env, text=True, capture_output=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert sleeper.wait(timeout=10) == -15  # SIGTERM
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def test_profile_sets_locale_and_prefix_path(tmp_path: Path) -> None:
    env = _clean_env(PYTHON_PREFIX="/opt/python", PATH="/opt/python/bin:/usr/bin:/bin")
    script = f'. "{PROFILE}"; . "{PROFILE}"; printf "%s|%s|%s|%s\\n" "$LANG" "$LC_ALL" "$TZ" "$PATH"'
    for shell in ("sh", "bash"):
        out = subprocess.run([shell, "-c", script], env=env, text=True, capture_output=True, check=True)
        assert out.stdout == "zh_CN.UTF-8|zh_CN.UTF-8|Asia/Shanghai|/opt/python/bin:/usr/bin:/bin\n"
    env["PATH"] = "/usr/bin:/bin"
    out = subprocess.run(["sh", "-c", script], env=env, text=True, capture_output=True, check=True)
    assert out.stdout.endswith("|/opt/python/bin:/usr/bin:/bin\n")


def test_motd_hook_silent_for_non_interactive_shells() -> None:
    hook = CONTEXT / "init" / "files" / "motd-hook.sh"
    out = subprocess.run(["sh", "-c", f'. "{hook}"'], text=True, capture_output=True, check=True)
    assert out.stdout == ""


def test_load_profile_keeps_container_path(root: Path) -> None:
    """Debian's /etc/profile resets PATH: boot merges the container's PATH back, prefix first."""
    (root / "etc" / "profile").write_text('PATH="/usr/local/bin:/usr/bin:/bin"\nexport PATH\nfalse\n')
    proc = run_boot(
        root,
        'load_profile; echo "PATH=$PATH"',
        env={"PATH": "/usr/local/cuda/bin:/usr/bin:/bin", "PYTHON_PREFIX": "/opt/python"},
    )
    assert "PATH=/opt/python/bin:/usr/local/cuda/bin:/usr/bin:/bin:/usr/local/bin\n" in proc.stdout

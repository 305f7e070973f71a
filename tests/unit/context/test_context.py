"""Unit tests of the image runtime in context/ (copied to /init in the image): configs, init step,
login environment, MOTD and shutdown wrapper. boot.sh's steps are in test_boot.py.

No engine and no root side effects: scripts run against a temporary root (TFIMAGE_ROOT) with
fakes for chpasswd/sshd/supervisord (tests/unit/context_env.py); the supervisor and Jupyter
configs are loaded with their own parsers, with the image contract's environment.
"""

from __future__ import annotations

import ast
import json
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

from ci.model import contract
from tests.unit.context_env import (
    CONTEXT,
    CONTRACT,
    INIT_PY,
    JUPYTER_CONF,
    MOTD,
    MOTD_HOOK,
    OPERATOR_VARS,
    PREFIX,
    PROFILE,
    SHELL_FILES,
    SHUTDOWN,
    SUPERVISOR_CONF,
    clean_env,
    run_init,
    snapshot,
    write_exe,
)


@pytest.fixture
def contract_file(tmp_path: Path) -> Path:
    """The generated contract file, for scripts run outside a fake root (TFIMAGE_CONTRACT_ENV)."""
    path = tmp_path / "contract.env"
    path.write_text(contract.contract_env_file(PREFIX))
    return path


def run_motd(env: Mapping[str, str], contract_file: Path, path_prefix: Path | None = None) -> str:
    full_env = clean_env(TFIMAGE_CONTRACT_ENV=str(contract_file), **env)
    if path_prefix is not None:
        full_env["PATH"] = f"{path_prefix}:{full_env.get('PATH', '')}"
    proc = subprocess.run(["bash", str(MOTD)], env=full_env, text=True, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)


# --- supervisor -----------------------------------------------------------------------


@pytest.fixture
def supervisor_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real config, /run moved under tmp_path, with the contract environment boot.sh exports.

    supervisord's parser checks that log/pid directories exist, so the contract's log directory
    points into tmp_path as well; nothing else changes.
    """
    logs = tmp_path / "log"
    run = tmp_path / "run"
    logs.mkdir()
    run.mkdir()
    conf = tmp_path / "supervisord.conf"
    conf.write_text(SUPERVISOR_CONF.read_text().replace("/run/", f"{run}/"))
    for name, value in CONTRACT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TFIMAGE_SUPERVISOR_LOG_DIR", str(logs))
    return conf


def test_supervisor_config_parses_with_supervisord(supervisor_conf: Path) -> None:
    options = ServerOptions()
    options.realize(args=["-c", str(supervisor_conf)])
    assert options.nodaemon is True
    assert options.logfile == str(supervisor_conf.parent / "log" / "supervisord.log")
    programs = {g.name: g.process_configs[0] for g in options.process_group_configs}
    services = {contract.SSH.name, contract.JUPYTER.name, contract.TENSORBOARD.name}
    assert set(programs) == services | {contract.REMOTE_INIT_PROGRAM}
    assert programs["sshd"].command == "/usr/sbin/sshd -D -e"
    assert programs["jupyterlab"].command == (
        f"{PREFIX}/bin/jupyter-lab --allow-root --config={contract.INIT_DIR}/jupyter/jupyter_config.py"
    )
    assert programs["tensorboard"].command == (
        f"{PREFIX}/bin/tensorboard --host 0.0.0.0 --port {contract.TENSORBOARD.port} "
        f"--logdir {contract.TENSORBOARD_LOGDIR} --path_prefix {str(contract.TENSORBOARD.path).rstrip('/')}"
    )
    for name in services:
        proc = programs[name]
        assert proc.autostart is True, name
        assert proc.autorestart is RestartUnconditionally, name  # autorestart=true
        assert proc.startretries >= 3, name
        assert proc.stdout_logfile.startswith(str(supervisor_conf.parent / "log")), name
        assert proc.stderr_logfile.startswith(str(supervisor_conf.parent / "log")), name
    assert programs["jupyterlab"].directory == contract.WORKDIR
    # Locale and TZ are inherited from the container (boot.sh defaults them from the contract).
    assert "LANG" not in programs["jupyterlab"].environment
    # supervisorctl can talk to it: a unix socket, root only.
    assert options.server_configs[0]["family"] == socket.AF_UNIX
    assert options.server_configs[0]["chmod"] == 0o700


def test_remote_init_runs_as_a_one_shot_program_after_the_services(supervisor_conf: Path) -> None:
    """The remote init script cannot hold up sshd: supervisord starts it last, once, bounded."""
    options = ServerOptions()
    options.realize(args=["-c", str(supervisor_conf)])
    programs = {g.name: (g, g.process_configs[0]) for g in options.process_group_configs}
    group, init = programs[contract.REMOTE_INIT_PROGRAM]
    assert init.command == f"/bin/bash {contract.BOOT_SCRIPT} remote-init"
    assert init.autorestart is False
    assert init.startsecs == 0
    assert init.killasgroup is True
    assert all(group.priority > g.priority for name, (g, _) in programs.items() if g is not group)
    assert init.stdout_logfile == "/dev/stdout"  # the container log, like the rest of boot


def test_supervisorctl_section_needs_no_contract_environment(tmp_path: Path) -> None:
    """`shutdown` and users run supervisorctl from ssh sessions without the TFIMAGE_ variables."""
    conf = tmp_path / "supervisord.conf"
    conf.write_text(SUPERVISOR_CONF.read_text())
    options = ClientOptions()
    options.realize(args=["-c", str(conf)])
    assert options.serverurl == "unix:///run/supervisor.sock"


def test_supervisor_config_keeps_logs_out_of_tmp() -> None:
    text = SUPERVISOR_CONF.read_text()
    settings = [line for line in text.splitlines() if not line.startswith(";")]
    assert not [line for line in settings if "/tmp" in line]
    assert "pidfile=/run/supervisord.pid" in text
    assert "file=/run/supervisor.sock" in text


# --- Jupyter ------------------------------------------------------------------------


def load_jupyter_config(
    monkeypatch: pytest.MonkeyPatch,
    env: Mapping[str, str],
    server_version: str | None = None,
    with_contract_env: bool = True,
) -> Config:
    """Load the real config file as jupyter_server does, in the environment supervisord gives it."""
    for var in OPERATOR_VARS:
        monkeypatch.delenv(var, raising=False)
    if with_contract_env:
        for key, value in CONTRACT.items():
            monkeypatch.setenv(key, value)
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
    assert server.base_url == contract.JUPYTER.path
    assert server.port == contract.JUPYTER.port
    assert server.ip == "0.0.0.0"  # noqa: S104
    assert server.root_dir == contract.WORKDIR
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


@pytest.mark.parametrize("bad", ["   ", "\t", "two words", "line\nbreak", "a", "1234567"])
def test_jupyter_ignores_a_blank_or_spaced_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bad: str
) -> None:
    """Defence in depth: boot.sh refuses such tokens; the config never serves one either."""
    token_file = tmp_path / "token"
    token_file.write_text("generated\n")
    env = {"JUPYTER_TOKEN": bad, "TFIMAGE_JUPYTER_TOKEN_FILE": str(token_file)}
    cfg = load_jupyter_config(monkeypatch, env, server_version="2.14.2")
    assert cfg.IdentityProvider.token == "generated"  # noqa: S105


def test_jupyter_contract_from_the_file_without_environment(
    monkeypatch: pytest.MonkeyPatch, contract_file: Path
) -> None:
    """JupyterLab started by hand (no boot.sh environment) still gets the contract's values."""
    env = {"TFIMAGE_CONTRACT_ENV": str(contract_file)}
    cfg = load_jupyter_config(monkeypatch, env, server_version="2.14.2", with_contract_env=False)
    assert cfg.ServerApp.base_url == contract.JUPYTER.path
    assert cfg.ServerApp.port == contract.JUPYTER.port
    contract_file.write_text("# empty\n")
    with pytest.raises(RuntimeError, match="TFIMAGE_JUPYTER_TOKEN_FILE is neither in the environment"):
        load_jupyter_config(monkeypatch, env, server_version="2.14.2", with_contract_env=False)


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
        "JUPYTER_TOKEN": "ignored-token",
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
    assert strict.IdentityProvider.token == "ignored-token"  # noqa: S105


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
        "locale": contract.JUPYTER_UI_LOCALE
    }
    shutdown = root / "usr" / "local" / "bin" / "shutdown"
    assert stat.S_IMODE(shutdown.stat().st_mode) == 0o755
    assert "supervisorctl" in shutdown.read_text()
    assert (root / "etc" / "profile.d" / "zz-tfimage-motd.sh").is_file()
    assert (root / "etc" / "profile.d" / "tfimage.sh").read_text() == PROFILE.read_text()
    # mirrors are off by default
    assert not (root / "etc" / "pip.conf").exists()
    assert not (root / "root" / ".condarc").exists()


def test_init_build_mode_installs_only_the_static_files(root: Path) -> None:
    """`init.py --build` (the image build) must not snapshot the BUILD's environment."""
    run_init(root, {"NCCL_SOCKET_IFNAME": "build-only"}, "--build")
    for path in (
        "etc/profile.d/tfimage.sh",
        "etc/bash.bashrc",
        "etc/tfimage-motd",
        "usr/local/bin/shutdown",
        "etc/ssh/sshd_config.d/tfimage.conf",
    ):
        assert (root / path).is_file(), path
    assert not (root / "etc" / "tfimage" / "env.sh").exists()
    assert not (root / "root" / ".jupyter").exists()


def test_init_refuses_unknown_arguments(root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(INIT_PY), "--bogus"], env=clean_env(TFIMAGE_ROOT=str(root)), capture_output=True
    )
    assert proc.returncode == 2


def test_init_step_failure_is_one_line_and_the_others_run(root: Path) -> None:
    (root / "etc" / "tfimage" / "contract.env").unlink()
    proc = subprocess.run(
        [sys.executable, str(INIT_PY)],
        env=clean_env(TFIMAGE_ROOT=str(root), TFIMAGE_SSHD=str(root.parent / "bin" / "sshd")),
        text=True,
        capture_output=True,
    )
    assert proc.returncode == 1
    failures = [line for line in proc.stdout.splitlines() if "failed" in line]
    assert failures, proc.stdout
    assert all(re.fullmatch(r"\[init\] step \w+ failed: RuntimeError: .*contract.*", f) for f in failures)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert (root / "etc" / "tfimage-motd").is_file()  # steps that need no contract value still ran


DEBIAN_BASHRC = """# System-wide .bashrc file for interactive bash(1) shells.

# If not running interactively, don't do anything
[ -z "$PS1" ] && return

shopt -s checkwinsize
"""


def test_bashrc_hook_comes_before_the_interactive_guard_and_is_idempotent(root: Path) -> None:
    """sshd's `bash -c` reads /etc/bash.bashrc, which returns at once unless interactive: the
    hook must come first, or `ssh host CMD` never gets the image's PATH/locale/TZ."""
    bashrc = root / "etc" / "bash.bashrc"
    bashrc.write_text(DEBIAN_BASHRC)
    run_init(root)
    text = bashrc.read_text()
    assert text.index(". /etc/profile.d/tfimage.sh") < text.index('[ -z "$PS1" ] && return')
    assert text.endswith(DEBIAN_BASHRC)
    assert text.count(". /etc/profile.d/tfimage.sh") == 1
    state = snapshot(root)
    run_init(root)
    assert snapshot(root) == state
    # A bashrc without the hook (e.g. replaced by a package upgrade) gets it back, once.
    bashrc.write_text(text.replace(". /etc/profile.d/tfimage.sh", "true"))
    run_init(root)
    assert bashrc.read_text().count(". /etc/profile.d/tfimage.sh") == 1


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
    text = (root / contract.ENV_SNAPSHOT_FILE.lstrip("/")).read_text()
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


@pytest.mark.parametrize("password", ["t0ken", "a%2Fb", "a/b#c"])
def test_mirror_credentials_are_never_in_a_world_readable_file(root: Path, password: str) -> None:
    """Issue 16, finding 7: a PIP_MIRROR_URL with credentials was written to /etc/pip.conf 0644."""
    pip_conf, condarc = root / "etc" / "pip.conf", root / "root" / ".condarc"
    env = {
        "PIP_MIRROR_URL": f"https://ci:{password}@pypi.example/simple",
        "CONDA_MIRROR_CHANNELS": f"https://ci:{password}@conda.example/main/,defaults",
    }
    if "#" in password:
        env.pop("CONDA_MIRROR_CHANNELS")  # not a conda channel name; pip takes it as written
    proc = run_init(root, env=env)
    assert stat.S_IMODE(pip_conf.stat().st_mode) == 0o600
    if condarc.exists():
        assert stat.S_IMODE(condarc.stat().st_mode) == 0o600
    assert password not in proc.stdout + proc.stderr
    run_init(root, env={"PIP_MIRROR_URL": "https://pypi.example/simple"})
    assert stat.S_IMODE(pip_conf.stat().st_mode) == 0o644  # no credentials: readable as before


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


def test_motd_on_this_machine(contract_file: Path) -> None:
    out = run_motd({}, contract_file)
    assert f"{contract.WORKDIR} " in out
    assert f"浏览器访问 {contract.JUPYTER.path}）" in out
    assert f"{contract.TENSORBOARD_LOGDIR} " in out
    assert f"浏览器访问 {contract.TENSORBOARD.path}）" in out
    assert re.search(r"CPU\s*：[0-9.]+ 核心", out), out
    assert re.search(r"内存：[0-9.]+ GB", out), out
    assert re.search(r"系统盘 /：\d+% \S+/\S+", out), out


def _meminfo(tmp_path: Path, kib: int = 8 * 1024 * 1024) -> Path:
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal:       {kib} kB\nMemFree:        1000 kB\n")
    return path


def test_motd_cgroup_v2_limits(tmp_path: Path, contract_file: Path) -> None:
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "cgroup.controllers").write_text("cpu memory\n")
    (cg / "cpu.max").write_text("50000 100000\n")
    (cg / "memory.max").write_text(f"{2 * 1024**3}\n")
    out = run_motd(
        {"TFIMAGE_CGROUP_ROOT": str(cg), "TFIMAGE_MEMINFO": str(_meminfo(tmp_path))}, contract_file
    )
    assert "CPU ：0.5 核心" in out
    assert "内存：2.0 GB" in out


def test_motd_cgroup_v2_unlimited_falls_back_to_host(tmp_path: Path, contract_file: Path) -> None:
    cg = tmp_path / "cg"
    cg.mkdir()
    (cg / "cpu.max").write_text("max 100000\n")
    (cg / "memory.max").write_text("max\n")
    out = run_motd(
        {"TFIMAGE_CGROUP_ROOT": str(cg), "TFIMAGE_MEMINFO": str(_meminfo(tmp_path))}, contract_file
    )
    nproc = subprocess.run(["nproc"], text=True, capture_output=True, check=True).stdout.strip()
    assert f"CPU ：{nproc} 核心" in out
    assert "内存：8.0 GB" in out


def test_motd_cgroup_v1_limits(tmp_path: Path, contract_file: Path) -> None:
    cg = tmp_path / "cg"
    (cg / "cpu").mkdir(parents=True)
    (cg / "memory").mkdir()
    (cg / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (cg / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (cg / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    out = run_motd(
        {"TFIMAGE_CGROUP_ROOT": str(cg), "TFIMAGE_MEMINFO": str(_meminfo(tmp_path))}, contract_file
    )
    assert "CPU ：1 核心" in out
    assert "内存：8.0 GB" in out  # "unlimited" v1 value -> host total


def test_motd_gpu_line(tmp_path: Path, contract_file: Path) -> None:
    bindir = tmp_path / "bin"
    write_exe(
        bindir / "nvidia-smi",
        '#!/bin/bash\n[ "$1" = --query-gpu=name,memory.total ] || exit 3\n'
        'echo "NVIDIA H200, 143771 MiB"\necho "NVIDIA H200, 143771 MiB"\n',
    )
    out = run_motd({}, contract_file, path_prefix=bindir)
    assert "GPU ：2 块" in out
    assert "[1] NVIDIA H200, 143771 MiB" in out


# --- shutdown wrapper and profile -------------------------------------------------------


def test_shutdown_wrapper_uses_supervisorctl(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    write_exe(bindir / "supervisorctl", f'#!/bin/bash\necho "$*" > "{tmp_path}/ctl.args"\n')
    trash = tmp_path / "root" / "root" / ".local" / "share" / "Trash"
    trash.mkdir(parents=True)
    env = clean_env(TFIMAGE_ROOT=str(tmp_path / "root"))
    env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", str(SHUTDOWN), "-h", "now"], env=env, text=True, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ctl.args").read_text() == "-c /init/supervisor/supervisord.conf shutdown\n"
    assert not trash.exists()


def test_shutdown_wrapper_falls_back_to_pidfile(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    write_exe(bindir / "supervisorctl", "#!/bin/bash\nexit 2\n")
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / "root" / "run").mkdir(parents=True)
        (tmp_path / "root" / "run" / "supervisord.pid").write_text(f"{sleeper.pid}\n")
        env = clean_env(TFIMAGE_ROOT=str(tmp_path / "root"))
        env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
        proc = subprocess.run(["bash", str(SHUTDOWN)], env=env, text=True, capture_output=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert sleeper.wait(timeout=10) == -15  # SIGTERM
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


def _profile(env: Mapping[str, str], script: str, shell: str = "sh") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shell, "-c", script], env=clean_env(**env), text=True, capture_output=True, check=True
    )


SHOW = 'printf "%s|%s|%s|%s|%s\\n" "$LANG" "$LC_ALL" "$TZ" "$PYTHON_PREFIX" "$PATH"'


def test_profile_sets_the_contract_locale_and_prefix_path(contract_file: Path) -> None:
    env = {"TFIMAGE_CONTRACT_ENV": str(contract_file), "PATH": "/usr/bin:/bin"}
    script = f'. "{PROFILE}"; . "{PROFILE}"; {SHOW}'
    want = f"{contract.LOCALE}|{contract.LOCALE}|{contract.TIMEZONE}|{PREFIX}|{PREFIX}/bin:/usr/bin:/bin\n"
    for shell in ("sh", "bash"):
        assert _profile(env, script, shell).stdout == want


def test_profile_lets_the_containers_environment_win(contract_file: Path, tmp_path: Path) -> None:
    """The snapshot boot wrote from THIS container's environment overrides the contract defaults."""
    snapshot_file = tmp_path / "env.sh"
    snapshot_file.write_text(
        "export PATH=/usr/local/cuda/bin:/usr/bin:/bin\nexport TZ=UTC\nexport NCCL_SOCKET_IFNAME=eth9\n"
    )
    contract_file.write_text(
        contract_file.read_text().replace(contract.ENV_SNAPSHOT_FILE, str(snapshot_file))
    )
    env = {"TFIMAGE_CONTRACT_ENV": str(contract_file), "PATH": "/usr/sbin:/usr/bin"}
    out = _profile(env, f'. "{PROFILE}"; {SHOW}; echo "$NCCL_SOCKET_IFNAME"').stdout
    path = f"{PREFIX}/bin:/usr/local/cuda/bin:/usr/bin:/bin"
    assert out == f"{contract.LOCALE}|{contract.LOCALE}|UTC|{PREFIX}|{path}\neth9\n"


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_profile_is_silent_even_without_its_files(shell: str, tmp_path: Path, contract_file: Path) -> None:
    """It runs for every scp/sftp/rsync session: any byte of output would break them.

    (C.UTF-8 stands in for the contract's locale, which this test host may not have generated.)
    """
    contract_file.write_text(contract_file.read_text().replace(contract.LOCALE, "C.UTF-8"))
    for contract_path in (contract_file, tmp_path / "missing.env"):
        env = {"TFIMAGE_CONTRACT_ENV": str(contract_path), "PATH": "/usr/bin:/bin"}
        for flags in ([], ["-i"]):
            proc = subprocess.run(
                [shell, *flags, "-c", f'. "{PROFILE}"; echo "rc=$?"'],
                env=clean_env(**env),
                text=True,
                capture_output=True,
                check=False,
                stdin=subprocess.DEVNULL,
            )
            assert proc.stdout == "rc=0\n", (contract_path, flags, proc.stdout)
            assert proc.stderr == "" or flags, (contract_path, proc.stderr)


def test_motd_hook_silent_for_non_interactive_shells() -> None:
    out = subprocess.run(["sh", "-c", f'. "{MOTD_HOOK}"'], text=True, capture_output=True, check=True)
    assert out.stdout == ""


def test_motd_hook_shows_the_banner_once_per_interactive_login(tmp_path: Path, contract_file: Path) -> None:
    """`bash -i` stands in for the login shell; TFIMAGE_MOTD_SHOWN stops nested logins repeating it."""
    hook = tmp_path / "hook.sh"
    hook.write_text(MOTD_HOOK.read_text().replace("/etc/tfimage-motd", str(MOTD)))
    env = clean_env(TFIMAGE_CONTRACT_ENV=str(contract_file))
    script = f'. "{hook}"; . "{hook}"; bash -ic \'. "{hook}"\''
    out = subprocess.run(
        ["bash", "--norc", "-i", "-c", script],
        env=env,
        text=True,
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert out.stdout.count("目录说明") == 1, out.stdout

"""Unit tests of context/boot/boot.sh: every input hostile, every step fallible.

boot.sh is sourced and its steps run against a fake image root (tests/unit/context_env.py) with
chpasswd, sshd, curl and supervisord replaced by fakes that record what they were given. The
engine-backed service checks (ci/probe/services) repeat the important cases on a real image.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import time
from pathlib import Path

import pytest

from ci.model import contract
from tests.unit.context_env import CONTEXT, run_boot, snapshot, warnings, write_exe

needs_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")


def chpasswd_log(root: Path) -> str:
    log = root / "chpasswd.log"
    return log.read_text() if log.exists() else ""


# --- root password ------------------------------------------------------------------------


def test_generated_root_password_printed_once(root: Path) -> None:
    first = run_boot(root, "setup_root_password")
    match = re.fullmatch(r"root:([0-9a-f]{24})\n", chpasswd_log(root))
    assert match, chpasswd_log(root)
    assert f"Generated root password (shown only once, on first boot): {match[1]}" in first.stdout
    second = run_boot(root, "setup_root_password")
    assert match[1] not in second.stdout
    assert "already set" in second.stdout
    assert chpasswd_log(root) == match[0]  # chpasswd not run again


@pytest.mark.parametrize("ending", ["", "\n", "\r\n"])
def test_root_password_from_sync_file_is_applied_deleted_and_not_logged(root: Path, ending: str) -> None:
    sync = root / "sync" / "root-passwd"
    sync.write_text(f"root:S3cret: with colon{ending}")
    proc = run_boot(root, "setup_root_password")
    assert chpasswd_log(root) == "root:S3cret: with colon\n"  # chpasswd splits at the first colon
    assert not sync.exists()
    assert "S3cret" not in proc.stdout + proc.stderr
    assert warnings(proc.stdout) == []


def test_root_password_from_env_not_logged_nor_exported(root: Path) -> None:
    proc = run_boot(
        root,
        'setup_root_password; unset ROOT_PASSWORD; printf "leak=%s\\n" "${ROOT_PASSWORD:-}"',
        env={"ROOT_PASSWORD": "Env-Secret-42"},
    )
    assert chpasswd_log(root) == "root:Env-Secret-42\n"
    assert "Env-Secret-42" not in proc.stdout + proc.stderr
    assert "leak=\n" in proc.stdout


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("pw1\nwww-data:hacked", "line break"),  # the case: a second account, root truncated
        ("pw1\rwww-data:hacked", "line break"),
        ("", "empty or blank"),
        ("   \t ", "empty or blank"),
        ("pw\x01x", "control characters"),
        ("x" * 513, "longer than 512"),
    ],
)
def test_hostile_root_password_is_refused_in_one_line(root: Path, value: str, reason: str) -> None:
    (root / "etc" / "shadow").write_text("root:$6$old:1:0:::::\nwww-data:*:1:0:::::\n")
    shadow = (root / "etc" / "shadow").read_text()
    proc = run_boot(root, "setup_root_password", env={"ROOT_PASSWORD": value})
    assert chpasswd_log(root) == ""  # chpasswd never saw it
    assert (root / "etc" / "shadow").read_text() == shadow
    assert warnings(proc.stdout) == [proc.stdout.splitlines()[0]]
    assert f"ROOT_PASSWORD refused: it {'contains a ' if reason == 'line break' else ''}" in proc.stdout
    assert reason in proc.stdout
    if value.strip():
        assert value.splitlines()[0] not in proc.stdout + proc.stderr
    assert "keeping it" in proc.stdout


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("root:pw1\nwww-data:hacked\n", "exactly one line"),
        ("root:pw1\n\n", "exactly one line"),
        ("daemon:x\n", "user part must be exactly 'root'"),
        ("ro:ot:pw\n", "user part must be exactly 'root'"),
        (" root:pw\n", "user part must be exactly 'root'"),
        ("root\n", "must contain 'root:PASSWORD'"),
        ("root:\n", "empty or blank"),
        ("root:   \n", "empty or blank"),
        ("root:pw\x00x\n", "NUL bytes"),
        ("root:" + "x" * 5000, "larger than 4 KiB"),
    ],
)
def test_hostile_sync_file_is_refused_in_one_line_and_deleted(root: Path, content: str, reason: str) -> None:
    sync = root / "sync" / "root-passwd"
    sync.write_bytes(content.encode())
    (root / "etc" / "shadow").write_text("root:$6$old:1:0:::::\nwww-data:*:1:0:::::\n")
    proc = run_boot(root, "setup_root_password")
    assert chpasswd_log(root) == ""
    assert not sync.exists()  # it holds a secret either way
    refusals = [line for line in warnings(proc.stdout) if "/sync/root-passwd refused" in line]
    assert len(refusals) == 1, proc.stdout
    assert reason in refusals[0]
    assert "pw1" not in proc.stdout
    assert "hacked" not in proc.stdout


def test_refused_sync_file_falls_through_to_root_password(root: Path) -> None:
    (root / "sync" / "root-passwd").write_text("daemon:x\n")
    proc = run_boot(root, "setup_root_password", env={"ROOT_PASSWORD": "fine-password"})
    assert chpasswd_log(root) == "root:fine-password\n"
    assert "root password set from ROOT_PASSWORD" in proc.stdout


def test_a_named_pipe_as_sync_file_is_refused_without_blocking_boot(root: Path) -> None:
    """Issue 16, finding 11: a FIFO at /sync/root-passwd hung boot forever (sshd never started)."""
    sync = root / "sync" / "root-passwd"
    os.mkfifo(sync)
    started = time.monotonic()
    proc = run_boot(root, "setup_root_password; echo after", timeout=20)
    assert time.monotonic() - started < 10
    assert proc.stdout.endswith("after\n")
    assert warnings(proc.stdout) == [
        "[boot] WARNING: /sync/root-passwd refused: it is not a regular file (a directory, named pipe or "
        "device?); nothing changed (file deleted)"
    ]
    assert not os.path.lexists(sync)
    assert re.fullmatch(r"root:[0-9a-f]{24}\n", chpasswd_log(root))  # the generated one, printed
    assert "Generated root password (shown only once, on first boot)" in proc.stdout


@pytest.mark.parametrize("password", ["a", "1234567", "\u00e9\u00e9\u00e9"])
def test_a_short_root_password_is_refused_and_a_generated_one_used(root: Path, password: str) -> None:
    """Issue 16, finding 11: ROOT_PASSWORD=a was accepted for a root SSH login on a published port."""
    for source in ("env", "sync"):
        (root / "etc" / "shadow").write_text("root:*:1:0:::::\n")
        (root / "chpasswd.log").unlink(missing_ok=True)
        env = {"ROOT_PASSWORD": password} if source == "env" else {}
        if source == "sync":
            (root / "sync" / "root-passwd").write_text(f"root:{password}\n")
        proc = run_boot(root, "setup_root_password", env=env)
        refused = warnings(proc.stdout)
        assert len(refused) == 1, proc.stdout
        assert "refused: the password is refused: it is shorter than 8 characters" in refused[0] or (
            refused[0]
            == "[boot] WARNING: ROOT_PASSWORD refused: it is shorter than 8 characters; nothing changed"
        )
        assert re.fullmatch(r"root:[0-9a-f]{24}\n", chpasswd_log(root)), chpasswd_log(root)
        assert "Generated root password (shown only once, on first boot)" in proc.stdout


def test_failing_chpasswd_does_not_stop_boot(root: Path) -> None:
    failing = write_exe(root.parent / "bin" / "chpasswd-fails", "#!/bin/bash\nexit 1\n")
    proc = run_boot(root, "step x setup_root_password; echo after", env={"TFIMAGE_CHPASSWD": str(failing)})
    assert proc.stdout.endswith("after\n")
    assert warnings(proc.stdout) == [
        "[boot] WARNING: x: chpasswd failed; root has no password (key login only); boot continues"
    ]


# --- authorized_keys ----------------------------------------------------------------------


def test_authorized_keys_no_duplicates(root: Path) -> None:
    key_a = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA a@example"
    key_b = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ b@example"
    (root / "sync" / "authorized_keys").write_text(f"# comment\n{key_b}\r\n\n{key_a}\n")
    env = {"SSH_PUBLIC_KEY": f"{key_a}\n{key_a}"}
    run_boot(root, "setup_authorized_keys", env=env)
    run_boot(root, "setup_authorized_keys", env=env)
    auth = root / "root" / ".ssh" / "authorized_keys"
    assert auth.read_text() == f"{key_a}\n{key_b}\n"
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert stat.S_IMODE(auth.parent.stat().st_mode) == 0o700


def test_authorized_keys_appends_after_a_last_line_without_newline(root: Path) -> None:
    auth = root / "root" / ".ssh" / "authorized_keys"
    auth.parent.mkdir(parents=True)
    auth.write_text("ssh-ed25519 AAAA old@x")
    run_boot(root, "setup_authorized_keys", env={"SSH_PUBLIC_KEY": "ssh-ed25519 BBBB new@x"})
    assert auth.read_text() == "ssh-ed25519 AAAA old@x\nssh-ed25519 BBBB new@x\n"


def test_unwritable_authorized_keys_does_not_stop_boot(root: Path) -> None:
    """The issue's crash loop: SSH_PUBLIC_KEY plus an authorized_keys boot cannot write.

    Tests run as root, for whom permission bits do not stop a write, so the path is made a
    directory; the service checks use a real read-only mount.
    """
    (root / "root" / ".ssh" / "authorized_keys").mkdir(parents=True)
    proc = run_boot(root, "main", env={"SSH_PUBLIC_KEY": "ssh-ed25519 AAAA k@x"})
    assert "supervisord -n -c" in proc.stdout  # boot reached supervisord
    keys = [line for line in warnings(proc.stdout) if "authorized_keys" in line]
    assert keys == [
        "[boot] WARNING: authorized_keys: /root/.ssh/authorized_keys is not a readable file; "
        "keys not added; boot continues"
    ]


# --- sshd -----------------------------------------------------------------------------------


@needs_keygen
def test_sshd_setup_is_idempotent_and_creates_lastlog(root: Path) -> None:
    run_boot(root, "setup_sshd")
    state = snapshot(root)
    second = run_boot(root, "setup_sshd")
    assert snapshot(root) == state
    assert "generating SSH host keys" not in second.stdout
    assert (root / "etc" / "ssh" / "ssh_host_ed25519_key").is_file()
    assert (root / "run" / "sshd").is_dir()
    # Without it every login printed "lastlog_openseek: Couldn't stat /var/log/lastlog" twice.
    lastlog = root / "var" / "log" / "lastlog"
    assert lastlog.is_file()
    assert stat.S_IMODE(lastlog.stat().st_mode) == 0o664


def test_failing_keygen_is_one_line(root: Path) -> None:
    keygen = write_exe(root.parent / "bin" / "keygen", "#!/bin/bash\necho noisy >&2\nexit 1\n")
    proc = run_boot(root, "step sshd setup_sshd", env={"TFIMAGE_SSH_KEYGEN": str(keygen)})
    assert warnings(proc.stdout) == [
        "[boot] WARNING: sshd: ssh-keygen -A failed; sshd cannot start without host keys; boot continues"
    ]
    assert "noisy" not in proc.stdout + proc.stderr


def test_broken_sshd_config_is_named_in_the_log(root: Path) -> None:
    proc = run_boot(
        root,
        "step 'sshd configuration' check_sshd_config",
        env={"FAKE_SSHD_T_ERROR": "/etc/ssh/sshd_config line 1: Bad configuration option: Include"},
    )
    assert warnings(proc.stdout) == [
        "[boot] WARNING: sshd configuration: sshd -t rejects the configuration: "
        "/etc/ssh/sshd_config line 1: Bad configuration option: Include; boot continues"
    ]


# --- JupyterLab token -----------------------------------------------------------------------


def test_jupyter_token_generated_once(root: Path) -> None:
    first = run_boot(root, "setup_jupyter_token")
    token_file = root / contract.JUPYTER_TOKEN_FILE.lstrip("/")
    token = token_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{48}", token)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    url = f"http://<host>:{contract.JUPYTER.port}{contract.JUPYTER.path}lab?token={token}"
    assert url in first.stdout
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


@pytest.mark.parametrize("token", ["", "   ", "\t", "two words", "tab\there", "a", "1234567"])
def test_blank_or_spaced_jupyter_token_is_refused_and_a_token_generated(root: Path, token: str) -> None:
    """The issue's case: a blank token was "taken", stripped by the config, and nobody could log in;
    issue 16, finding 11: JUPYTER_TOKEN=a was taken (shorter than 8 characters is refused)."""
    proc = run_boot(
        root, 'setup_jupyter_token; echo "left=${JUPYTER_TOKEN-unset}"', env={"JUPYTER_TOKEN": token}
    )
    assert len(warnings(proc.stdout)) == 1
    assert "JUPYTER_TOKEN refused" in warnings(proc.stdout)[0]
    assert "taken from JUPYTER_TOKEN" not in proc.stdout
    assert "left=unset\n" in proc.stdout  # JupyterLab reads the token file instead
    generated = (root / "root" / ".jupyter" / "token").read_text().strip()
    assert f"lab?token={generated}" in proc.stdout


# --- remote init ------------------------------------------------------------------------

GOOD_SHA = "a" * 64


@pytest.mark.parametrize(
    ("url", "sha", "expected"),
    [
        ("", GOOD_SHA, "skip: INIT_SCRIPT_URL not set"),
        ("http://example.com/init.py", GOOD_SHA, "skip: INIT_SCRIPT_URL must be an https:// URL"),
        ("file:///tmp/init.py", GOOD_SHA, "skip: INIT_SCRIPT_URL must be an https:// URL"),
        (
            "https://example.com/a b",
            GOOD_SHA,
            "skip: INIT_SCRIPT_URL contains whitespace or control characters",
        ),
        ("https://example.com/init.py", "", "skip: INIT_SCRIPT_SHA256 not set"),
        ("https://example.com/init.py", "abc", "skip: INIT_SCRIPT_SHA256 is not 64 hex digits"),
        ("https://example.com/init.py", GOOD_SHA, "run"),
    ],
)
def test_remote_init_decision(root: Path, url: str, sha: str, expected: str) -> None:
    proc = run_boot(root, f"remote_init_decision '{url}' '{sha}' || true")
    assert proc.stdout.strip() == expected


def _fake_curl(tmp_path: Path, payload_text: str) -> tuple[Path, Path]:
    """A curl stand-in serving a script; returns (curl, payload)."""
    payload = tmp_path / "payload.sh"
    payload.write_text(payload_text)
    curl = write_exe(
        tmp_path / "bin" / "curl",
        "#!/bin/bash\n"
        'echo "$*" > "$(dirname "$0")/curl.args"\n'
        'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then out="$2"; fi; shift; done\n'
        f'cp "{payload}" "$out"\n',
    )
    return curl, payload


def test_remote_init_runs_only_with_matching_sha_and_bounded_download(root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    curl, payload = _fake_curl(tmp_path, f'touch "{marker}"\n')
    good = hashlib.sha256(payload.read_bytes()).hexdigest()
    env = {"TFIMAGE_CURL": str(curl), "INIT_SCRIPT_URL": "https://example.com/init.sh"}

    proc = run_boot(
        root, "step 'remote init script' run_remote_init", env={**env, "INIT_SCRIPT_SHA256": "0" * 64}
    )
    assert "sha256 mismatch; NOT run" in proc.stdout
    assert not marker.exists()
    args = (curl.parent / "curl.args").read_text().split()
    assert args[args.index("--proto") + 1] == "=https"
    assert args[args.index("--connect-timeout") + 1] == "10"
    assert args[args.index("--max-time") + 1] == "60"
    assert "-k" not in args
    assert "--insecure" not in args

    proc = run_boot(root, "run_remote_init", env={**env, "INIT_SCRIPT_SHA256": good.upper()})
    assert "sha256 verified" in proc.stdout
    assert marker.exists()


def test_remote_init_script_run_time_is_bounded(root: Path, tmp_path: Path) -> None:
    curl, payload = _fake_curl(tmp_path, "sleep 30\n")
    env = {
        "TFIMAGE_CURL": str(curl),
        "INIT_SCRIPT_URL": "https://example.com/init.sh",
        "INIT_SCRIPT_SHA256": hashlib.sha256(payload.read_bytes()).hexdigest(),
        "INIT_SCRIPT_TIMEOUT": "1",
    }
    started = time.monotonic()
    proc = run_boot(root, "remote_init_main", env=env)
    assert time.monotonic() - started < 20
    assert "stopped after its 1 s limit (INIT_SCRIPT_TIMEOUT)" in proc.stdout


def test_remote_init_http_never_downloaded(root: Path, tmp_path: Path) -> None:
    curl, _ = _fake_curl(tmp_path, "true\n")
    env = {
        "TFIMAGE_CURL": str(curl),
        "INIT_SCRIPT_URL": "http://example.com/init.sh",
        "INIT_SCRIPT_SHA256": GOOD_SHA,
    }
    proc = run_boot(root, "run_remote_init", env=env)
    assert "skip" in proc.stdout
    assert not (curl.parent / "curl.args").exists()


def test_main_never_runs_the_remote_init_script(root: Path, tmp_path: Path) -> None:
    """It runs as supervisord's program "init-script", after the services; boot must not wait for it."""
    hanging = write_exe(tmp_path / "bin" / "curl", '#!/bin/bash\ntouch "$0.called"\nsleep 600\n')
    env = {
        "TFIMAGE_CURL": str(hanging),
        "INIT_SCRIPT_URL": "https://example.com/init.sh",
        "INIT_SCRIPT_SHA256": GOOD_SHA,
    }
    started = time.monotonic()
    proc = run_boot(root, "main", env=env, timeout=60)
    assert time.monotonic() - started < 30
    assert "supervisord -n -c" in proc.stdout
    assert not Path(f"{hanging}.called").exists()


# --- the whole boot ----------------------------------------------------------------------------


@needs_keygen
def test_boot_main_end_to_end_and_second_boot(root: Path) -> None:
    """main() with every step, exec'ing a fake supervisord; a second boot changes nothing."""
    env = {"SSH_PUBLIC_KEY": "ssh-ed25519 AAAA k@x"}
    first = run_boot(root, "main", env=env)
    assert f"supervisord -n -c {CONTEXT}/supervisor/supervisord.conf" in first.stdout
    assert warnings(first.stdout) == []
    assert (root / contract.TENSORBOARD_LOGDIR.lstrip("/")).is_dir()
    assert stat.S_IMODE((root / contract.SUPERVISOR_LOG_DIR.lstrip("/")).stat().st_mode) == 0o700
    (root / "supervisord.env").unlink()
    state = snapshot(root)
    second = run_boot(root, "main", env=env)
    (root / "supervisord.env").unlink()
    assert snapshot(root) == state
    assert "Generated root password" not in second.stdout
    assert "token=" not in second.stdout


def test_supervisord_gets_the_contract_and_no_secrets(root: Path) -> None:
    run_boot(root, "main", env={"ROOT_PASSWORD": "pw-42-long", "JUPYTER_TOKEN": "tok-42-long"})
    env = dict(
        line.split("=", 1) for line in (root / "supervisord.env").read_text().splitlines() if "=" in line
    )
    for name, value in contract.contract_env("/opt/python").items():
        assert env[name] == value, name
    assert env["LANG"] == contract.LOCALE
    assert env["TZ"] == contract.TIMEZONE
    assert "ROOT_PASSWORD" not in env
    assert env["JUPYTER_TOKEN"] == "tok-42-long"  # noqa: S105 - JupyterLab reads it


def test_fresh_environment_wins_over_the_saved_snapshot(root: Path) -> None:
    """The issue's case: a saved container run again with new -e values got the old ones back.

    The old snapshot is reachable the way it was before (Debian's /etc/profile sources
    /etc/profile.d/*.sh, which sourced the snapshot): boot must not read it at all.
    """
    snapshot_file = root / contract.ENV_SNAPSHOT_FILE.lstrip("/")
    snapshot_file.write_text("export NCCL_SOCKET_IFNAME=old0\nexport LD_LIBRARY_PATH=/old/lib\n")
    (root / "etc" / "profile").write_text(f". {snapshot_file}\n")
    run_boot(root, "main", env={"NCCL_SOCKET_IFNAME": "new0", "LD_LIBRARY_PATH": "/new/lib"})
    supervisord_env = (root / "supervisord.env").read_text()
    assert "NCCL_SOCKET_IFNAME=new0\n" in supervisord_env
    assert "LD_LIBRARY_PATH=/new/lib\n" in supervisord_env
    saved = snapshot_file.read_text()
    assert "export NCCL_SOCKET_IFNAME=new0\n" in saved
    assert "export LD_LIBRARY_PATH=/new/lib\n" in saved
    assert "old" not in saved


def test_every_step_failing_still_starts_supervisord(root: Path, tmp_path: Path) -> None:
    """No contract file, no chpasswd, no ssh-keygen, no python: one line each, then supervisord."""
    (root / "etc" / "tfimage" / "contract.env").unlink()
    broken = write_exe(tmp_path / "bin" / "broken", "#!/bin/bash\nexit 1\n")
    proc = run_boot(
        root,
        "main",
        env={
            "TFIMAGE_CHPASSWD": str(broken),
            "TFIMAGE_SSH_KEYGEN": str(broken),
            "PYTHON_PREFIX": str(tmp_path / "nowhere"),
            "PATH": "/usr/bin:/bin",
            "FAKE_SSHD_T_ERROR": "no host keys",
        },
    )
    assert "supervisord -n -c" in proc.stdout
    lines = warnings(proc.stdout)
    assert len(lines) >= 5
    assert all(line.endswith("; boot continues") for line in lines), lines
    assert "environment: cannot read" in lines[0]


def test_boot_falls_back_to_sshd_when_supervisord_cannot_start(root: Path) -> None:
    proc = run_boot(root, "main", env={"TFIMAGE_SUPERVISORD": str(root / "no-such-supervisord")})
    assert "running sshd alone so the container can be debugged" in proc.stdout
    assert "sshd alone: -D -e" in proc.stdout

"""The service session's helpers: output cleaning, key=value lines and the shell the checks run in
the client (the session itself boots a real image: tests/e2e)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ci.probe.services.session import SUPERVISORCTL, clean, status_once_running, value_of, wait_for_ssh


def test_clean_strips_terminal_noise() -> None:
    assert clean("\x1b[32mCPU\x1b[0m\r\n\x1b[?2004hroot# ") == "CPU\nroot# "


def test_value_of_reads_one_key_per_line() -> None:
    text = "TFCI_RC=0\nTFCI_LANG= zh_CN.UTF-8 \nnoise TFCI_ZONE=UTC\n"
    assert value_of(text, "TFCI_RC") == "0"
    assert value_of(text, "TFCI_LANG") == "zh_CN.UTF-8"
    assert value_of(text, "TFCI_ZONE") == ""  # only at the start of a line
    assert value_of(text, "TFCI_SYNC") == ""


def _fake_ssh(tmp_path: Path, status: str) -> dict[str, str]:
    """PATH with an `ssh` that prints STATUS whatever it is asked (what supervisorctl would say)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (tmp_path / "status").write_text(status)
    ssh = bindir / "ssh"
    ssh.write_text(f'#!/bin/bash\necho "$*" >> {tmp_path}/calls\ncat {tmp_path}/status\n')
    ssh.chmod(0o755)
    return {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}


def test_status_is_printed_once_every_program_waited_for_is_running(tmp_path: Path) -> None:
    status = "jupyterlab   RUNNING   pid 12, uptime 0:00:07\nsshd   RUNNING   pid 9, uptime 0:00:08\n"
    env = _fake_ssh(tmp_path, status)
    script = status_once_running(["jupyterlab", "sshd"], ["jupyterlab", "sshd"], seconds=5)
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout == status
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 1  # ready at the first look
    assert calls[0].endswith(f"{SUPERVISORCTL} status jupyterlab sshd")


def test_status_gives_up_after_the_seconds_and_shows_the_last_one(tmp_path: Path) -> None:
    status = "jupyterlab   STARTING\nsshd   RUNNING   pid 9, uptime 0:00:01\n"
    env = _fake_ssh(tmp_path, status)
    script = status_once_running(["jupyterlab"], ["jupyterlab", "sshd"], seconds=2)
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout == status
    assert len((tmp_path / "calls").read_text().splitlines()) == 2


def test_waiting_for_ssh_is_valid_shell_that_stops_at_the_first_login(tmp_path: Path) -> None:
    env = _fake_ssh(tmp_path, "")
    subprocess.run(["bash", "-c", wait_for_ssh("ssh root@tfimage")], env=env, check=True)
    assert (tmp_path / "calls").read_text() == "root@tfimage true\n"

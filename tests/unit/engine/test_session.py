"""The engine session's log and engine checks, without an engine: a private log no other local user
can redirect, progress on stderr as it happens when asked (grouped per image in a GitHub Actions job
log) and always in the file, and an engine address nothing answers at ends in one line within
seconds."""

from __future__ import annotations

import io
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from ci.engine import session, watchdog
from ci.engine.session import EngineTarget, check_engine, engine_target, log_group, session_log
from ci.model.errors import UserError

STAMP = "20260101-000000"


@pytest.fixture
def log_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "logs"
    monkeypatch.setenv(session.LOG_DIR_ENV, str(directory))
    monkeypatch.delenv(session.LOG_ENV, raising=False)
    monkeypatch.setattr(time, "strftime", lambda fmt: STAMP)
    return directory


def test_a_planted_link_is_never_followed_and_the_log_is_private(log_dir: Path, tmp_path: Path) -> None:
    """Issue 16, finding 5: a symlink planted at the log's name made a run overwrite its target."""
    log_dir.mkdir(mode=0o755)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    planted = log_dir / f"dagger-{STAMP}-{os.getpid()}.log"
    planted.symlink_to(victim)
    with session_log(io.StringIO()) as (stream, path):
        stream.write("engine output\n")
    assert path is not None
    assert path != planted
    assert path.parent == log_dir
    assert victim.read_text() == "precious\n"
    assert path.read_text() == "engine output\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_dir.stat().st_mode) == 0o700  # an existing directory is forced to 0700


def test_a_log_directory_of_another_user_or_a_link_is_refused(log_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log_dir.symlink_to(elsewhere)
    with (
        pytest.raises(UserError, match=r"cannot use it as a private directory .*set \$TFCI_LOG_DIR"),
        session_log(io.StringIO()),
    ):
        pass
    log_dir.unlink()
    log_dir.mkdir()
    os.chown(log_dir, 65534, 65534)  # the tests run as root (.ci/run): another user's directory
    with pytest.raises(UserError, match=r"owned by uid 65534, not by this user"), session_log(io.StringIO()):
        pass
    assert list(elsewhere.iterdir()) == []


def test_the_engine_flag_or_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(watchdog.RUNNER_HOST_ENV, "tcp://10.0.0.1:1234")
    assert engine_target(flag_given=True) == EngineTarget("tcp://10.0.0.1:1234", "--engine")
    assert engine_target(flag_given=False).origin == "$_EXPERIMENTAL_DAGGER_RUNNER_HOST"
    monkeypatch.delenv(watchdog.RUNNER_HOST_ENV)
    assert engine_target(flag_given=False).address is None


def test_an_engine_address_nothing_listens_on_is_one_line_in_seconds() -> None:
    """Issue 16, finding 9: with the engine on a closed port, build printed nothing for 300 s."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the block ends
    target = EngineTarget(f"tcp://127.0.0.1:{port}", "--engine")
    started = time.monotonic()
    line = check_engine(target, wait=1.0)
    assert time.monotonic() - started < 5
    assert line == (
        f"error: no Dagger engine answers at tcp://127.0.0.1:{port} (from --engine); start it, or point "
        "--engine (or $_EXPERIMENTAL_DAGGER_RUNNER_HOST) at a running engine, e.g. tcp://HOST:1234"
    )
    assert check_engine(EngineTarget("unix:///nonexistent/engine.sock", "--engine"), wait=0.1) is not None
    assert check_engine(EngineTarget("ssh://host", "--engine"), wait=0.1) is None  # not probed: tried


def test_a_dagger_cli_on_path_is_used_when_none_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, finding 9: with no engine configured and `dagger` installed, the SDK tried to
    download a CLI ("Failed to download the Dagger CLI") instead of using it."""
    cli = tmp_path / "dagger"
    cli.write_text("#!/bin/sh\n")
    cli.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(session.CLI_BIN_ENV, raising=False)
    monkeypatch.delenv(session.SESSION_PORT_ENV, raising=False)
    with session.dagger_cli():
        assert os.environ[session.CLI_BIN_ENV] == str(cli)
    assert session.CLI_BIN_ENV not in os.environ
    monkeypatch.setenv(session.CLI_BIN_ENV, "/opt/dagger")
    with session.dagger_cli():
        assert os.environ[session.CLI_BIN_ENV] == "/opt/dagger"


def test_streamed_progress_reaches_stderr_and_the_log_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFCI_LOG_DIR", str(tmp_path / "logs"))
    stderr = io.StringIO()
    with session_log(stderr, verbose=True) as (stream, path):
        # what the SDK does with it: the session CLI's stderr
        subprocess.run(
            ["sh", "-c", "echo '1   : connecting to engine'; echo '2   : DONE'"],
            stderr=stream,
            stdout=stream,
            check=True,
        )
    assert stderr.getvalue() == "1   : connecting to engine\n2   : DONE\n"
    assert path.read_text() == stderr.getvalue()  # kept for the upload when a job fails
    assert path.stat().st_mode & 0o777 == 0o600


def test_without_streaming_only_the_file_has_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFCI_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.delenv("TFCI_DAGGER_LOG", raising=False)
    stderr = io.StringIO()
    with session_log(stderr) as (stream, path):
        subprocess.run(["sh", "-c", "echo quiet"], stdout=stream, check=True)
    assert stderr.getvalue() == ""
    assert path.read_text() == "quiet\n"


def test_groups_only_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    with log_group("2.15.0-python3.11-cpu-debian12: build", enabled=True):
        print("inside")
    with log_group("not on GitHub", enabled=False):
        pass
    err = capsys.readouterr().err
    assert err == "::group::2.15.0-python3.11-cpu-debian12: build\n::endgroup::\n"

"""Engine progress: always in a log file, also on stderr as it happens when asked, grouped per
image in a GitHub Actions job log."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from ci.engine.session import log_group, session_log


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

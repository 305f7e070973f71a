"""Where a Dagger session's progress output goes.

Why this exists: dagger-io 0.19.10 starts `dagger session` with stderr=PIPE when Config.log_output
is None and never reads that pipe. Once the engine's progress output passes the 64 KiB pipe
buffer (any cold image build does), the CLI blocks on a write, and closing the session then waits
the SDK's full 300 s before raising subprocess.TimeoutExpired. Always giving the session somewhere
to write (the terminal when asked, else a log file kept for post-mortems) keeps the pipe drained;
a session then closes in about a second.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

LOG_ENV = "TFCI_DAGGER_LOG"  # set to 1: stream engine progress to stderr instead of a file
LOG_DIR_ENV = "TFCI_LOG_DIR"  # where session logs go (default: $TMPDIR/tfimages-ci)


def log_dir() -> Path:
    return Path(os.environ.get(LOG_DIR_ENV) or Path(tempfile.gettempdir()) / "tfimages-ci")


@contextmanager
def session_log(stderr: TextIO, *, verbose: bool = False) -> Iterator[tuple[TextIO, Path | None]]:
    """Yield (stream for dagger.Config.log_output, log file path or None when streaming)."""
    if verbose or os.environ.get(LOG_ENV, "") not in ("", "0"):
        yield stderr, None
        return
    directory = log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"dagger-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    with path.open("w", encoding="utf-8") as stream:
        yield stream, path

"""SIGTERM and SIGINT end a command cleanly: child processes killed, context managers run.

Why: a CI runner cancelling a job sends SIGTERM, and Python's default action for it is to die on
the spot. A promote killed that way left its private directory with the registry auth files
(base64 passwords) under /tmp, and a build left its `dagger session` child running (that CLI
ignores SIGTERM). Here both signals become an exception raised in the main thread, after every
direct child process was killed (so no wait on a child blocks the unwinding); every `with` block on
the way out (registry auth files, session, logs) then cleans up, and the command exits 128+signal.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Terminated(BaseException):
    """A SIGTERM or SIGINT arrived; BaseException so `except Exception` cleanups do not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def child_pids() -> list[int]:
    """Direct children of this process (Linux /proc)."""
    me = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and fields[1] == str(me):
            found.append(int(entry.name))
    return found


def kill_children() -> None:
    for pid in child_pids():
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def clean_exit_on_signals() -> Iterator[None]:
    """Within this block SIGTERM/SIGINT raise Terminated (once; a second signal is ignored while
    the first one unwinds, so cleanup is not interrupted); the old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}

    def handler(signum: int, frame: FrameType | None) -> None:
        for other in SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        kill_children()
        raise Terminated(signum)

    for signum in SIGNALS:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)

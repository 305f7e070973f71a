"""The engine session: where its progress output goes, and what happens when the engine dies.

Why the log file: dagger-io 0.19.10 starts `dagger session` with stderr=PIPE when
Config.log_output is None and never reads that pipe. Once the engine's progress output passes the
64 KiB pipe buffer (any cold image build does), the CLI blocks on a write, and closing the session
then waits the SDK's full 300 s before raising subprocess.TimeoutExpired. Always giving the session
somewhere to write (a log file kept for post-mortems, and the terminal too when asked) keeps the
pipe drained; a session then closes in about a second. The log shows commands and their output, so it is
created readable by its owner only (0600 in a 0700 directory).

Why streaming keeps the file too: in CI the progress must be in the job log as it happens (`--log`
/ TFCI_DAGGER_LOG=1: the plain progress the CLI writes when its output is not a terminal), and the
same log must survive to be uploaded when the job fails. A thread copies the CLI's output to stderr
and to the log file, line by line. Under GitHub Actions the pipeline folds each image's lines into
a group of the job log (`log_group`).

Why a watchdog (ci.engine.watchdog): an engine that dies mid-build would otherwise hang the session
for minutes; the watchdog ends it within seconds with one line naming the lost engine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import anyio

from ci.engine.watchdog import RUNNER_HOST_ENV, Probe, probe_for, watch_engine

if TYPE_CHECKING:
    from ci.engine.remote import RemoteSession

LOG_ENV = "TFCI_DAGGER_LOG"  # set to 1: stream engine progress to stderr (the file is kept too)
LOG_DIR_ENV = "TFCI_LOG_DIR"  # where session logs go (default: $TMPDIR/tfimages-ci)
GITHUB_ACTIONS_ENV = "GITHUB_ACTIONS"  # "true" in every GitHub Actions step


def log_dir() -> Path:
    return Path(os.environ.get(LOG_DIR_ENV) or Path(tempfile.gettempdir()) / "tfimages-ci")


def streaming(verbose: bool = False) -> bool:
    """Progress to stderr as it happens (--log, or TFCI_DAGGER_LOG=1)?"""
    return verbose or os.environ.get(LOG_ENV, "") not in ("", "0")


def _log_file() -> tuple[TextIO, Path]:
    directory = log_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"dagger-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding="utf-8"), path


@contextmanager
def session_log(stderr: TextIO, *, verbose: bool = False) -> Iterator[tuple[TextIO, Path]]:
    """Yield (stream for dagger.Config.log_output, the log file that keeps it).

    The stream must be a real file descriptor: the SDK hands it to the CLI as its stderr. When
    streaming, it is a pipe whose reader thread writes every line to `stderr` and the file.
    """
    log, path = _log_file()
    if not streaming(verbose):
        with log:
            yield log, path
        return
    read_fd, write_fd = os.pipe()
    writer = os.fdopen(write_fd, "w", encoding="utf-8")

    def copy() -> None:
        with os.fdopen(read_fd, encoding="utf-8", errors="replace") as reader:
            for line in reader:
                stderr.write(line)
                stderr.flush()
                log.write(line)
                log.flush()

    thread = threading.Thread(target=copy, name="engine-progress", daemon=True)
    thread.start()
    try:
        yield writer, path
    finally:
        writer.close()  # the CLI's copy closed when it exited: the reader sees the end
        thread.join(timeout=10)
        log.close()


def github_groups(verbose: bool) -> bool:
    """Fold each image's progress into a group of the GitHub Actions job log?"""
    return streaming(verbose) and os.environ.get(GITHUB_ACTIONS_ENV) == "true"


@contextmanager
def log_group(title: str, enabled: bool) -> Iterator[None]:
    """GitHub folds the lines between `::group::TITLE` and `::endgroup::` under TITLE in the log
    (groups do not nest: one image at a time). Outside GitHub Actions this prints nothing."""
    if enabled:
        print(f"::group::{title}", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        if enabled:
            print("::endgroup::", file=sys.stderr, flush=True)


def run_session(
    body: Callable[[], Awaitable[int]], *, verbose: bool = False, remote: RemoteSession | None = None
) -> int:
    """Connect to the engine, run body, turn every session problem into one readable line.

    `remote` (ci.engine.remote) sets the engine address and the layer-cache imports/exports for this
    session only; a cache export, which the engine runs when the session closes, is checked after.
    """
    import dagger

    from ci.engine.remote import RemoteSession

    remote = remote or RemoteSession()
    result: list[int] = []
    lost: list[str] = []

    async def main(log: TextIO, probe: Probe | None) -> int:
        config = dagger.Config(log_output=log, execute_timeout=None)
        async with dagger.connection(config), anyio.create_task_group() as tasks:
            if probe is not None:
                tasks.start_soon(watch_engine, probe, lost, tasks.cancel_scope)
            result.append(await body())
            await remote.mark()
            tasks.cancel_scope.cancel()
        return result[0]

    with remote.session_env(), session_log(sys.stderr, verbose=verbose) as (log, log_path):
        where = f"; engine progress log: {log_path}"
        probe = probe_for()
        if streaming(verbose):
            watched = f"watchdog probing {probe.address}" if probe else "no watchdog for this address"
            host = os.environ.get(RUNNER_HOST_ENV) or "the CLI's default"
            print(f"engine: {host} ({watched})", file=sys.stderr)
        try:
            code = anyio.run(main, log, probe)
        except Exception as exc:
            return _session_failure(_unwrap(exc), result, lost, where)
        if lost:
            print(_lost_line(lost[0], where), file=sys.stderr)
            return 1
    if result and remote.exporting and not remote.report(sys.stdout) and code == 0:
        code = 1  # the images are fine, but the cache export asked for did not happen
    if code != 0:
        print(f"engine progress log: {log_path}", file=sys.stderr)
    return code


def _unwrap(exc: Exception) -> Exception:
    """anyio task groups wrap errors in ExceptionGroup; the single real one is what to report."""
    inner = getattr(exc, "exceptions", None)  # ExceptionGroup (a builtin from Python 3.11)
    while isinstance(inner, tuple) and len(inner) == 1 and isinstance(inner[0], Exception):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _lost_line(address: str, where: str) -> str:
    return (
        f"error: lost the Dagger engine at {address} during the run (killed, out of memory or "
        f"restarted?); nothing further was built or published{where}"
    )


def _session_failure(exc: Exception, result: list[int], lost: list[str], where: str) -> int:
    import dagger

    if lost:
        print(_lost_line(lost[0], where), file=sys.stderr)
        return 1
    if isinstance(exc, subprocess.TimeoutExpired):
        # Guard only: the log file keeps the CLI's output drained, which is what made closes hang.
        if not result:
            print(f"error: the Dagger engine session timed out{where}", file=sys.stderr)
            return 1
        print("warning: the engine session did not close in time; results are complete", file=sys.stderr)
        return result[0]
    if isinstance(exc, dagger.ClientConnectionError):
        print(f"error: cannot reach the Dagger engine: {' '.join(str(exc).split())}{where}", file=sys.stderr)
        return 1
    if isinstance(exc, dagger.ProvisionError):
        message = " ".join(str(exc).split())
        what = "close (a cache export runs then)" if result else "start"
        print(f"error: cannot {what} the Dagger engine session: {message}{where}", file=sys.stderr)
        return 1
    if result and isinstance(exc, dagger.DaggerError):
        print(f"warning: the engine session ended with an error after the run: {exc}", file=sys.stderr)
        return result[0]
    message = " ".join(str(exc).split())[:300]
    print(f"error: engine session: {type(exc).__name__}: {message}{where}", file=sys.stderr)
    return 1

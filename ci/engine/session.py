"""The engine session: where its progress output goes, and what happens when the engine dies.

Why the log file: dagger-io 0.19.10 starts `dagger session` with stderr=PIPE when
Config.log_output is None and never reads that pipe. Once the engine's progress output passes the
64 KiB pipe buffer (any cold image build does), the CLI blocks on a write, and closing the session
then waits the SDK's full 300 s before raising subprocess.TimeoutExpired. Always giving the session
somewhere to write (a log file kept for post-mortems, and the terminal too when asked) keeps the
pipe drained; a session then closes in about a second. The log shows commands and their output, so
it is a new file readable by its owner only, in a directory that is ours (never a planted link).

Why streaming keeps the file too: in CI the progress must be in the job log as it happens (`--log`
/ TFCI_DAGGER_LOG=1: the plain progress the CLI writes when its output is not a terminal), and the
same log must survive to be uploaded when the job fails. A thread copies the CLI's output to stderr
and to the log file, line by line. Under GitHub Actions the pipeline folds each image's lines into
a group of the job log (`log_group`).

Why a connect bound and an engine check first: with the engine address on a closed port the CLI
retried silently for minutes (300 s here) before the SDK gave up, and with no engine configured
and no Docker it failed with "Failed to download the Dagger CLI" although a `dagger` CLI was on
PATH. Now a tcp:// or unix:// engine is probed before the session starts, the session must connect
within CONNECT_TIMEOUT_S, a `dagger` on PATH is used when none is configured, and every failure is
one line naming what was tried and the flag or variable that points at an engine. `dagger
session` ignores SIGTERM: it is SIGKILLed when the command ends any other way than normally.

Why a watchdog (ci.engine.watchdog): an engine that dies mid-build would otherwise hang the session
for minutes; the watchdog ends it within seconds with one line naming the lost engine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

import anyio

from ci.engine.watchdog import (
    RUNNER_HOST_ENV,
    Probe,
    SocketProbe,
    kill_session_children,
    probe_for,
    session_children,
    watch_engine,
)
from ci.model.outputs import private_dir

if TYPE_CHECKING:
    from ci.engine.remote import RemoteSession

CLI_BIN_ENV = "_EXPERIMENTAL_DAGGER_CLI_BIN"
SESSION_PORT_ENV = "DAGGER_SESSION_PORT"  # set under `dagger run`: the session exists already
LOG_ENV = "TFCI_DAGGER_LOG"  # set to 1: stream engine progress to stderr (the file is kept too)
LOG_DIR_ENV = "TFCI_LOG_DIR"  # where session logs go (default: $TMPDIR/tfimages-ci)
GITHUB_ACTIONS_ENV = "GITHUB_ACTIONS"  # "true" in every GitHub Actions step
ENGINE_WAIT_S = 5.0  # an engine that is starting gets this long to accept connections
CONNECT_TIMEOUT_S = 20.0  # then the session must be connected (with start-up: one line within 30 s)
# Runner schemes whose first start may pull an engine image (minutes): no connect bound for them.
PROVISIONING_SCHEMES = ("image", "container", "docker-image", "docker-container")


def log_dir() -> Path:
    return Path(os.environ.get(LOG_DIR_ENV) or Path(tempfile.gettempdir()) / "tfimages-ci")


def streaming(verbose: bool = False) -> bool:
    """Progress to stderr as it happens (--log, or TFCI_DAGGER_LOG=1)?"""
    return verbose or os.environ.get(LOG_ENV, "") not in ("", "0")


def _log_file() -> tuple[TextIO, Path]:
    """A new log file (O_EXCL, never a link: O_NOFOLLOW), 0600, created relative to a directory that
    is ours and 0700 (ci.model.outputs.private_dir), so a file or link another user planted under
    $TMPDIR is never opened or overwritten."""
    directory = log_dir()
    dir_fd = private_dir(directory, f"${LOG_DIR_ENV} (or $TMPDIR)")
    try:
        name = f"dagger-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        while True:
            try:
                fd = os.open(name, flags, 0o600, dir_fd=dir_fd)
                break
            except FileExistsError:  # taken (or planted): another name, never that file
                name = f"dagger-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(4)}.log"
    finally:
        os.close(dir_fd)
    return os.fdopen(fd, "w", encoding="utf-8"), directory / name


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


# --------------------------------------------------------------------------- before the session


@dataclass(frozen=True)
class EngineTarget:
    """Which engine a session will use, and what the user set to choose it (for messages)."""

    address: str | None  # None: the dagger CLI's default (it starts one with Docker)
    origin: str

    @property
    def scheme(self) -> str:
        return urlsplit(self.address).scheme if self.address else ""

    def hint(self) -> str:
        return (
            "point --engine (or $_EXPERIMENTAL_DAGGER_RUNNER_HOST) at a running engine, e.g. tcp://HOST:1234"
        )


def engine_target(flag_given: bool) -> EngineTarget:
    host = os.environ.get(RUNNER_HOST_ENV) or None
    if host is None:
        return EngineTarget(None, "no engine configured: the dagger CLI's default, which needs Docker")
    return EngineTarget(host, "--engine" if flag_given else f"${RUNNER_HOST_ENV}")


def check_engine(target: EngineTarget, wait: float | None = None) -> str | None:
    """None when the engine can be tried; else the one line saying why not (before any session)."""
    if target.scheme not in ("tcp", "unix") or target.address is None:
        return None
    wait = ENGINE_WAIT_S if wait is None else wait
    deadline = time.monotonic() + wait
    probe = SocketProbe(target.address)
    while not probe.answers(timeout=min(2.0, max(wait, 0.1))):
        if time.monotonic() >= deadline:
            return (
                f"error: no Dagger engine answers at {target.address} (from {target.origin}); "
                f"start it, or {target.hint()}"
            )
        time.sleep(0.5)
    return None


@contextmanager
def dagger_cli() -> Iterator[None]:
    """With no CLI configured, the `dagger` on PATH (the SDK would otherwise download one)."""
    if os.environ.get(CLI_BIN_ENV) or os.environ.get(SESSION_PORT_ENV) or shutil.which("dagger") is None:
        yield
        return
    os.environ[CLI_BIN_ENV] = str(shutil.which("dagger"))
    try:
        yield
    finally:
        os.environ.pop(CLI_BIN_ENV, None)


# --------------------------------------------------------------------------- the session


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
    connected = threading.Event()
    timed_out = threading.Event()
    # Sessions of this process that exist already are not ours to kill (tests run commands in-process
    # beside a session of their own).
    spare = frozenset(session_children())

    async def main(log: TextIO, probe: Probe | None) -> int:
        config = dagger.Config(log_output=log, execute_timeout=None)
        async with dagger.connection(config), anyio.create_task_group() as tasks:
            connected.set()
            if probe is not None:
                tasks.start_soon(watch_engine, probe, lost, tasks.cancel_scope, spare)
            result.append(await body())
            await remote.mark()
            tasks.cancel_scope.cancel()
        return result[0]

    def give_up_connecting() -> None:
        if not connected.is_set():
            timed_out.set()
            kill_session_children(spare)  # the SDK then reads EOF instead of waiting for the CLI

    with remote.session_env(), dagger_cli(), session_log(sys.stderr, verbose=verbose) as (log, log_path):
        where = f"; engine progress log: {log_path}"
        target = engine_target(remote.engine is not None)
        if os.environ.get(SESSION_PORT_ENV) is None:
            refused = check_engine(target)
            if refused is not None:
                print(refused, file=sys.stderr)
                return 1
        probe = probe_for()
        if streaming(verbose):
            watched = f"watchdog probing {probe.address}" if probe else "no watchdog for this address"
            print(f"engine: {target.address or 'the CLI default'} ({watched})", file=sys.stderr)
        timer = threading.Timer(CONNECT_TIMEOUT_S, give_up_connecting)
        timer.daemon = True
        if target.scheme not in PROVISIONING_SCHEMES and target.address is not None:
            timer.start()
        try:
            code = anyio.run(main, log, probe)
        except Exception as exc:
            if timed_out.is_set():
                print(
                    f"error: the Dagger engine at {target.address} (from {target.origin}) did not accept a "
                    f"session within {CONNECT_TIMEOUT_S:.0f} s; {target.hint()}{where}",
                    file=sys.stderr,
                )
                return 1
            return _session_failure(_unwrap(exc), result, lost, where, target)
        finally:
            timer.cancel()
            kill_session_children(spare)  # normally gone already; never left behind
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


def _session_failure(
    exc: Exception, result: list[int], lost: list[str], where: str, target: EngineTarget
) -> int:
    import dagger
    from dagger.provisioning import _exceptions as provisioning

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
        print(
            f"error: cannot reach the Dagger engine ({target.address or 'CLI default'}, from "
            f"{target.origin}): {' '.join(str(exc).split())[:300]}; {target.hint()}{where}",
            file=sys.stderr,
        )
        return 1
    if isinstance(exc, provisioning.DownloadError):
        print(
            f"error: {' '.join(str(exc).split())[:300]}; install the dagger CLI (v0.19.10) on PATH or set "
            f"${CLI_BIN_ENV} to it, and {target.hint()}",
            file=sys.stderr,
        )
        return 1
    if isinstance(exc, dagger.ProvisionError):
        message = " ".join(str(exc).split())[:300]
        what = "close (a cache export runs then)" if result else "start"
        cli = os.environ.get(CLI_BIN_ENV) or "downloaded by the SDK"
        hint = (
            ""
            if result
            else f" (dagger CLI: {cli}; engine: {target.address or 'CLI default'}, from {target.origin}; "
            f"{target.hint()})"
        )
        print(f"error: cannot {what} the Dagger engine session: {message}{hint}{where}", file=sys.stderr)
        return 1
    if result and isinstance(exc, dagger.DaggerError):
        print(f"warning: the engine session ended with an error after the run: {exc}", file=sys.stderr)
        return result[0]
    message = " ".join(str(exc).split())[:300]
    print(f"error: engine session: {type(exc).__name__}: {message}{where}", file=sys.stderr)
    return 1

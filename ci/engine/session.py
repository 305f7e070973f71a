"""The engine session: where its progress output goes, and what happens when the engine dies.

Why the log file: dagger-io 0.19.10 starts `dagger session` with stderr=PIPE when
Config.log_output is None and never reads that pipe. Once the engine's progress output passes the
64 KiB pipe buffer (any cold image build does), the CLI blocks on a write, and closing the session
then waits the SDK's full 300 s before raising subprocess.TimeoutExpired. Always giving the session
somewhere to write (the terminal when asked, else a log file kept for post-mortems) keeps the pipe
drained; a session then closes in about a second. The log shows commands and their output, so it is
created readable by its owner only (0600 in a 0700 directory).

Why a connect bound and an engine check first: with the engine address on a closed port the CLI
retried silently for minutes (300 s here) before the SDK gave up, and with no engine configured
and no Docker it failed with "Failed to download the Dagger CLI" although a `dagger` CLI was on
PATH. Now a tcp:// or unix:// engine is probed before the session starts, the session must connect
within CONNECT_TIMEOUT_S, a `dagger` on PATH is used when none is configured, and every failure is
one line naming what was tried and the flag or variable that points at an engine. `dagger
session` ignores SIGTERM: it is SIGKILLed when the command ends any other way than normally.

Why a watchdog: when the engine itself dies mid-build (an out-of-memory kill on a CI runner), the
SDK neither notices nor gives up: queries hang or retry, and closing the session waits 300 s more
for a CLI that cannot reach its engine. While a session runs, the watchdog probes the engine's
address (tcp:// and unix:// runner hosts); when it stops answering, the watchdog kills the session
CLI and cancels the work, so the command ends within seconds with one line naming the lost engine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

import anyio

from ci.model.outputs import private_dir

if TYPE_CHECKING:
    from ci.engine.remote import RemoteSession

CLI_BIN_ENV = "_EXPERIMENTAL_DAGGER_CLI_BIN"
SESSION_PORT_ENV = "DAGGER_SESSION_PORT"  # set under `dagger run`: the session exists already
LOG_ENV = "TFCI_DAGGER_LOG"  # set to 1: stream engine progress to stderr instead of a file
LOG_DIR_ENV = "TFCI_LOG_DIR"  # where session logs go (default: $TMPDIR/tfimages-ci)
RUNNER_HOST_ENV = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
PROBE_INTERVAL_S = 2.0
PROBE_FAILURES = 3  # consecutive failed probes before the engine counts as lost (about 6 s)
ENGINE_WAIT_S = 5.0  # an engine that is starting gets this long to accept connections
CONNECT_TIMEOUT_S = 20.0  # then the session must be connected (with start-up: one line within 30 s)
# Runner schemes whose first start may pull an engine image (minutes): no connect bound for them.
PROVISIONING_SCHEMES = ("image", "container", "docker-image", "docker-container")


def log_dir() -> Path:
    return Path(os.environ.get(LOG_DIR_ENV) or Path(tempfile.gettempdir()) / "tfimages-ci")


@contextmanager
def session_log(stderr: TextIO, *, verbose: bool = False) -> Iterator[tuple[TextIO, Path | None]]:
    """Yield (stream for dagger.Config.log_output, log file path or None when streaming).

    The log shows commands and their output: it is a new file (O_EXCL, never a link: O_NOFOLLOW),
    0600, created relative to a directory that is ours and 0700 (ci.model.outputs.private_dir), so
    a file or link another user planted under $TMPDIR is never opened or overwritten.
    """
    if verbose or os.environ.get(LOG_ENV, "") not in ("", "0"):
        yield stderr, None
        return
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
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        yield stream, directory / name


# --------------------------------------------------------------------------- engine watchdog


def engine_address() -> str | None:
    """The runner host the session CLI will use, when it is one the watchdog can probe."""
    host = os.environ.get(RUNNER_HOST_ENV, "")
    scheme = urlsplit(host).scheme
    return host if scheme in ("tcp", "unix") else None


def engine_answers(address: str, timeout: float = 2.0) -> bool:
    """True when something accepts connections at the engine's address."""
    parts = urlsplit(address)
    try:
        if parts.scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(parts.path)
        else:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1234), timeout):
                pass
    except OSError:
        return False
    return True


def kill_session_children() -> None:
    """SIGKILL our `dagger session` children: it ignores SIGTERM, and must never outlive us."""
    for pid in _session_children():
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


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
    while not engine_answers(target.address, timeout=min(2.0, max(wait, 0.1))):
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


def _session_children() -> list[int]:
    """Our `dagger session` child processes (Linux /proc); killed when the engine is lost."""
    me = os.getpid()
    found: list[int] = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and b"session" in cmdline and any(arg.endswith(b"dagger") for arg in cmdline[:1]):
            found.append(int(entry.name))
    return found


async def watch_engine(address: str, lost: list[str], cancel: anyio.CancelScope) -> None:
    """Probe the engine until cancelled; on loss, record it, kill the session CLI, cancel the work."""
    failures = 0
    while True:
        await anyio.sleep(PROBE_INTERVAL_S)
        ok = await anyio.to_thread.run_sync(engine_answers, address)
        failures = 0 if ok else failures + 1
        if failures >= PROBE_FAILURES:
            lost.append(address)
            kill_session_children()
            cancel.cancel()
            return


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

    async def main(log: TextIO, address: str | None) -> int:
        config = dagger.Config(log_output=log, execute_timeout=None)
        async with dagger.connection(config), anyio.create_task_group() as group:
            connected.set()
            if address is not None:
                group.start_soon(watch_engine, address, lost, group.cancel_scope)
            result.append(await body())
            await remote.mark()
            group.cancel_scope.cancel()
        return result[0]

    def give_up_connecting() -> None:
        if not connected.is_set():
            timed_out.set()
            kill_session_children()  # the SDK then reads EOF instead of waiting for the CLI

    with remote.session_env(), dagger_cli(), session_log(sys.stderr, verbose=verbose) as (log, log_path):
        where = f"; engine progress log: {log_path}" if log_path is not None else ""
        target = engine_target(remote.engine is not None)
        if os.environ.get(SESSION_PORT_ENV) is None:
            refused = check_engine(target)
            if refused is not None:
                print(refused, file=sys.stderr)
                return 1
        timer = threading.Timer(CONNECT_TIMEOUT_S, give_up_connecting)
        timer.daemon = True
        if target.scheme not in PROVISIONING_SCHEMES and target.address is not None:
            timer.start()
        try:
            code = anyio.run(main, log, engine_address())
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
            kill_session_children()  # normally gone already; never left behind
        if lost:
            print(_lost_line(lost[0], where), file=sys.stderr)
            return 1
    if result and remote.exporting and not remote.report(sys.stdout) and code == 0:
        code = 1  # the images are fine, but the cache export asked for did not happen
    if code != 0 and log_path is not None:
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

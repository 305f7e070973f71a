"""Is the Dagger engine still there? A probe per kind of engine address, and the watchdog loop.

Why: when the engine dies mid-build (an out-of-memory kill on a CI runner), the SDK neither notices
nor gives up: queries hang or retry, and closing the session waits 300 s more for a CLI that cannot
reach its engine. While a session runs, the watchdog probes the engine; when it stops answering,
the watchdog kills the session CLI and cancels the work, so the command ends within seconds with
one line naming the lost engine.

Which engine the session CLI uses (dagger v0.19.10, cmd/dagger/engine.go and
engine/client/drivers/container.go):

- `_EXPERIMENTAL_DAGGER_RUNNER_HOST=tcp://...` / `unix://...` (this project's stack, a shared
  engine): probed by connecting to it;
- `docker-container://NAME`, `container://NAME` (+podman, +nerdctl, +finch): the engine runs in
  that container;
- `image://REF` (and `docker-image://`), and the CLI's default when no runner host is set, which is
  `image://registry.dagger.io/engine:v<version>`: the CLI starts a container named
  `dagger-engine-<tag>` (or `dagger-engine-<first 16 hex of the digest>`, or `?container=NAME`)
  with `--restart always` and talks to it through `docker exec`. That is the engine of a GitHub
  runner where dagger/dagger-for-github only installed the CLI: no socket to connect to, so the
  probe asks the container runtime whether the container still runs and has not restarted since
  the first look (an engine killed for memory comes back as a new process, and the session's
  connection to the old one is gone);
- `dagger run` starts the session itself: the SDK then talks to the parent CLI's session, whose
  engine is the one the same variables name (the parent inherits them), so the same rules apply.

Other schemes (ssh://, kube-pod://, tls://, dagger-cloud://) are not probed: no watchdog.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Collection, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import anyio

RUNNER_HOST_ENV = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
GPU_SUPPORT_ENV = "_EXPERIMENTAL_DAGGER_GPU_SUPPORT"
ENGINE_IMAGE = "registry.dagger.io/engine"  # the CLI's default engine image repository
CONTAINER_PREFIX = "dagger-engine-"  # the name the image driver gives the engine's container
PROBE_INTERVAL_S = 2.0
PROBE_FAILURES = 3  # consecutive failed probes before the engine counts as lost (about 6 s)
# Container runtimes, in the order the CLI's `image` and `container` drivers try them.
RUNTIMES = ("docker", "podman", "nerdctl", "finch")


@dataclass(frozen=True)
class SocketProbe:
    """tcp:// or unix://: something accepts connections at the engine's address."""

    address: str

    def answers(self, timeout: float = 2.0) -> bool:
        parts = urlsplit(self.address)
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


@dataclass
class ContainerProbe:
    """An engine in a container: it runs, and it is the same start as at the first look."""

    runtime: str  # docker, podman, ...
    container: str
    started: str | None = field(default=None, compare=False)  # State.StartedAt at the first look

    @property
    def address(self) -> str:
        return f"{self.runtime} container {self.container}"

    def answers(self, timeout: float = 10.0) -> bool:
        state = "{{.State.Running}} {{.State.StartedAt}}"
        argv = [self.runtime, "inspect", "--format", state, self.container]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        running, _, started = done.stdout.strip().partition(" ")
        if done.returncode != 0 or running != "true":
            return False
        if self.started is None:
            self.started = started
        return started == self.started  # a restarted engine lost every session it had


Probe = SocketProbe | ContainerProbe


def default_runner_host(env: Mapping[str, str]) -> str:
    """What the CLI uses when no runner host is set: the engine image of its own version."""
    try:
        tag = "v" + version("dagger-io")  # the CLI must be the SDK's version (checked by the workflow)
    except PackageNotFoundError:
        tag = "latest"
    return f"image://{ENGINE_IMAGE}:{tag}{'-gpu' if env.get(GPU_SUPPORT_ENV) else ''}"


def image_container(ref: str, query: Mapping[str, list[str]]) -> str:
    """The container name the image driver gives an engine image (resolveImageID in the CLI)."""
    if query.get("container"):
        return query["container"][0]
    if "@sha256:" in ref:
        return CONTAINER_PREFIX + ref.rpartition("@sha256:")[2][:16]
    last = ref.rpartition("/")[2]
    return CONTAINER_PREFIX + (last.rpartition(":")[2] if ":" in last else "latest")


def probe_for(
    env: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which
) -> Probe | None:
    """The probe for the engine the session CLI will use, or None when it cannot be probed."""
    env = os.environ if env is None else env
    host = env.get(RUNNER_HOST_ENV, "") or default_runner_host(env)
    parts = urlsplit(host)
    kind, _, named_runtime = parts.scheme.partition("+")
    if kind in ("tcp", "unix"):
        return SocketProbe(host)
    kind = {"docker-image": "image", "docker-container": "container"}.get(parts.scheme, kind)
    if kind not in ("image", "container"):
        return None
    if named_runtime:
        candidates: tuple[str, ...] = (named_runtime,)
    else:
        candidates = ("docker",) if parts.scheme.startswith("docker") else RUNTIMES
    runtime = next((r for r in candidates if which(r)), None)
    if runtime is None:
        return None
    if kind == "container":
        return ContainerProbe(runtime, parts.netloc)
    return ContainerProbe(runtime, image_container(parts.netloc + parts.path, parse_qs(parts.query)))


def session_children() -> list[int]:
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


def kill_session_children(spare: Collection[int] = ()) -> None:
    """SIGKILL our `dagger session` children but those in `spare`: it ignores SIGTERM, and must
    never outlive us. `spare`: sessions that were running before ours started (a test process's
    own long-lived session must survive the commands it runs in-process)."""
    for pid in session_children():
        if pid in spare:
            continue
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def watch_engine(
    probe: Probe, lost: list[str], cancel: anyio.CancelScope, spare: Collection[int] = ()
) -> None:
    """Probe the engine until cancelled; on loss, record it, kill the session CLI, cancel the work."""
    failures = 0
    while True:
        await anyio.sleep(PROBE_INTERVAL_S)
        ok = await anyio.to_thread.run_sync(probe.answers)
        failures = 0 if ok else failures + 1
        if failures >= PROBE_FAILURES:
            lost.append(probe.address)
            kill_session_children(spare)
            cancel.cancel()
            return

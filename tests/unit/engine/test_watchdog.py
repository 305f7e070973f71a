"""Which engine the session CLI talks to, and how the watchdog tells that it is gone.

The rules follow dagger v0.19.10's CLI (see ci/engine/watchdog.py): a GitHub runner with only the
CLI installed gets `image://registry.dagger.io/engine:v<version>`, a container the CLI names
`dagger-engine-<tag>`; the watchdog used to give up on every address but tcp:// and unix://.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from importlib.metadata import version
from pathlib import Path

import anyio
import pytest

from ci.engine import watchdog
from ci.engine.watchdog import ContainerProbe, SocketProbe, probe_for


def _only(*runtimes: str) -> object:
    return lambda name: f"/usr/bin/{name}" if name in runtimes else None


@pytest.mark.parametrize(
    ("host", "runtimes", "expected"),
    [
        ("tcp://127.0.0.1:1234", (), SocketProbe("tcp://127.0.0.1:1234")),
        ("unix:///run/dagger/engine.sock", (), SocketProbe("unix:///run/dagger/engine.sock")),
        ("", ("docker",), ContainerProbe("docker", f"dagger-engine-v{version('dagger-io')}")),
        (
            "image://registry.dagger.io/engine:v0.19.10",
            ("podman",),
            ContainerProbe("podman", "dagger-engine-v0.19.10"),
        ),
        (
            "image://registry.dagger.io/engine@sha256:" + "0123456789abcdef" * 4,
            ("docker",),
            ContainerProbe("docker", "dagger-engine-0123456789abcdef"),
        ),
        (
            "image://registry.dagger.io/engine:v0.19.10?container=ci-engine",
            ("docker",),
            ContainerProbe("docker", "ci-engine"),
        ),
        (
            "docker-image://registry.dagger.io/engine:v0.19.10",
            ("docker", "podman"),
            ContainerProbe("docker", "dagger-engine-v0.19.10"),
        ),
        ("docker-container://my-engine", ("docker",), ContainerProbe("docker", "my-engine")),
        ("container+podman://my-engine", ("docker", "podman"), ContainerProbe("podman", "my-engine")),
        ("", (), None),  # no container runtime on PATH: nothing to ask
        ("docker-container://my-engine", ("podman",), None),
        ("ssh://user@host", ("docker",), None),
        ("kube-pod://dagger-engine-0", ("docker",), None),
    ],
)
def test_the_probe_follows_the_clis_choice_of_engine(
    host: str, runtimes: tuple[str, ...], expected: object
) -> None:
    env = {"_EXPERIMENTAL_DAGGER_RUNNER_HOST": host} if host else {}
    assert probe_for(env, which=_only(*runtimes)) == expected  # type: ignore[arg-type]


def test_a_gpu_engine_is_the_gpu_image() -> None:
    probe = probe_for({"_EXPERIMENTAL_DAGGER_GPU_SUPPORT": "1"}, which=_only("docker"))  # type: ignore[arg-type]
    assert probe == ContainerProbe("docker", f"dagger-engine-v{version('dagger-io')}-gpu")


def test_socket_probe_against_a_real_listener(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        assert SocketProbe(address).answers()
    assert not SocketProbe(address).answers()
    path = tmp_path / "engine.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        assert SocketProbe(f"unix://{path}").answers()
    assert not SocketProbe(f"unix://{path}").answers()


def _runtime(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for `docker inspect --format '{{.State.Running}} {{.State.StartedAt}}' NAME`
    (no container runtime on this machine): it prints the state file, or fails like docker does
    for a container that does not exist."""
    state = tmp_path / "state"
    script = tmp_path / "docker"
    script.write_text(
        '#!/bin/sh\n[ "$1 $2 $4" = "inspect --format dagger-engine-v0.19.10" ] || exit 64\n'
        f'[ -s {state} ] || {{ echo "Error: No such object: $4" >&2; exit 1; }}\ncat {state}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, state


def test_container_probe_notices_a_stopped_removed_or_restarted_engine(tmp_path: Path) -> None:
    script, state = _runtime(tmp_path)
    probe = ContainerProbe(str(script), "dagger-engine-v0.19.10")
    state.write_text("true 2026-12-01T10:00:00.1Z\n")
    assert probe.answers()
    assert probe.answers()
    state.write_text("true 2026-12-01T10:05:00.2Z\n")  # `--restart always` brought a new engine up
    assert not probe.answers()
    state.write_text("false 2026-12-01T10:00:00.1Z\n")
    assert not probe.answers()
    state.write_text("")
    assert not probe.answers()
    assert probe.address == f"{script} container dagger-engine-v0.19.10"


def test_the_watchdog_cancels_the_work_when_the_engine_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchdog, "PROBE_INTERVAL_S", 0.05)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    probe = SocketProbe(f"tcp://127.0.0.1:{server.getsockname()[1]}")
    threading.Timer(0.3, server.close).start()
    lost: list[str] = []
    # As run_session does: sessions that exist already (the test run's own, when the e2e tests share
    # this process) are not this "build's" to kill.
    spare = frozenset(watchdog.session_children())

    async def main() -> bool:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(watchdog.watch_engine, probe, lost, tasks.cancel_scope, spare)
                await anyio.sleep(60)  # the build: never finishes by itself
        return True

    assert anyio.run(main)
    assert lost == [probe.address]
    assert os.getpid()  # the test process itself is untouched


def test_only_the_sessions_this_run_started_are_killed(tmp_path: Path) -> None:
    """A test process keeps one `dagger session` for the whole run and runs commands in-process;
    a command's clean-up killed every session child, the test run's own too (its teardown then
    failed with SIGKILL)."""
    # Processes that look like the SDK's `dagger session` (argv[0] .../dagger, a `session` word):
    # Python, asleep, started under that name.
    sleeper = ["-c", "import time; time.sleep(60)", "session"]
    before = set(watchdog.session_children())  # the test run's own session, when there is one
    older = subprocess.Popen([str(tmp_path / "dagger"), *sleeper], executable=sys.executable)
    ours = subprocess.Popen([str(tmp_path / "dagger"), *sleeper], executable=sys.executable)
    try:
        assert {older.pid, ours.pid} <= set(watchdog.session_children())
        watchdog.kill_session_children(spare=before | {older.pid})
        assert ours.wait(timeout=10) == -9
        assert older.poll() is None
    finally:
        older.kill()
        ours.kill()
        older.wait()
        ours.wait()

"""The engine dies mid-build (as an out-of-memory kill on a CI runner would): the command must say so.

Why a fresh engine instance of its own (tests/infra/engines.py): the test kills the engine for real,
with SIGKILL, and other tests and sessions use the shared one. Before the watchdog in ci/engine/session.py,
this ended after about five minutes with `RetryError[... TransportServerError]` and no word about the
engine; now it must end within a minute, with one line naming the lost engine and the progress log,
having pushed nothing, and a re-run on the restarted engine must complete.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ci.model.refs import parse as parse_reference
from ci.registry.skopeo import Registries
from tests.conftest import Infra
from tests.e2e import specs
from tests.e2e.test_release import ThrowawayRegistry
from tests.infra.engines import EngineInstance

pytestmark = [pytest.mark.engine]

REPO = Path(__file__).resolve().parents[2]


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def test_engine_killed_mid_build(
    infra: Infra, fresh_engine: Callable[..., EngineInstance], tmp_path: Path
) -> None:
    engine = fresh_engine("lost")
    (tmp_path / "registry").mkdir()
    registry = ThrowawayRegistry(tmp_path / "registry")
    registry.start()
    repository = f"{registry.address}/tfci-e2e/lost"
    log_dir = tmp_path / "logs"
    env = {**os.environ, **engine.env, "TFCI_LOG_DIR": str(log_dir)}
    args = [
        sys.executable, str(REPO / "ci" / "main.py"), "build", *specs.CPU_CLI_ARGS,
        "--ca-cert", str(infra.ca_bundle), "--skip-service-checks",
        "--publish", repository, "--plain-http", registry.address,
    ]  # fmt: skip
    try:
        build = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

        def running_an_exec() -> bool:
            return any("withExec" in log.read_text(errors="replace") for log in log_dir.glob("dagger-*.log"))

        _wait_for(running_an_exec, 300, "the build to start its first exec")
        pid = engine.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the engine only: its containers die with it
        killed = time.monotonic()
        stdout, stderr = build.communicate(timeout=120)
        took = time.monotonic() - killed
        assert build.returncode == 1, stdout + stderr
        assert took < 60, f"the command needed {took:.0f}s to notice the lost engine"
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, stderr
        assert errors[0].startswith(f"error: lost the Dagger engine at {engine.runner_host}")
        assert "engine progress log: " in errors[0]
        assert str(log_dir) in errors[0]
        assert "Traceback" not in stdout + stderr
        assert "RetryError" not in stdout + stderr
        tag = specs.cpu_spec().tag
        with Registries(plain_http=frozenset({registry.address})) as client:
            assert client.digest(parse_reference(f"{repository}:{tag}")) is None, "something was pushed"

            engine.start()  # the same state: whatever the engine finished before it died is reused
            rerun = subprocess.run(
                args, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600, check=False
            )
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
            assert client.digest(parse_reference(f"{repository}:{tag}")) is not None
    finally:
        registry.kill()

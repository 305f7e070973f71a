"""The README's one command for a machine without Docker builds and checks the CPU image.

Why without the engine variable: the script must find the project's own stack itself (it is up
here, started by the session fixture, so the script neither starts nor stops it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Infra
from tests.e2e import specs

pytestmark = [pytest.mark.engine]

SCRIPT = Path(__file__).resolve().parents[2] / "tests" / "infra" / "local-build.sh"


def test_one_command_builds_and_checks_an_image(infra: Infra) -> None:
    env = {k: v for k, v in os.environ.items() if k != "_EXPERIMENTAL_DAGGER_RUNNER_HOST"}
    done = subprocess.run(
        # linux/amd64 only: the suite builds its one emulated (arm64) image in tests/e2e/test_platforms.py
        ["bash", str(SCRIPT), "--tf", specs.CPU_REQUEST.tf, "--variant", "cpu", "--skip-service-checks",
         "--platform", "linux/amd64"],
        env=env, text=True, capture_output=True, timeout=1800, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "using the running offline stack" in done.stderr
    assert f"{specs.cpu_spec().tag} (linux/amd64): PASSED" in done.stdout
    assert "all 1 image(s) passed" in done.stdout

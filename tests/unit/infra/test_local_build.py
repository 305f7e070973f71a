"""tests/infra/local-build.sh: the one-command build on a machine without Docker picks the
offline-capable options only where the user gave none (no engine needed: a bad --tf stops the
build before it connects). The real build through it runs in tests/e2e/test_local_build.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "tests" / "infra" / "local-build.sh"


def build_line(*argv: str) -> tuple[int, str, str]:
    env = {**os.environ, "_EXPERIMENTAL_DAGGER_RUNNER_HOST": "tcp://127.0.0.1:9"}
    done = subprocess.run(["bash", str(SCRIPT), *argv], env=env, text=True, capture_output=True, check=False)
    line = next(x for x in done.stderr.splitlines() if "python ci/main.py build" in x)
    return done.returncode, line.split("python ci/main.py build ", 1)[1], done.stderr


def test_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)")
    done = subprocess.run(["shellcheck", str(SCRIPT)], text=True, capture_output=True, check=False)
    assert done.returncode == 0, done.stdout


def test_offline_defaults_are_added() -> None:
    code, args, err = build_line("--tf", "9.9.9", "--variant", "gpu")
    assert args == (
        "--tf 9.9.9 --variant gpu --cuda-source pip --os debian12 --python-source system --python 3.11 "
        "--ca-cert /etc/ssl/certs/ca-certificates.crt"
    )
    assert code == 2
    assert "error: --tf" in err


def test_the_users_choices_win() -> None:
    _, args, _ = build_line(
        "--tf", "9.9.9", "--os", "ubuntu22.04", "--python-source", "miniconda", "--ca-cert=/etc/hosts"
    )
    assert args == "--tf 9.9.9 --os ubuntu22.04 --python-source miniconda --ca-cert=/etc/hosts"
    _, args, _ = build_line("--tf", "9.9.9", "--python", "3.10", "--variant", "gpu", "--cuda-source", "base")
    assert args == "--tf 9.9.9 --python 3.10 --variant gpu --cuda-source base --python-source system " + (
        "--ca-cert /etc/ssl/certs/ca-certificates.crt"
    )

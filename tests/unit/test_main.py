"""The entry points ci/main.py and ci/__main__.py: `python ci/main.py` and `python -m ci` as subprocesses,
from any directory, fast and without importing dagger."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.unit.conftest import SEED_TAG

REPO = Path(__file__).resolve().parents[2]


def _script(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_script_plan_from_the_repo_root() -> None:
    result = _script("plan")
    assert result.returncode == 0, result.stderr
    assert SEED_TAG in result.stdout
    assert "tested with CUDA 12.2 / cuDNN 8.9" in result.stderr


def test_script_finds_the_table_from_any_cwd(tmp_path: Path) -> None:
    result = _script("plan", "--all", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert any(item["tag"] == SEED_TAG for item in json.loads(result.stdout))


def test_python_dash_m_ci() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ci", "matrix"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["include"]


def test_plan_is_fast_and_never_imports_dagger() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); from ci.main import main; "
        "rc = main(['plan', '--all', '--format', 'json']); "
        "assert 'dagger' not in sys.modules, 'dagger imported'; "
        "sys.stderr.write(f'ELAPSED {time.perf_counter() - t}\\n'); sys.exit(rc)"
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    inner = float(result.stderr.split("ELAPSED ")[1].split()[0])
    assert inner < 1.0
    assert wall < 5.0

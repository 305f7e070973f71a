"""`tf-images` installed the way users install tools: a wheel into a fresh venv, and pipx.

Why: run from site-packages there is no repository root, and the command used to fail with
".../site-packages/versions.yaml: cannot read the table" (exit 2) and call itself `ci` in --help.
The wheel now ships the table and context/ (setup.py, ci/model/paths.py). Both installs are made
outside the checkout, from a copy of its files (as a user's clone), with the dependencies from a
local wheelhouse (tests/infra/wheels.py) so no index is asked.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra import wheels

pytestmark = pytest.mark.network  # the wheelhouse is downloaded once per set of requirements

REPO = Path(__file__).resolve().parents[2]


def _run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def _offline_pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV"))}
    return {**env, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels.wheelhouse())}


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout's files (tracked and new, not ignored) where a user would have their clone."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout  # fmt: skip
    dest = tmp_path_factory.mktemp("clone")
    for name in filter(None, listed.decode().split("\0")):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed_wheel(clone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel` of the clone, installed into a fresh venv; returns the venv's bin/."""
    out = tmp_path_factory.mktemp("dist")
    env = _offline_pip_env()
    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, ".", cwd=clone, env=env)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = out.glob("tf_images-*.whl")
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    assert _run(sys.executable, "-m", "venv", venv, cwd=out).returncode == 0
    done = _run(venv / "bin" / "pip", "install", "--no-compile", wheel, cwd=out, env=_offline_pip_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin"


def test_the_installed_command_plans_every_target_like_the_checkout(
    installed_wheel: Path, tmp_path: Path
) -> None:
    planned = _run(installed_wheel / "tf-images", "plan", "--all", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    reference = _run(sys.executable, REPO / "ci" / "main.py", "plan", "--all", cwd=REPO)
    assert planned.stdout == reference.stdout
    assert "2.15.0-python3.10-cpu-ubuntu22.04" in planned.stdout
    matrix = _run(installed_wheel / "tf-images", "matrix", cwd=tmp_path)
    assert matrix.returncode == 0
    assert '"include"' in matrix.stdout


def test_help_names_tf_images_and_the_shipped_files(installed_wheel: Path, tmp_path: Path) -> None:
    shown = _run(installed_wheel / "tf-images", "--help", cwd=tmp_path)
    assert shown.returncode == 0
    assert shown.stdout.startswith("usage: tf-images ")
    build_help = _run(installed_wheel / "tf-images", "build", "--help", cwd=tmp_path).stdout
    assert "site-packages/ci/data/context" in "".join(build_help.split())  # argparse wraps it


def test_the_wheel_ships_the_checkouts_table_waivers_and_context(installed_wheel: Path) -> None:
    (data,) = installed_wheel.parent.glob("lib/python*/site-packages/ci/data")
    for name in ("versions.yaml", "vuln-waivers.yaml"):  # the table, and the gate's reviewed waivers
        assert filecmp.cmp(data / name, REPO / name, shallow=False), name
    tracked = subprocess.run(
        ["git", "ls-files", "context"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    shipped = sorted(p.relative_to(data).as_posix() for p in (data / "context").rglob("*") if p.is_file())
    assert shipped == sorted(tracked)
    _, mismatch, errors = filecmp.cmpfiles(data, REPO, tracked, shallow=False)
    assert not mismatch
    assert not errors


def test_users_own_table_and_context(installed_wheel: Path, tmp_path: Path) -> None:
    command = installed_wheel / "tf-images"
    missing = _run(command, "build", "--tf", "2.15.0", "--context", tmp_path, cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert f"--context {tmp_path}: no boot/boot.sh" in missing.stderr
    table = tmp_path / "mine.yaml"
    shutil.copy(REPO / "versions.yaml", table)
    planned = _run(installed_wheel / "tf-images", "--table", table, "plan", "--tf", "2.15.0", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr


def test_pipx_install_from_the_clone(clone: Path, tmp_path: Path) -> None:
    tools = tmp_path / "pipx-venv"
    assert _run(sys.executable, "-m", "venv", tools, cwd=tmp_path).returncode == 0
    env = _offline_pip_env()
    assert _run(tools / "bin" / "pip", "install", "pipx", cwd=tmp_path, env=env).returncode == 0
    env |= {"PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin")}
    env |= {"PIPX_MAN_DIR": str(tmp_path / "man")}
    pip_args = f"--no-index --find-links {wheels.wheelhouse()}"
    done = _run(tools / "bin" / "pipx", "install", f"--pip-args={pip_args}", clone, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    planned = _run(tmp_path / "bin" / "tf-images", "plan", "--all", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert "2.15.0-python3.10-cpu-ubuntu22.04" in planned.stdout

"""The project's dependencies as local wheels, and a site-packages with them installed.

Why: the install test (a wheel and pipx, each into a fresh environment) and the workflow test
(act; every job runs `pip install -e .` in a fresh venv) would otherwise resolve ~40 packages
against PyPI per environment, about a minute each on this machine. Both are built once per set of
requirements (a hash of pyproject.toml's dependency lists and the Python version) under
$TFCI_CACHE/wheels/, like the engine binaries, and reused by every later run:

- `wheelhouse()`: every dependency of `.[dev]`, plus setuptools and wheel (the build backend pip
  installs into its isolated build environment) and pipx, as wheels: `pip install --no-index
  --find-links DIR` then needs no index at all;
- `site_packages()`: those dependencies installed (not the project itself) into one venv whose
  site-packages a fresh venv can see through a .pth file (the act stand-in for setup-python does),
  so `pip install -e .` there finds them installed and only builds the project (their commands,
  ruff, mypy, pytest, stay in that venv's bin/, which the stand-in adds to PATH).

The project itself is never in either: each test installs it the way it tests.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("TFCI_CACHE", "/var/cache/tfimages-ci")) / "wheels"
TOOLS = ("setuptools>=65", "wheel", "pip", "pipx")  # the build backend; pip and pipx for the pipx test


def requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["dev"], *TOOLS]


def _key() -> str:
    text = "\n".join([sys.version.split()[0].rsplit(".", 1)[0], *requirements()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _pip(python: Path, *args: str) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([str(python), "-m", "pip", "-q", *args], check=True, env=env)


def _build_once(final: Path, build: Callable[[Path], None]) -> Path:
    """Build `final` in place once, under a lock; a crashed build (no marker) is started over.

    In place, not renamed afterwards: a venv's scripts name their interpreter by absolute path.
    """
    marker = final.with_name(final.name + ".complete")
    if marker.is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.with_name(final.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run building the same: wait for it
        if not marker.is_file():
            shutil.rmtree(final, ignore_errors=True)
            build(final)
            marker.touch()
    return final


def wheelhouse() -> Path:
    """Every requirement as a wheel (downloads from the index the first time only)."""

    def build(target: Path) -> None:
        _pip(Path(sys.executable), "wheel", "--wheel-dir", str(target), *requirements())

    return _build_once(CACHE / f"wheelhouse-{_key()}", build)


def site_packages() -> Path:
    """The site-packages directory of a venv with every requirement installed (not the project);
    its bin/ (ruff, mypy, pytest) is beside it, at ../../../bin."""

    houses = wheelhouse()

    def build(target: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        _pip(target / "bin" / "python", "install", "--no-index", "--find-links", str(houses), *requirements())

    venv = _build_once(CACHE / f"venv-{_key()}", build)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return venv / "lib" / version / "site-packages"

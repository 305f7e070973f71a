"""Fixtures for engine-free unit tests: the real table, editable copies of it, a CLI runner, and a
fake image root for the scripts in context/."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci.cli.main import main
from ci.model.paths import DEFAULT_TABLE
from ci.model.spec import ImageSpec
from ci.table.load import load_table
from ci.table.resolve import resolve
from ci.table.rows import Table
from tests.e2e.specs import CPU_REQUEST, MULTI_REQUEST
from tests.unit.context_env import make_root

RunCli = Callable[..., tuple[int, str, str]]
WriteTable = Callable[[Any], Path]
# The seed guide's image: `plan` and `matrix` tests look for it.
SEED_TAG = "2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04"


@pytest.fixture(scope="session")
def table() -> Table:
    return load_table()


@pytest.fixture
def cpu_spec(table: Table) -> ImageSpec:
    """The CPU image the e2e tests build (Debian 12, system Python), so unit rules check the same spec."""
    return resolve(table, CPU_REQUEST)


@pytest.fixture
def multi_spec(table: Table) -> ImageSpec:
    """The e2e tests' image of two platforms (2.21.0, linux/amd64 and linux/arm64)."""
    return resolve(table, MULTI_REQUEST)


@pytest.fixture(scope="session")
def _raw_original() -> dict[str, Any]:
    data = yaml.safe_load(DEFAULT_TABLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
def raw_table(_raw_original: dict[str, Any]) -> dict[str, Any]:
    """A fresh, mutable copy of versions.yaml as plain data."""
    return copy.deepcopy(_raw_original)


@pytest.fixture
def write_table(tmp_path: Path) -> WriteTable:
    """Write data (or raw YAML text) to tmp_path/versions.yaml and return its path."""

    def write(data: Any) -> Path:
        path = tmp_path / "versions.yaml"
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def table_copy(tmp_path: Path) -> Path:
    """A copy of versions.yaml in tmp_path, so a test can write a lock file beside it."""
    path = tmp_path / "versions.yaml"
    path.write_text(DEFAULT_TABLE.read_text())
    return path


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """Run ci.main.main in-process; return (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A fake image root for boot.sh/init.py (see tests/unit/context_env.py)."""
    return make_root(tmp_path)


@pytest.fixture(autouse=True)
def _pinned_installer_not_downloaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, table: Table) -> None:
    """Layer functions mount the table's uv binary by path; unit tests never download it.

    The graph the layers build needs the path only (the engine reads the file when it runs the
    exec). ci.build.installer's own tests download and verify a wheel from a local server; other
    pins than the table's go through the real function.
    """
    from ci.build import installer

    real = installer.binary

    def binary(pin: Any, ca_bundle: Path | None = None, **kwargs: Any) -> Path:
        if pin == table.installer:
            return tmp_path / "uv-not-downloaded" / "uv"
        return real(pin, ca_bundle, **kwargs)

    monkeypatch.setattr(installer, "binary", binary)


@pytest.fixture
def recorded_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """`verify` reads the recorded index responses (tests/fixtures/index), never the network."""
    from ci.cli import verify as cli_verify
    from tests.unit.index_fixture import replay_session

    monkeypatch.setattr(cli_verify, "SESSION_FACTORY", replay_session)

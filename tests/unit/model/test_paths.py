"""The pipeline's own files are found from the package, whatever the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.model import paths


def test_the_table_and_the_context_are_in_the_repository() -> None:
    assert paths.DEFAULT_TABLE == paths.REPO / "versions.yaml"
    assert paths.DEFAULT_TABLE.is_file()
    assert paths.CONTEXT_DIR == paths.REPO / "context"
    assert (paths.CONTEXT_DIR / "boot" / "boot.sh").is_file()
    assert (paths.REPO / "ci" / "model" / "paths.py").is_file()


def test_paths_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert paths.REPO.is_absolute()
    assert paths.DEFAULT_TABLE.is_file()
    assert paths.CONTEXT_DIR.is_dir()

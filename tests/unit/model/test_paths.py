"""The pipeline's own files are found from the package, whatever the working directory and
however it was installed (a checkout, or a wheel that ships them as ci/data/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.model import paths


def test_a_checkout_uses_its_own_table_and_context() -> None:
    assert not paths.INSTALLED_DATA.exists()  # a checkout never has ci/data/ (setup.py writes build/)
    assert paths.DATA_ROOT == paths.CHECKOUT
    assert paths.DEFAULT_TABLE == paths.CHECKOUT / "versions.yaml"
    assert paths.DEFAULT_TABLE.is_file()
    assert paths.CONTEXT_DIR == paths.CHECKOUT / "context"
    assert (paths.CONTEXT_DIR / "boot" / "boot.sh").is_file()
    assert (paths.PACKAGE / "model" / "paths.py").is_file()


def test_an_installed_copy_wins_over_the_directory_above_the_package(tmp_path: Path) -> None:
    installed, site = tmp_path / "site-packages" / "ci" / "data", tmp_path / "site-packages"
    assert paths.data_root(installed, site) == site  # nothing shipped: the old, broken fallback
    installed.mkdir(parents=True)
    (installed / "versions.yaml").write_text("schema: 1\n")
    assert paths.data_root(installed, site) == installed


def test_paths_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert paths.DATA_ROOT.is_absolute()
    assert paths.DEFAULT_TABLE.is_file()
    assert paths.CONTEXT_DIR.is_dir()

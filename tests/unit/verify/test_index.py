"""The package index rules: which files install for a Python, ABI and glibc, and the recorded pages
read through pypi-simple."""

from __future__ import annotations

from pathlib import Path

from ci.verify.index import IndexFile, PackageIndex, Target, installable
from tests.unit.index_fixture import replay_session


def _file(filename: str, *, requires_python: str | None = None, yanked: bool = False) -> IndexFile:
    from ci.verify.index import _parse_file

    parsed = _parse_file(filename)
    assert parsed is not None
    version, tags = parsed
    return IndexFile(
        index="https://pypi.org/simple/",
        project=filename.split("-")[0],
        filename=filename,
        url=f"https://files.pythonhosted.org/x/{filename}",
        version=version,
        wheel_tags=tags,
        requires_python=requires_python,
        yanked=yanked,
    )


def test_tags_follow_python_abi_and_glibc() -> None:
    from packaging.specifiers import SpecifierSet

    cp36 = _file("tensorflow_cpu-2.4.4-cp36-cp36m-manylinux2010_x86_64.whl")
    tf221 = _file("tensorflow-2.21.0-cp312-cp312-manylinux_2_27_x86_64.whl")
    pure = _file("jupyterlab-4.5.6-py3-none-any.whl", requires_python=">=3.9")
    anyver = SpecifierSet()
    assert installable([cp36], anyver, Target("3.6", "2.27")) == [cp36]  # cp36m: pymalloc ABI
    assert installable([cp36], anyver, Target("3.7", "2.27")) == []
    assert installable([tf221], anyver, Target("3.12", "2.35")) == [tf221]
    assert installable([tf221], anyver, Target("3.12", "2.17")) == []  # glibc too old (PEP 600)
    assert installable([pure], anyver, Target("3.13", "2.35")) == [pure]
    assert installable([pure], anyver, Target("3.8", "2.35")) == []  # Requires-Python


def test_yanked_files_count_only_for_exact_pins() -> None:
    from packaging.specifiers import SpecifierSet

    yanked = _file("numpy-1.19.4-cp38-cp38-manylinux2010_x86_64.whl", yanked=True)
    target = Target("3.8", "2.31")
    assert installable([yanked], SpecifierSet("~=1.19.2"), target) == []
    assert installable([yanked], SpecifierSet("==1.19.4"), target) == [yanked]


def test_sdists_only_when_allowed() -> None:
    from packaging.specifiers import SpecifierSet

    sdist = _file("tensorrt-8.6.1.post1.tar.gz")
    target = Target("3.10", "2.35")
    assert installable([sdist], SpecifierSet("==8.6.1.post1"), target) == []
    assert installable([sdist], SpecifierSet("==8.6.1.post1"), target, allow_sdist=True) == [sdist]


def test_replayed_pages_go_through_pypi_simple(tmp_path: Path) -> None:
    index = PackageIndex(replay_session())
    files = index.files("https://pypi.org/simple/", "tensorflow-cpu")
    assert any(f.filename.startswith("tensorflow_cpu-2.15.0-cp311-") for f in files)
    assert index.files("https://pypi.org/simple/", "no-such-project") == ()

"""The table's rows as typed objects: nvidia/cuda tags, lookups by release, and derived fields."""

from __future__ import annotations

from packaging.version import Version

from ci.table.rows import Table, parse_cuda_tag


def test_cuda_image_tags_parse() -> None:
    assert parse_cuda_tag("12.1.0-cudnn8-devel-ubuntu22.04") == ("12.1.0", "8", "ubuntu22.04")
    assert parse_cuda_tag("12.6.3-cudnn-devel-ubuntu24.04") == ("12.6.3", "", "ubuntu24.04")
    assert parse_cuda_tag("12.6.3-base-ubuntu24.04") is None


def test_release_lookup_by_exact_version(table: Table) -> None:
    row = table.release("2.15.1")
    assert row is not None
    assert row.tf == "2.15.1"
    assert row.where == f"releases[{row.index}] (2.15.1)"
    assert table.releases[row.index] is row
    assert table.release("2.15") is None  # a minor is not a release
    assert table.release("9.9.9") is None
    assert table.tf_versions == tuple(r.tf for r in table.releases)
    assert row.version > Version("2.15.0")


def test_numpy_for_each_python_of_a_row(table: Table) -> None:
    for row in table.releases:
        assert [py for py, _ in row.numpy] == list(row.python), row.tf
        for py in row.python:
            assert row.numpy_for(py) == dict(row.numpy)[py]


def test_pip_cuda_names_its_wheels_by_suffix(table: Table) -> None:
    row = table.release("2.15.1")
    assert row is not None
    assert row.pip_cuda is not None
    pip = row.pip_cuda
    assert (pip.suffix, pip.cuda, pip.cudnn) == ("cu12", "12.2.140", "8.9.4.25")
    assert pip.version("cudnn") == pip.cudnn
    dists = pip.dists()
    assert [c for c, _, _ in dists] == [c for c, _ in pip.wheels]
    assert ("cudnn", "nvidia-cudnn-cu12", "8.9.4.25") in dists
    assert all(dist.startswith("nvidia-") and dist.endswith("-cu12") for _, dist, _ in dists)
    older = table.release("2.14.1")
    assert older is not None
    assert older.pip_cuda is not None
    assert older.pip_cuda.suffix == "cu11"
    assert older.pip_cuda.python == ("3.9", "3.10")


def test_targets_say_where_they_are(table: Table) -> None:
    first = table.targets[0]
    assert first.where == f"targets[0] ({first.tf})"
    assert [t.index for t in table.targets] == list(range(len(table.targets)))

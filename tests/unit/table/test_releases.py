"""versions.yaml `releases:`: one row per TensorFlow minor, and each row's packaging rules (which
package, which Pythons, which CUDA wheels) as the published wheels have them."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from ci.model import compat
from ci.model.compat import cudnn_compatible
from ci.table.rows import Table


def test_one_row_per_minor_from_1_15_to_2_21_plus_the_seed_release(table: Table) -> None:
    minors = {Version(r.tf).release[:2] for r in table.releases}
    expected = {(1, 15)} | {(2, m) for m in range(22)}
    assert minors == expected
    assert table.release("2.15.0") is not None, "the seed's release must stay selectable"
    assert all(not r.tf.startswith("2.16.0") for r in table.releases), "there is no TF 2.16.0"
    assert len(table.releases) == len(expected) + 1


def test_tensorflow_gpu_only_for_1_15_and_2_0(table: Table) -> None:
    for row in table.releases:
        names = {Requirement(p).name for p in (row.packages.cpu, row.packages.gpu)}
        uses_gpu_pkg = "tensorflow-gpu" in names
        assert uses_gpu_pkg == (row.version < Version("2.1")), row.tf


def test_and_cuda_exactly_from_2_14(table: Table) -> None:
    for row in table.releases:
        has_pip = row.pip_cuda is not None and row.packages.pip_cuda is not None
        assert has_pip == (row.version >= Version("2.14")), row.tf
        if row.packages.pip_cuda is not None:
            assert Requirement(row.packages.pip_cuda).extras == {"and-cuda"}


def test_cpu_images_use_tensorflow_cpu_wherever_it_exists(table: Table) -> None:
    """tensorflow-cpu is a third of tensorflow's size (no GPU kernels); the era rule says where it is."""
    era = table.compat.package_eras["tensorflow-cpu"]
    for row in table.releases:
        expected = "tensorflow-cpu" if era.covers(row.tf) else "tensorflow"
        assert row.packages.cpu == expected, row.tf
    assert table.release("2.1.4") is not None
    assert not era.covers("1.15.5")
    assert not era.covers("2.0.4")
    assert era.covers("1.15.0")
    assert era.covers("2.1.0")


def test_pip_cuda_rows_pin_the_tagged_wheels(table: Table) -> None:
    for row in table.releases:
        if row.pip_cuda is None:
            continue
        pinned = dict(row.pip_cuda.wheels)
        assert set(compat.TAGGED_COMPONENTS) <= set(pinned), row.tf
        assert compat.major_minor(row.pip_cuda.cuda) == row.cuda, row.tf
        assert cudnn_compatible(row.pip_cuda.cudnn, row.cudnn), row.tf
        dists = [dist for _, dist, _ in row.pip_cuda.dists()]
        assert all(d.endswith(f"-cu{compat.major(row.cuda)}") for d in dists), row.tf


def test_every_gpu_base_has_a_compatible_cudnn(table: Table) -> None:
    for row in table.releases:
        if row.gpu_base is None:
            assert row.gpu_unavailable
            assert Version(row.cuda).release[0] == 10, "only CUDA 10.x tags are gone"
            continue
        tag = row.gpu_base.split(":", 1)[1]
        image = table.cuda_images[tag]
        assert cudnn_compatible(image.cudnn, row.cudnn), row.tf


def test_default_python_is_listed_and_seed_uses_3_10(table: Table) -> None:
    for row in table.releases:
        assert row.default_python in row.python
    seed = table.release("2.15.0")
    assert seed is not None
    assert seed.default_python == "3.10"


@pytest.mark.parametrize(
    ("tf", "pythons"),
    [
        ("1.15.5", ("3.6", "3.7")),
        ("2.11.1", ("3.8", "3.9", "3.10")),
        ("2.15.0", ("3.9", "3.10", "3.11")),
        ("2.20.0", ("3.9", "3.10", "3.11", "3.12", "3.13")),
        ("2.21.0", ("3.10", "3.11", "3.12", "3.13")),
    ],
)
def test_python_lists_follow_published_wheels(table: Table, tf: str, pythons: tuple[str, ...]) -> None:
    row = table.release(tf)
    assert row is not None
    assert row.python == pythons


def test_numpy_below_2_before_tf_2_18(table: Table) -> None:
    for row in table.releases:
        for _, spec in row.numpy:
            two = Version("2.0.0")
            from packaging.specifiers import SpecifierSet

            assert (two in SpecifierSet(spec)) == (row.version >= Version("2.18")), (row.tf, spec)


def test_numpy_depends_on_python_for_2_16(table: Table) -> None:
    row = table.release("2.16.2")
    assert row is not None
    assert row.numpy_for("3.12") == ">=1.26.0,<2.0.0"
    assert row.numpy_for("3.11") == ">=1.23.5,<2.0.0"

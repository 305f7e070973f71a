"""What `verify` checks: every image kind of every row for each Python, as the resolver decides it."""

from __future__ import annotations

import pytest

from ci.model.errors import UserError
from ci.model.spec import KINDS
from ci.select import Selection, selected_specs
from ci.table.resolve import BuildRequest, resolve
from ci.table.rows import Release, Table
from ci.verify.subjects import selected_subjects, subject, subjects_for_rows


def _pip_extra_installs(row: Release, python: str) -> bool:
    return row.pip_cuda is not None and (row.pip_cuda.python is None or python in row.pip_cuda.python)


def test_kinds_follow_the_row_gpu_base_and_pip_extra(table: Table) -> None:
    for row in table.releases:
        found = {(s.python, s.kind) for s in subjects_for_rows(table, [row])}
        expected = {(py, "cpu") for py in row.python}
        expected |= {(py, "gpu") for py in row.python if row.gpu_base is not None}
        expected |= {(py, "pip") for py in row.python if _pip_extra_installs(row, py)}
        assert found == expected, row.tf


def test_a_pip_kind_only_for_the_pythons_the_extra_installs_for(table: Table) -> None:
    row = table.release("2.14.1")
    assert row is not None
    assert row.pip_cuda is not None
    assert row.pip_cuda.python == ("3.9", "3.10")
    kinds = {py: {s.kind for s in subjects_for_rows(table, [row], python=py)} for py in row.python}
    assert kinds == {"3.9": {"cpu", "gpu", "pip"}, "3.10": {"cpu", "gpu", "pip"}, "3.11": {"cpu", "gpu"}}


def test_no_gpu_kind_without_a_gpu_base(table: Table) -> None:
    row = table.release("2.1.4")
    assert row is not None
    assert row.gpu_base is None
    assert {s.kind for s in subjects_for_rows(table, [row])} == {"cpu"}
    assert subject(table, row, "3.7", "gpu") is None


def test_a_subject_carries_the_spec_the_resolver_gives(table: Table) -> None:
    row = table.release("2.15.1")
    assert row is not None
    for kind in ("cpu", "gpu", "pip"):
        found = subject(table, row, "3.11", kind)
        assert found is not None
        info = KINDS[kind]
        request = BuildRequest(
            tf="2.15.1",
            python="3.11",
            variant=info.variant,
            cuda_source=None if info.variant == "cpu" else info.cuda_source,
        )
        assert found.spec == resolve(table, request)
        assert (found.row, found.python, found.kind, found.os_id) == (row, "3.11", kind, found.spec.os_id)
    on_debian = subject(table, row, "3.11", "pip", "debian12")
    assert on_debian is not None
    assert on_debian.os_id == "debian12"
    devel = subject(table, row, "3.11", "gpu", "debian12")  # a devel base fixes the OS: the os is not asked
    assert devel is not None
    assert devel.os_id == "ubuntu22.04"


def test_no_selectors_is_every_row_and_all_is_the_targets(table: Table) -> None:
    _, every = selected_subjects(Selection())
    assert every == subjects_for_rows(table, table.releases)
    _, targets = selected_subjects(Selection(all=True))
    wanted = {(s.tf_version, s.python_version, s.kind.name, s.os_id) for s in selected_specs(Selection())}
    assert {(s.row.tf, s.python, s.kind, s.os_id) for s in targets} == wanted
    assert len(targets) == len(set(targets))


def test_selectors_narrow_one_row(table: Table) -> None:
    _, found = selected_subjects(Selection(fields={"tf": "2.15.0", "python": "3.10", "variant": "gpu"}))
    assert {(s.row.tf, s.python, s.kind) for s in found} == {
        ("2.15.0", "3.10", "gpu"),
        ("2.15.0", "3.10", "pip"),
    }
    _, pip_only = selected_subjects(
        Selection(fields={"tf": "2.15.0", "cuda_source": "pip", "os": "debian12"})
    )
    assert {(s.python, s.kind, s.os_id) for s in pip_only} == {
        (py, "pip", "debian12") for py in ("3.9", "3.10", "3.11")
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tf": "9.9.9"}, "--tf: unknown TensorFlow version '9.9.9'; valid: 1.15.5, "),
        ({"tf": "2.21.0", "python": "3.9"}, "--python: TensorFlow 2.21.0 has wheels for Python 3.10, "),
        ({"tf": "2.15.0", "os": "windows11"}, "--os: unknown os 'windows11'; valid: "),
        ({"python": "3.10"}, "--tf is required"),
    ],
)
def test_bad_selectors_name_the_flag(fields: dict[str, str], message: str) -> None:
    with pytest.raises(UserError) as err:
        selected_subjects(Selection(fields=fields))
    assert err.value.message.startswith(message)


def test_all_with_selectors_is_refused() -> None:
    with pytest.raises(UserError, match=r"^--all cannot be combined with image selectors"):
        selected_subjects(Selection(fields={"tf": "2.15.0"}, all=True))

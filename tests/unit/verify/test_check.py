"""`verify`'s findings on recorded index responses (tests/fixtures/index): the shipped table, and broken
copies.

Why recorded: these tests must run offline and give the same answer every time; the recording is
what the live index said about this table (tests/unit/index_fixture.py re-records it), and
tests/e2e/test_verify.py asks the live index the same questions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import RunCli, WriteTable

Raw = dict[str, Any]

pytestmark = pytest.mark.usefixtures("recorded_index")


def _row(raw: Raw, tf: str) -> Raw:
    row = next(r for r in raw["releases"] if r["tf"] == tf)
    assert isinstance(row, dict)
    return row


def _table_with(raw: Raw, write_table: WriteTable, change: Callable[[Raw], None]) -> str:
    change(raw)
    return str(write_table(raw))


def _lines(out: str, kind: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"{kind}: ")]


def test_the_shipped_table_verifies_clean(run_cli: RunCli) -> None:
    code, out, err = run_cli("verify")
    assert code == 0, out + err
    assert _lines(out, "error") == []
    assert _lines(out, "update") == []
    summary = out.splitlines()[-1]
    assert summary.startswith("verify: 229 images (")  # 183 amd64 + 46 arm64 (CPU, 2.10-2.21 but 2.11)
    assert " 0 error(s), 0 update(s)" in summary
    # What the recording could not answer is said, never passed off as checked: pypi.nvidia.com is
    # unreachable here, and the index serves no core metadata for 2.16-2.19's wheels.
    not_checked = _lines(out, "not-checked")
    assert {line.split(": ")[1] for line in not_checked} == {
        "installers",  # repo.anaconda.com is unreachable here too
        "releases[16] (2.15.0)",
        "releases[18] (2.16.2)",
        "releases[19] (2.17.1)",
        "releases[20] (2.18.1)",
        "releases[21] (2.19.1)",
    }
    assert any(
        "tensorrt-libs==8.6.1" in line and "pypi.nvidia.com unreachable" in line for line in not_checked
    )


def test_a_python_without_a_wheel_is_an_error_naming_row_python_and_package(
    run_cli: RunCli, raw_table: Raw, write_table: WriteTable
) -> None:
    """The issue's "done when": one Python added to a row whose release has no wheel for it."""
    path = _table_with(raw_table, write_table, lambda raw: _row(raw, "2.5.3")["python"].insert(0, "3.6"))
    code, out, _ = run_cli("--table", path, "verify", "--tf", "2.5.3")
    assert code == 1
    errors = _lines(out, "error")
    assert (
        "error: releases[6] (2.5.3): Python 3.6: tensorflow-cpu==2.5.3: no wheel for cp36 manylinux x86_64"
        " (glibc 2.31) (linux x86_64 wheels exist for cp37, cp38, cp39)"
    ) in errors
    assert any(e.startswith("error: releases[6] (2.5.3): Python 3.6: tensorflow==2.5.3: ") for e in errors)
    assert all("Python 3.6" in e for e in errors)


def test_json_output_carries_the_same_findings(
    run_cli: RunCli, raw_table: Raw, write_table: WriteTable
) -> None:
    path = _table_with(raw_table, write_table, lambda raw: _row(raw, "2.5.3")["python"].insert(0, "3.6"))
    code, out, _ = run_cli("--table", path, "verify", "--tf", "2.5.3", "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    assert data["indexes"] == ["https://pypi.org/simple/"]
    finding = next(f for f in data["findings"] if f["package"] == "tensorflow-cpu==2.5.3")
    assert finding["kind"] == "error"
    assert finding["row"] == "releases[6] (2.5.3)"
    assert finding["python"] == "3.6"
    assert finding["line"].startswith("error: releases[6] (2.5.3): Python 3.6: tensorflow-cpu==2.5.3")


def test_tensorrt_without_a_cp311_wheel_limits_2_14_pip_cuda(
    run_cli: RunCli, raw_table: Raw, write_table: WriteTable
) -> None:
    """Why 2.14.1's pip_cuda lists Python 3.9/3.10 only: its extra pins tensorrt==8.5.3.1."""
    path = _table_with(raw_table, write_table, lambda raw: _row(raw, "2.14.1")["pip_cuda"].pop("python"))
    code, out, _ = run_cli(
        "--table", path, "verify", "--tf", "2.14.1", "--cuda-source", "pip", "--no-releases"
    )
    assert code == 1
    assert _lines(out, "error") == [
        "error: releases[15] (2.14.1): Python 3.11: tensorrt==8.5.3.1: no wheel for cp311 manylinux x86_64"
        " (glibc 2.35) (linux x86_64 wheels exist for cp39, cp310)"
    ]


def test_a_pin_outside_the_extra_range_is_an_error(
    run_cli: RunCli, raw_table: Raw, write_table: WriteTable
) -> None:
    def pin_old_nccl(raw: Raw) -> None:
        _row(raw, "2.21.0")["pip_cuda"]["wheels"]["nccl"] = "2.25.1"  # 2.21's extra needs >=2.27.7

    path = _table_with(raw_table, write_table, pin_old_nccl)
    code, out, _ = run_cli(
        "--table", path, "verify", "--tf", "2.21.0", "--python", "3.12", "--cuda-source", "pip"
    )
    assert code == 1
    assert (
        "error: releases[23] (2.21.0): Python 3.12: tensorflow[and-cuda]==2.21.0: pip_cuda.wheels pins"
        " nvidia-nccl-cu12==2.25.1 but the extra requires nvidia-nccl-cu12<3.0,>=2.27.7; extra =="
        ' "and-cuda": pip cannot satisfy both'
    ) in _lines(out, "error")


def test_an_unpinned_ranged_nvidia_wheel_is_an_error(
    run_cli: RunCli, raw_table: Raw, write_table: WriteTable
) -> None:
    """A range the table does not pin lets pip install the newest wheel: the drift issue 10 saw."""
    path = _table_with(
        raw_table, write_table, lambda raw: _row(raw, "2.20.0")["pip_cuda"]["wheels"].pop("nvjitlink")
    )
    code, out, _ = run_cli(
        "--table", path, "verify", "--tf", "2.20.0", "--python", "3.11", "--cuda-source", "pip"
    )
    assert code == 1
    (error,) = _lines(out, "error")
    assert error.startswith("error: releases[22] (2.20.0): Python 3.11: tensorflow[and-cuda]==2.20.0: ")
    assert "pins no nvidia-nvjitlink-cu12: pip may install any version the extra allows" in error


def test_a_pin_the_extra_does_not_install_is_an_error(
    run_cli: RunCli, raw_table: Raw, write_table: WriteTable
) -> None:
    def pin_extra(raw: Raw) -> None:
        _row(raw, "2.21.0")["pip_cuda"]["wheels"]["cuda-nvrtc"] = "12.5.82"
        _row(raw, "2.21.0")["pip_cuda"]["wheels"]["cusparselt"] = "0.6.3"

    path = _table_with(raw_table, write_table, pin_extra)
    code, out, _ = run_cli(
        "--table", path, "verify", "--tf", "2.21.0", "--python", "3.12", "--cuda-source", "pip"
    )
    assert code == 1
    errors = _lines(out, "error")
    assert any(
        "nvidia-cusparselt-cu12==0.6.3: the index has no project nvidia-cusparselt-cu12" in e for e in errors
    )
    assert any("pins nvidia-cusparselt-cu12==0.6.3, which the extra does not install" in e for e in errors)


def test_releases_the_table_lacks_are_reported_as_updates(
    run_cli: RunCli, raw_table: Raw, write_table: WriteTable
) -> None:
    def drop_2_21(raw: Raw) -> None:
        raw["releases"] = [r for r in raw["releases"] if r["tf"] != "2.21.0"]
        raw["targets"] = [t for t in raw["targets"] if t["tf"] != "2.21.0"]

    path = _table_with(raw_table, write_table, drop_2_21)
    code, out, _ = run_cli("--table", path, "verify", "--tf", "2.20.0", "--variant", "cpu")
    assert code == 0, out  # an update is news, not a defect of the table
    assert _lines(out, "update") == [
        "update: releases: tensorflow==2.21.0: TensorFlow 2.21.0 is on the index; the table has no 2.21 row"
    ]


def test_an_unreachable_index_is_an_error_not_an_empty_index(run_cli: RunCli) -> None:
    code, out, _ = run_cli("verify", "--tf", "2.15.0", "--pip-index-url", "https://mirror.invalid/simple/")
    assert code == 1
    (error,) = _lines(out, "error")
    assert error.startswith("error: index: cannot read the package index https://mirror.invalid/simple/: ")


def test_every_platform_of_a_row_is_checked_with_its_own_package_and_machine(run_cli: RunCli) -> None:
    """arm64 CPU images install `tensorflow` (2.15: the stub) and, through it, tensorflow-cpu-aws."""
    code, out, _ = run_cli(
        "verify", "--tf", "2.15.0", "--variant", "cpu", "--no-releases", "--format", "json"
    )
    assert code == 0, out
    assert json.loads(out)["images"] == 6  # three Pythons, two platforms each
    code, out, _ = run_cli("verify", "--tf", "2.15.0", "--variant", "cpu", "--platform", "linux/arm64")
    assert code == 0, out
    assert out.splitlines()[-1].startswith("verify: 3 images (")


def test_a_platform_the_index_cannot_serve_is_refused(
    raw_table: Raw, write_table: WriteTable, run_cli: RunCli
) -> None:
    """2.11.1 on arm64 would install tensorflow-cpu-aws==2.11.1, which has a cp37 wheel only."""

    def arm64(raw: Raw) -> None:
        _row(raw, "2.11.1")["platforms"] = {"linux/arm64": {"cpu": "tensorflow", "via": "tensorflow-cpu-aws"}}

    table = _table_with(raw_table, write_table, arm64)
    code, out, _ = run_cli("--table", table, "verify", "--tf", "2.11.1", "--variant", "cpu", "--no-releases")
    assert code == 1
    aws = [line for line in _lines(out, "error") if "tensorflow-cpu-aws==2.11.1" in line]
    assert [line.split(": ")[2] for line in aws] == ["Python 3.8", "Python 3.9", "Python 3.10"]

    def wrong_arm64_package(raw: Raw) -> None:
        _row(raw, "2.9.3")["platforms"] = {"linux/arm64": {"cpu": "tensorflow"}}

    table = _table_with(raw_table, write_table, wrong_arm64_package)
    code, out, _ = run_cli("--table", table, "verify", "--tf", "2.9.3", "--variant", "cpu", "--no-releases")
    assert code == 1
    assert any("tensorflow==2.9.3" in line and "aarch64" in line for line in _lines(out, "error")), out

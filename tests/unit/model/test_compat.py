"""The compatibility rules in their one home, ci.compat, and the named data they read."""

from __future__ import annotations

import pytest

from ci.model import compat, refs
from ci.model.compat import cudnn_compatible, major_minor, package_problem
from ci.probe import checks
from ci.table import load as table
from ci.table.rows import Table


@pytest.mark.parametrize(
    ("loaded", "compiled", "ok"),
    [
        ("8.9.4", "8.9", True),  # same major.minor, any patch
        ("8.9.0.131", "8.9", True),
        ("8.9.7.29", "8.6", True),  # a newer minor of the same major loads
        ("8.9.6.50", "8.6", True),
        ("8.6.0", "8.9", False),  # an older minor does not
        ("9.2.1.18", "9.3", False),
        ("9.0.0", "8.9", False),  # another major never does
        ("9.0.0.312", "8.9", False),
        ("7", "8.9", False),
        # The pair the two old copies disagreed on: a loaded version without its minor cannot show
        # TensorFlow's "minor >= 9", so it is not compatible (see ci/model/compat.py for the sources).
        ("8", "8.9", False),
        ("8", "8", False),
    ],
)
def test_cudnn_rule(loaded: str, compiled: str, ok: bool) -> None:
    assert cudnn_compatible(loaded, compiled) is ok


def test_one_rule_no_copies() -> None:
    """table.py, checks.py and resolve.py use compat's rule and helpers; the old copies are gone."""
    for module in (table, checks):
        assert not hasattr(module, "cudnn_satisfies")
        assert not hasattr(module, "cudnn_compatible") or module.cudnn_compatible is cudnn_compatible
        assert not hasattr(module, "major_minor") or module.major_minor is major_minor
        assert not hasattr(module, "_SHA256")


def test_version_helpers() -> None:
    assert major_minor("12.2.140") == "12.2"
    assert major_minor("12") == "12.0"
    assert compat.major("9.3.0.75") == 9
    assert refs.SHA256_HEX.match("a" * 64)
    assert not refs.SHA256_HEX.match("A" * 64)
    assert refs.SHA256_DIGEST.match("sha256:" + "0" * 64)


def test_package_eras_come_from_the_table(table: Table) -> None:
    rules = table.compat
    assert package_problem(rules, "tensorflow-cpu", "2.1.4") is None
    assert package_problem(rules, "tensorflow-cpu", "1.15.0") is None
    problem = package_problem(rules, "tensorflow-cpu", "2.0.4")
    assert problem is not None
    assert "source: pypi-tensorflow-cpu, https://pypi.org/project/tensorflow-cpu/" in problem
    assert package_problem(rules, "tensorflow-gpu", "2.11.1") is None
    assert package_problem(rules, "tensorflow-gpu", "2.12.1") is not None
    assert package_problem(rules, "tensorflow[and-cuda]", "2.14.1") is None
    assert package_problem(rules, "tensorflow[and-cuda]", "2.13.1") is not None
    assert package_problem(rules, "tensorflow", "1.15.5") is None  # no era: always there


def test_wheel_suffix_and_glibc_come_from_the_table(table: Table) -> None:
    rules = table.compat
    assert compat.cuda_wheel_suffix(rules, "11.8") == "cu11"
    assert compat.cuda_wheel_suffix(rules, "12.5") == "cu12"
    assert compat.cuda_wheel_suffix(rules, "10.1") is None
    assert compat.nvidia_wheel_name("cudnn", "cu12") == "nvidia-cudnn-cu12"
    assert compat.glibc_of(rules, "ubuntu22.04") == "2.35"
    assert set(table.os_bases) <= set(rules.glibc)


def test_cite_names_key_and_url(table: Table) -> None:
    assert table.compat.cite("nvidia-cuda-eol").startswith("source: nvidia-cuda-eol, https://")
    assert compat.cite({}, "missing") == "source: missing"

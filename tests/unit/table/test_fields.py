"""Row checks: each field is checked one of a few ways, and each failure is one line naming the
file, the row and the field."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ci.model.errors import UserError
from ci.table.fields import Row, display_name, kind, read_yaml
from ci.table.load import load_table


def test_duplicate_yaml_keys_are_refused(write_table: Any, raw_table: dict[str, Any]) -> None:
    path = write_table("schema: 1\nschema: 1\n")
    with pytest.raises(UserError, match="duplicate key 'schema'"):
        load_table(path)


def test_unquoted_python_version_is_explained(write_table: Any, raw_table: dict[str, Any]) -> None:
    raw_table["releases"][0]["default_python"] = 3.7
    with pytest.raises(UserError, match=r"quoted string"):
        load_table(write_table(raw_table))


WHERE = "versions.yaml: releases[3] (2.4.4)"
REQUIRED = ("tf", "python")


def row(**data: object) -> Row:
    return Row(
        "versions.yaml", "releases[3] (2.4.4)", {"tf": "2.4.4", "python": ["3.8"], **data}, REQUIRED, ("os",)
    )


def message(check: Callable[[], object]) -> str:
    with pytest.raises(UserError) as err:
        check()
    assert "\n" not in err.value.message
    return err.value.message


def test_a_row_must_be_a_mapping_with_known_and_required_keys() -> None:
    assert message(lambda: Row("versions.yaml", "releases[3] (2.4.4)", "2.4.4", REQUIRED)) == (
        f"{WHERE}: expected a mapping with keys tf, python; got the string '2.4.4'"
    )
    assert (
        message(lambda: row(arch="arm64"))
        == f"{WHERE}: field 'arch': unknown key; valid keys: tf, python, os"
    )
    no_python = {"tf": "2.4.4"}
    assert message(lambda: Row("versions.yaml", "releases[3] (2.4.4)", no_python, REQUIRED)) == (
        f"{WHERE}: field 'python': missing (required)"
    )
    good = row(os=None)
    assert good.has("tf")
    assert not good.has("os")
    assert good.raw("python") == ["3.8"]


def test_strings() -> None:
    assert row(os="debian12").string("os") == "debian12"
    assert row().opt_string("os") is None
    assert message(lambda: row(os=3.7).string("os")) == (
        f"{WHERE}: field 'os': got the number 3.7; write it as a quoted string, e.g. \"3.7\""
    )
    assert message(lambda: row(os=" ").string("os")) == (
        f"{WHERE}: field 'os': expected a non-empty string; got the string ' '"
    )
    assert message(lambda: row(os=None).string("os")) == (
        f"{WHERE}: field 'os': expected a non-empty string; got nothing"
    )
    pattern = re.compile(r"^[a-z]+\d+$")
    assert message(lambda: row(os="Debian 12").string("os", pattern, "an id like debian12")) == (
        f"{WHERE}: field 'os': 'Debian 12' is malformed; expected an id like debian12"
    )


def test_choices_and_booleans() -> None:
    assert row(os="cpu").choice("os", ("cpu", "gpu")) == "cpu"
    assert message(lambda: row(os="tpu").choice("os", ("cpu", "gpu"))) == (
        f"{WHERE}: field 'os': 'tpu' is not valid; expected one of cpu, gpu"
    )
    assert row().boolean("os", default=True) is True
    assert row(os=False).boolean("os", default=True) is False
    assert message(lambda: row(os="yes").boolean("os", default=False)) == (
        f"{WHERE}: field 'os': expected true or false; got the string 'yes'"
    )


def test_string_lists() -> None:
    assert row(python=["3.8", "3.9"]).string_list("python") == ("3.8", "3.9")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([], "expected a non-empty list of strings; got a list"),
        ("3.8", "expected a non-empty list of strings; got the string '3.8'"),
        (["3.8", 3.9], 'got the number 3.9; write it as a quoted string, e.g. "3.9"'),
        (["3.8", None], "expected strings; got nothing"),
        (["3.8", "3.8"], "'3.8' is listed twice"),
    ],
)
def test_bad_string_lists(value: object, problem: str) -> None:
    assert message(lambda: row(python=value).string_list("python")) == f"{WHERE}: field 'python': {problem}"


@pytest.mark.parametrize(
    ("value", "parts", "problem"),
    [
        ("2.4", (3,), "'2.4' is not a plain release version; expected a version like '2.15.0'"),
        ("abc", (2, 3), "'abc' is not a version; expected a version like '3.10' or a version like '2.15.0'"),
        ("2.4.4rc1", (3,), "'2.4.4rc1' is not a plain release version"),
        ("02.4.4", (3,), "'02.4.4' is not a plain release version"),
        ("2.4.4+local", (3,), "'2.4.4+local' is not a plain release version"),
    ],
)
def test_versions_are_plain_canonical_releases(value: str, parts: tuple[int, ...], problem: str) -> None:
    assert message(lambda: row(tf=value).version("tf", parts=parts)).startswith(
        f"{WHERE}: field 'tf': {problem}"
    )


def test_good_versions_are_returned_as_written() -> None:
    assert row().version("tf", parts=(3,)) == "2.4.4"
    assert row().version("cudnn", "8.9.6.50", parts=(4,)) == "8.9.6.50"


def test_specifiers() -> None:
    assert row().specifier("numpy", ">=1.23.5,<2.0.0") == ">=1.23.5,<2.0.0"
    assert message(lambda: row().specifier("numpy", "=>2")) == (
        f"{WHERE}: field 'numpy': '=>2' is not a valid version specifier (PEP 440), e.g. '>=1.23.5,<2.0.0'"
    )
    assert message(lambda: row().specifier("numpy", 2)) == (
        f"{WHERE}: field 'numpy': expected a version specifier string like '<2.0'; got the number 2"
    )


def test_references_are_image_references_as_from_takes_them() -> None:
    assert row(os="ubuntu:22.04").reference("os") == "ubuntu:22.04"
    assert row(os="nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04").reference("os").startswith("nvidia/")
    assert message(lambda: row(os="no such image!").reference("os")).startswith(
        f"{WHERE}: field 'os': 'no such image!' is not an image reference like 'ubuntu:22.04': "
    )


def test_kind_names_what_was_found() -> None:
    values: tuple[object, ...] = (None, True, "x", 3, 2.5, [], {}, (1,))
    assert [kind(v) for v in values] == [
        "nothing",
        "the boolean True",
        "the string 'x'",
        "the number 3",
        "the number 2.5",
        "a list",
        "a mapping",
        "tuple",
    ]


def test_read_yaml_problems_name_the_file_and_the_place(tmp_path: Path) -> None:
    bad = tmp_path / "versions.yaml"
    bad.write_text("schema: 1\nreleases: [\n", encoding="utf-8")
    assert message(lambda: read_yaml(bad, "shown.yaml")).startswith("shown.yaml: invalid YAML: line ")
    bad.write_bytes(b"schema: \xff\n")
    assert message(lambda: read_yaml(bad, "shown.yaml")) == (
        "shown.yaml: not UTF-8 text, expected the versions table (YAML)"
    )
    assert message(lambda: read_yaml(tmp_path / "none.yaml", "none.yaml")) == "none.yaml: no such file"
    bad.write_text("a: 1\nb: [x, y]\n", encoding="utf-8")
    assert read_yaml(bad, "shown.yaml") == {"a": 1, "b": ["x", "y"]}


def test_display_name_is_relative_inside_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = tmp_path / "sub" / "versions.yaml"
    monkeypatch.chdir(tmp_path)
    assert display_name(inside) == "sub/versions.yaml"
    assert display_name(Path("/etc/hostname")) == "/etc/hostname"

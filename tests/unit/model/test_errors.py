"""UserError: one line, whatever text it was built from; table errors name file, row and field."""

from __future__ import annotations

from ci.model.errors import UserError, table_error


def test_a_user_error_is_one_line() -> None:
    err = UserError("usage: ci plan\n  [--tf X]\terror:   bad\n")
    assert err.message == "usage: ci plan [--tf X] error: bad"
    assert str(err) == err.message


def test_table_errors_name_file_row_and_field() -> None:
    with_field = table_error("versions.yaml", "releases[3] (2.4.4)", "python", "expected a list")
    assert with_field.message == "versions.yaml: releases[3] (2.4.4): field 'python': expected a list"
    without = table_error("versions.yaml", "top level", None, "expected a mapping")
    assert without.message == "versions.yaml: top level: expected a mapping"
    assert isinstance(with_field, UserError)

"""Files a flag names: one reader, and every problem one line naming the flag and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.model.inputs import read_ca_bundle, read_input, read_password_file


def test_password_files_are_read_strictly(tmp_path: Path) -> None:
    good = tmp_path / "pw"
    good.write_text("t0ken\n")
    assert read_password_file(good, "--password-file") == "t0ken"
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00pw")
    for path, needle in (
        (binary, "not UTF-8"),
        (tmp_path, "is a directory"),
        (tmp_path / "missing", "no such file"),
    ):
        with pytest.raises(UserError, match=needle):
            read_password_file(path, "--password-file")
    several = tmp_path / "two"
    several.write_text("a\nb\n")
    with pytest.raises(UserError, match="several lines"):
        read_password_file(several, "--password-file")


def test_ca_bundle_must_be_pem(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82\x01\x0a")
    with pytest.raises(UserError, match="not a PEM certificate bundle"):
        read_ca_bundle(not_pem, "--registry-ca-cert")
    with pytest.raises(UserError, match="no such file"):
        read_ca_bundle(tmp_path / "none.pem", "--registry-ca-cert")


def test_read_input_reads_bytes_whole(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"\x00\xffnot text\n")
    assert read_input(data, "--results", "an index.json") == b"\x00\xffnot text\n"


def test_read_input_problems_are_one_line_naming_flag_and_file(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    cases = [
        (tmp_path / "missing", f"--results {tmp_path / 'missing'}: no such file"),
        (tmp_path, f"--results {tmp_path}: is a directory, expected an index.json"),
        (a_file / "below", f"--results {a_file / 'below'}: cannot read (Not a directory)"),
    ]
    for path, message in cases:
        with pytest.raises(UserError) as err:
            read_input(path, "--results", "an index.json")
        assert err.value.message == message
        assert "\n" not in err.value.message


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    for content in ("", "  \n\n"):
        empty = tmp_path / "pw"
        empty.write_text(content)
        with pytest.raises(UserError) as err:
            read_password_file(empty, "--to-password-file")
        assert err.value.message == f"--to-password-file {empty}: the file is empty"


def test_a_pem_bundle_is_returned_as_read_and_its_errors_name_the_flag(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    text = b"# comment\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    pem.write_bytes(text)
    assert read_ca_bundle(pem, "--ca-cert") == text
    with pytest.raises(UserError) as err:
        read_ca_bundle(tmp_path, "--ca-cert")
    assert err.value.message == f"--ca-cert {tmp_path}: is a directory, expected a PEM file"

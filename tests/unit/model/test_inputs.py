"""Files a flag names: one reader, its limits, and every problem one line naming the flag and the file.

Issue 16, findings 12 and 14: a named pipe or /dev/zero as a file flag (read until memory ran out),
nesting past the recursion limit, integers too long to print, lists as YAML keys, a directory as
--authfile ("no such file"), a 50 MB password file, and a "CA" that is one BEGIN line and garbage.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.model import inputs
from ci.model.errors import UserError
from ci.model.inputs import (
    MAX_DEPTH,
    MAX_INPUT_BYTES,
    parse_json,
    parse_yaml,
    read_authfile,
    read_ca_bundle,
    read_input,
    read_json,
    read_password_file,
    read_yaml,
)
from tests.unit import hostile
from tests.unit.pem import self_signed_pem


def _message(call: object, *args: object) -> str:
    assert callable(call)
    with pytest.raises(UserError) as err:
        call(*args)
    assert "\n" not in err.value.message
    return err.value.message


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


def test_a_huge_password_file_is_refused_by_its_size_not_read(tmp_path: Path) -> None:
    """Finding 14: a 50 MB password file ended in "inappropriate ioctl for device"."""
    huge = tmp_path / "pw"
    with huge.open("wb") as stream:
        stream.truncate(50 * 1024 * 1024)  # sparse: the size is what is refused
    assert _message(read_password_file, huge, "--to-password-file") == (
        f"--to-password-file {huge}: is {50 * 1024 * 1024} bytes or more; input files are limited to "
        f"{MAX_INPUT_BYTES} bytes (8 MiB)"
    )
    long = tmp_path / "long"
    long.write_text("x" * 5000)
    assert "longer than 4096 characters" in _message(read_password_file, long, "--password-file")


def test_named_pipes_and_devices_are_refused_without_blocking(tmp_path: Path) -> None:
    """Finding 12: a FIFO blocked forever, /dev/zero was read until memory ran out."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert _message(read_input, fifo, "--results", "an index.json") == (
        f"--results {fifo}: not a regular file (a named pipe), expected an index.json"
    )
    assert _message(read_password_file, Path("/dev/zero"), "--password-file") == (
        "--password-file /dev/zero: not a regular file (a device), expected a file holding the password"
    )
    assert "a device" in _message(read_yaml, Path("/dev/zero"), "--table", "a table")


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
        (tmp_path / ("x" * 300), f"--results {tmp_path / ('x' * 300)}: cannot read (File name too long)"),
        (Path("a\0b"), "--results a\0b: not a usable file name"),
    ]
    for path, message in cases:
        assert _message(read_input, path, "--results", "an index.json") == message


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    for content in ("", "  \n\n"):
        empty = tmp_path / "pw"
        empty.write_text(content)
        assert _message(read_password_file, empty, "--to-password-file") == (
            f"--to-password-file {empty}: the file is empty"
        )


def test_a_pem_bundle_is_loaded_by_the_ssl_module_and_returned_as_read(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    text = b"# comment\n" + self_signed_pem()
    pem.write_bytes(text)
    assert read_ca_bundle(pem, "--ca-cert") == text
    assert _message(read_ca_bundle, tmp_path, "--ca-cert") == (
        f"--ca-cert {tmp_path}: is a directory, expected a PEM file"
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x30\x82\x01\x0a", "not a PEM certificate bundle (no BEGIN CERTIFICATE)"),
        (b"-----BEGIN CERTIFICATE-----\ngarbage!\n", "not a parseable PEM certificate bundle"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "not a parseable PEM"),
        (b"-----BEGIN CERTIFICATE-----\n\xff\xfe\n", "not a parseable PEM certificate bundle"),
    ],
)
def test_a_ca_file_that_is_not_a_loadable_bundle_is_refused(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    """Finding 10: a "CA" holding one BEGIN line and garbage went through to the build."""
    path = tmp_path / "ca.pem"
    path.write_bytes(content)
    assert _message(read_ca_bundle, path, "--registry-ca-cert").startswith(
        f"--registry-ca-cert {path}: {problem}"
    )


def test_json_nesting_and_long_integers_are_refused_naming_the_field() -> None:
    """Finding 12: nesting past the recursion limit and 4300-digit integers were tracebacks."""
    deep = '{"images": [{"versions": ' + "[" * 5000 + "]" * 5000 + "}]}"
    assert _message(parse_json, deep, "--results r.json") == (
        f"--results r.json: images[0].versions{'[0]' * (MAX_DEPTH - 3)}: nested deeper than {MAX_DEPTH} "
        f"levels (line 1, column {26 + MAX_DEPTH - 3})"
    )
    huge = '{"images": [{"compressed_size": ' + "9" * 5000 + "}]}"
    assert _message(parse_json, huge, "INDEX_JSON i.json") == (
        "INDEX_JSON i.json: images[0].compressed_size: an integer of 5000 digits (at most 30) "
        "(line 1, column 33)"
    )
    assert "not JSON (NaN is not a JSON number)" in _message(parse_json, "[NaN]", "f")
    assert parse_json('{"a": "[[[[", "b": [1, 2.5e3]}', "f") == {"a": "[[[[", "b": [1, 2500.0]}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a:\n" + "  " + "- " * 5000 + "x\n", "a[0][0]"),
        ("[" * 5000 + "]" * 5000, "nested deeper than 32 levels"),
        ("pythons:\n  ? [3, 10]\n  : x\n", "pythons: a list or mapping as a mapping key"),
        ("{[a]: b}", "top level: a list or mapping as a mapping key; keys are strings"),
        ("pythons:\n  3.10: {}\n", "pythons: the key 3.10 is not a string; quote it: '3.10'"),
        ("a: " + "9" * 5000, "a: an integer of more than 30 digits"),
        ("a: &x [*x]\n", "alias *x refers to a collection that contains it"),
        ("a: !!int abc\n", "invalid YAML: invalid literal for int()"),
        ("a: [1\n", "invalid YAML: line 2, column 1"),
        (
            "l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10)),
            "expands to more than 1000000 nodes (aliases)",
        ),
        ("d0: &d0 " + "[" * 20 + "]" * 20 + "\nd1: " + "[" * 20 + "*d0" + "]" * 20, "(aliases expanded)"),
    ],
)
def test_yaml_limits_are_checked_before_the_recursive_parser(text: str, problem: str) -> None:
    message = _message(parse_yaml, text, "versions.yaml")
    assert message.startswith("versions.yaml: ")
    assert problem in message


def test_yaml_within_the_limits_loads() -> None:
    assert parse_yaml("a: &x [1]\nb: [*x, *x]\n<<: {c: 2}\n", "f") == {"a": [1], "b": [[1], [1]], "c": 2}


def test_an_oversized_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    big = tmp_path / "index.json"
    big.write_text("[" + "0," * (MAX_INPUT_BYTES // 2) + "0]")
    assert "input files are limited to" in _message(read_json, big, "--results", "an index.json")


def test_an_authfile_must_be_a_json_auth_file(tmp_path: Path) -> None:
    """Finding 14: --authfile pointing at a directory said "no such file"."""
    assert _message(read_authfile, tmp_path) == (
        f"--authfile {tmp_path}: is a directory, expected a Docker/containers auth file "
        '({"auths": {REGISTRY: {"auth": ...}}})'
    )
    path = tmp_path / "auth.json"
    path.write_text('{"auths": {"ghcr.io": {"auth": 5}}}')
    assert (
        _message(read_authfile, path) == f"--authfile {path}: field 'auths['ghcr.io'].auth' must be a string"
    )
    path.write_text('{"auths": {"ghcr.io": {"auth": "dTpw"}, "r.example:5000": {}}}')
    found = read_authfile(path)
    assert found.registries == {"ghcr.io", "r.example:5000"}
    assert "dTpw" not in repr(found)


def test_the_limits_are_stated_once() -> None:
    assert (inputs.MAX_INPUT_BYTES, inputs.MAX_DEPTH, inputs.MAX_INT_DIGITS) == (8 << 20, 32, 30)


# --------------------------------------------------------------------------- properties (issue 16)

PEMS = (
    self_signed_pem().decode(),
    "-----BEGIN CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\n" + "A" * 5000 + "\n-----END CERTIFICATE-----\n",
    self_signed_pem().decode().replace("M", "\u00e9", 1),
    self_signed_pem().decode() + "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n",
    "-----BEGIN CERTIFICATE-----\n\x00\x01\n-----END CERTIFICATE-----\n",
)


@hostile.FAST_PROPERTY
@given(
    content=st.one_of(hostile.text, st.binary(max_size=200)),
    kind=st.sampled_from(hostile.PATH_KINDS),
)
def test_the_password_reader_on_hostile_files(content: str | bytes, kind: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = hostile.hostile_path(Path(directory), "pw", content, kind)
        hostile.assert_reader(lambda: read_password_file(path, "--password-file"), f"--password-file {path}")


@hostile.FAST_PROPERTY
@given(
    content=st.one_of(st.sampled_from(PEMS), hostile.text, st.binary(max_size=200)),
    junk=hostile.text,
    kind=st.sampled_from(hostile.PATH_KINDS),
)
def test_the_ca_reader_on_hostile_files(content: str | bytes, junk: str, kind: str) -> None:
    if isinstance(content, str):
        content += junk
    with tempfile.TemporaryDirectory() as directory:
        path = hostile.hostile_path(Path(directory), "ca.pem", content, kind)
        hostile.assert_reader(lambda: read_ca_bundle(path, "--ca-cert"), f"--ca-cert {path}")


@hostile.FAST_PROPERTY
@given(
    content=st.one_of(
        st.dictionaries(
            st.sampled_from(["auths", "credsStore", "x"]),
            st.one_of(
                st.dictionaries(
                    hostile.refs,
                    st.dictionaries(st.sampled_from(["auth", "identitytoken"]), hostile.json_values),
                ),
                hostile.json_values,
            ),
        ).map(json.dumps),
        hostile.index_documents(),
    ),
    kind=st.sampled_from(hostile.PATH_KINDS),
)
def test_the_authfile_reader_on_hostile_files(content: str, kind: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = hostile.hostile_path(Path(directory), "auth.json", content, kind)
        hostile.assert_reader(lambda: read_authfile(path), f"--authfile {path}")

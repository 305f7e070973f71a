"""versions.lock.yaml: read strictly, written sorted, applied by the resolver to every spec of a base."""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ci.model.errors import UserError
from ci.table.lockfile import LockEntry, lock_path, read_lock, write_lock
from tests.unit import hostile

DIGEST = "sha256:" + "c" * 64


def test_the_lock_sits_beside_its_table(tmp_path: Path) -> None:
    assert lock_path(tmp_path / "versions.yaml") == tmp_path / "versions.lock.yaml"
    assert read_lock(tmp_path / "versions.yaml", "versions.yaml") == {}


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    table = tmp_path / "versions.yaml"
    entries = {
        "ubuntu:22.04": LockEntry("ubuntu:22.04", DIGEST, "2026-11-29T00:00:00Z"),
        "debian:bookworm": LockEntry("debian:bookworm", "sha256:" + "d" * 64, "2026-11-29T00:00:00Z"),
    }
    path = write_lock(table, entries)
    text = path.read_text()
    assert text.startswith("# Base image digests, written by `python ci/main.py lock`")
    assert text.index("debian:bookworm") < text.index("ubuntu:22.04")
    assert read_lock(table, "versions.yaml") == entries


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("schema: 2\nbases: {}\n", "not a base-image lock file"),
        ("schema: 1\nbases: []\n", "'bases' must be a mapping"),
        ("schema: 1\nbases: {'ubuntu:22.04': 'sha256:x'}\n", "expected {digest"),
        ("schema: 1\nbases: {'ubuntu:22.04': {digest: 'sha256:12'}}\n", "'digest' must be 'sha256:'"),
        ("schema: [1\n", "invalid YAML: line 2"),
        ("schema: 1\nbases: {[a]: {digest: x}}\n", "a list or mapping as a mapping key"),
        ("schema: 1\nbases: " + "[" * 100 + "]" * 100, "nested deeper than 32 levels"),
    ],
)
def test_a_malformed_lock_is_one_line_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "versions.lock.yaml").write_text(content)
    with pytest.raises(UserError, match=message) as err:
        read_lock(tmp_path / "versions.yaml", "versions.yaml")
    assert err.value.message.startswith("versions.lock.yaml: ")


def test_lock_file_is_plain_yaml(tmp_path: Path) -> None:
    path = write_lock(tmp_path / "versions.yaml", {"a:1": LockEntry("a:1", DIGEST, "t")})
    assert yaml.safe_load(path.read_text()) == {
        "schema": 1,
        "bases": {"a:1": {"digest": DIGEST, "locked": "t"}},
    }


# --------------------------------------------------------------------------- property (issue 16)

_LOCK = {"schema": 1, "bases": {"ubuntu:22.04": {"digest": DIGEST, "locked": "2026-01-01T00:00:00Z"}}}


@hostile.FAST_PROPERTY
@given(
    document=st.one_of(
        hostile.yaml_documents(),
        st.tuples(st.integers(0, 50), hostile.json_values).map(
            lambda change: yaml.safe_dump(hostile.mutate(copy.deepcopy(_LOCK), *change))
        ),
    ),
    kind=st.sampled_from(hostile.PATH_KINDS),
)
def test_the_lock_reader_on_hostile_locks(document: str, kind: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        table = Path(directory) / "versions.yaml"
        if kind != "missing":
            hostile.hostile_path(Path(directory), "versions.lock.yaml", document, "file")
        if kind in ("directory", "fifo"):
            (Path(directory) / "versions.lock.yaml").unlink()
            (os.mkfifo if kind == "fifo" else os.mkdir)(Path(directory) / "versions.lock.yaml")
        hostile.assert_reader(lambda: read_lock(table, "versions.yaml"), "versions.lock.yaml: ")

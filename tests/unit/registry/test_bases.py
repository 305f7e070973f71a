"""Base images: looked up as Docker would (or at a mirror named per registry), locked by digest, and
checked against what their registry serves now (an in-memory registry stands in for skopeo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.registry.bases import BaseFinding, canonical, check_bases, lock_bases, lookup, parse_mirrors
from ci.table.load import load_table
from ci.table.lockfile import LockEntry, lock_path, read_lock, write_lock
from tests.unit.registry.conftest import FakeRegistries, as_registries, as_transport


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ubuntu:22.04", "docker.io/library/ubuntu:22.04"),
        (
            "nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04",
            "docker.io/nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04",
        ),
        ("ghcr.io/org/base:1", "ghcr.io/org/base:1"),
        ("localhost:5000/base:1", "localhost:5000/base:1"),
    ],
)
def test_bases_are_looked_up_as_docker_would(image: str, expected: str) -> None:
    assert str(canonical(image)) == expected


def test_mirrors(tmp_path: Path) -> None:
    mirrors = parse_mirrors(["docker.io=127.0.0.1:5000"])
    assert str(lookup("ubuntu:22.04", mirrors)) == "127.0.0.1:5000/library/ubuntu:22.04"
    assert str(lookup("ghcr.io/org/base:1", mirrors)) == "ghcr.io/org/base:1"
    for bad in ("docker.io", "=x:1", "docker.io=https://m/x"):
        with pytest.raises(UserError, match="--base-mirror"):
            parse_mirrors([bad])


OLD = "sha256:" + "1" * 64
NEW = "sha256:" + "2" * 64
BOOKWORM = "docker.io/library/debian:bookworm"
JAMMY = "docker.io/library/ubuntu:22.04"


def test_an_unchanged_lock_has_no_findings() -> None:
    fake = FakeRegistries({BOOKWORM: OLD})
    assert check_bases(as_registries(fake), {"debian:bookworm": OLD}, {}) == []


def test_a_moved_or_vanished_tag_warns_while_the_locked_digest_is_there() -> None:
    fake = FakeRegistries({BOOKWORM: OLD, JAMMY: OLD})
    fake.push(BOOKWORM, NEW)  # the tag moved; the old manifest is still there
    fake.tags.pop(JAMMY)  # the tag is gone, its manifest is not
    findings = check_bases(as_registries(fake), {"debian:bookworm": OLD, "ubuntu:22.04": OLD}, {})
    assert findings == [
        BaseFinding(
            "debian:bookworm",
            "warning",
            f"debian:bookworm has moved since it was locked (now {NEW}); building from the locked {OLD}; "
            "run `lock` to move it",
        ),
        BaseFinding(
            "ubuntu:22.04",
            "warning",
            f"ubuntu:22.04 no longer resolves; the locked {OLD} is still there and is what builds use",
        ),
    ]


def test_a_base_gone_entirely_is_an_error_naming_where_it_was_looked_up() -> None:
    fake = FakeRegistries({"127.0.0.1:5000/library/debian:bookworm": OLD})
    fake.forget("127.0.0.1:5000/library/debian:bookworm")
    (finding,) = check_bases(as_registries(fake), {"debian:bookworm": OLD}, {"docker.io": "127.0.0.1:5000"})
    assert finding.severity == "error"
    assert finding.message == (
        f"debian:bookworm: neither the tag nor the locked {OLD} resolves any more at 127.0.0.1:5000; "
        "choose another base in versions.yaml"
    )


def test_lock_writes_each_digest_as_the_mirror_serves_it(
    table_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeRegistries({"127.0.0.1:5000/library/debian:bookworm": OLD, "ghcr.io/org/base:1": NEW})
    table = load_table(table_copy)
    mirrors = {"docker.io": "127.0.0.1:5000"}
    images = ["debian:bookworm", "ghcr.io/org/base:1"]
    assert lock_bases(table, images, mirrors, as_transport(fake), check=False) == 0
    lock = read_lock(table_copy, "versions.yaml")
    assert {image: entry.digest for image, entry in lock.items()} == {
        "debian:bookworm": OLD,
        "ghcr.io/org/base:1": NEW,
    }
    out = capsys.readouterr().out
    assert f"locked debian:bookworm @ {OLD} (new)" in out
    assert out.endswith(f"lock: wrote 2 base(s) to {lock_path(table_copy)}\n")
    fake.push("127.0.0.1:5000/library/debian:bookworm", NEW)
    assert lock_bases(table, images, mirrors, as_transport(fake), check=False) == 0
    again = read_lock(table_copy, "versions.yaml")
    assert again["debian:bookworm"].digest == NEW
    assert again["ghcr.io/org/base:1"] == lock["ghcr.io/org/base:1"]  # unchanged: its time kept
    assert f"locked debian:bookworm @ {NEW} (was {OLD})" in capsys.readouterr().out


def test_lock_writes_nothing_when_a_base_does_not_resolve(
    table_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeRegistries({BOOKWORM: OLD})
    table = load_table(table_copy)
    assert lock_bases(table, ["debian:bookworm", "ubuntu:22.04"], {}, as_transport(fake), check=False) == 1
    assert capsys.readouterr().err == "error: lock: ubuntu:22.04 does not resolve at docker.io\n"
    assert not lock_path(table_copy).exists()


def test_lock_check_reports_without_writing(table_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_lock(table_copy, {"debian:bookworm": LockEntry("debian:bookworm", OLD, "t")})
    before = lock_path(table_copy).read_text()
    fake = FakeRegistries({BOOKWORM: NEW, JAMMY: OLD})
    table = load_table(table_copy)
    assert lock_bases(table, ["debian:bookworm", "ubuntu:22.04"], {}, as_transport(fake), check=True) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "unlocked: ubuntu:22.04 (builds use the tag; run `lock` to pin it)"
    assert out[1].startswith("warning: debian:bookworm has moved since it was locked")
    assert out[2] == "lock: 0 of 1 locked base(s) unchanged"
    assert lock_path(table_copy).read_text() == before
    fake.forget(BOOKWORM)
    assert lock_bases(table, ["debian:bookworm"], {}, as_transport(fake), check=True) == 1

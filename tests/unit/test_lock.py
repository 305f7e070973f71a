"""versions.lock.yaml: read strictly, written sorted, applied by the resolver to every spec of a base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ci import select
from ci.model.errors import UserError
from ci.model.paths import DEFAULT_TABLE
from ci.registry.bases import canonical, lookup, parse_mirrors
from ci.table.load import load_table
from ci.table.lockfile import LockEntry, lock_path, read_lock, write_lock
from ci.table.resolve import BuildRequest, resolve
from tests.unit.conftest import RunCli

DIGEST = "sha256:" + "c" * 64


@pytest.fixture
def table_copy(tmp_path: Path) -> Path:
    path = tmp_path / "versions.yaml"
    path.write_text(DEFAULT_TABLE.read_text())
    return path


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
        ("schema: [1\n", "cannot read the lock file"),
    ],
)
def test_a_malformed_lock_is_one_line_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "versions.lock.yaml").write_text(content)
    with pytest.raises(UserError, match=message) as err:
        read_lock(tmp_path / "versions.yaml", "versions.yaml")
    assert err.value.message.startswith("versions.lock.yaml: ")


def test_the_resolver_builds_from_the_locked_digest(table_copy: Path) -> None:
    request = BuildRequest(tf="2.15.0", python="3.11", variant="cpu", os="debian12", python_source="system")
    assert resolve(select.load(table_copy)[0], request).base_digest is None
    write_lock(table_copy, {"debian:bookworm": LockEntry("debian:bookworm", DIGEST, "t")})
    assert resolve(load_table(table_copy), request).base_digest is None  # the loader reads versions.yaml only
    spec = resolve(select.load(table_copy)[0], request)
    assert (spec.base_image, spec.base_digest) == ("debian:bookworm", DIGEST)
    assert ("org.opencontainers.image.base.digest", DIGEST) in spec.labels


def test_plan_shows_the_locked_digest(table_copy: Path, run_cli: RunCli) -> None:
    write_lock(table_copy, {"debian:bookworm": LockEntry("debian:bookworm", DIGEST, "t")})
    selectors = ("--tf", "2.15.0", "--python", "3.11", "--variant", "cpu", "--os", "debian12")
    code, out, _ = run_cli("plan", "--table", str(table_copy), *selectors)
    assert code == 0
    assert f"debian:bookworm@{DIGEST}" in out
    code, out, _ = run_cli("plan", "--table", str(table_copy), *selectors, "--format", "json")
    assert json.loads(out)[0]["base_digest"] == DIGEST


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


def test_lock_file_is_plain_yaml(tmp_path: Path) -> None:
    path = write_lock(tmp_path / "versions.yaml", {"a:1": LockEntry("a:1", DIGEST, "t")})
    assert yaml.safe_load(path.read_text()) == {
        "schema": 1,
        "bases": {"a:1": {"digest": DIGEST, "locked": "t"}},
    }

"""`lock` against a real registry: pin a base tag, see it in plan, notice when it moves or vanishes.

Why a base of its own (a copy of debian:bookworm under a test-only name in the local registry, which
mirrors docker.io): the test moves and deletes that tag, which it must never do to the base every
other test builds from.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from ci.model.paths import DEFAULT_TABLE
from ci.model.refs import parse as parse_reference
from ci.registry.skopeo import Registries
from tests.conftest import Infra
from tests.e2e import specs

pytestmark = [pytest.mark.engine]

REPO = Path(__file__).resolve().parents[2]
SELECT = specs.CPU_CLI_ARGS


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), *argv],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def skopeo(*argv: str) -> None:
    subprocess.run(["skopeo", *argv], check=True, capture_output=True, text=True)


def test_lock_pins_checks_and_refuses_a_vanished_base(infra: Infra, tmp_path: Path) -> None:
    name = f"tfci-e2e/lockbase-{secrets.token_hex(4)}"
    image = f"{name}:bookworm"  # as versions.yaml names it: docker.io, mirrored at infra.registry
    mirrored = f"{infra.registry}/{name}:bookworm"
    with Registries(plain_http=frozenset({infra.registry})) as client:
        debian = parse_reference(f"{infra.registry}/library/debian:bookworm")
        debian_digest = client.digest(debian)
        assert debian_digest is not None
        client.copy(debian.with_digest(debian_digest), parse_reference(mirrored))

    raw = yaml.safe_load(DEFAULT_TABLE.read_text())
    raw["os_bases"]["debian12"] = image
    table = tmp_path / "versions.yaml"
    table.write_text(yaml.safe_dump(raw, sort_keys=False))
    access = ("--base-mirror", f"docker.io={infra.registry}", "--plain-http", infra.registry)

    done = cli("lock", "--table", str(table), *SELECT, *access)
    assert done.returncode == 0, done.stderr
    assert f"locked {image} @ {debian_digest} (new)" in done.stdout
    lock = yaml.safe_load((tmp_path / "versions.lock.yaml").read_text())
    assert lock["bases"][image]["digest"] == debian_digest
    again = cli("lock", "--table", str(table), *SELECT, *access)
    assert f"locked {image} @ {debian_digest} (unchanged)" in again.stdout

    plan = cli("plan", "--table", str(table), *SELECT)
    assert f"{image}@{debian_digest}" in plan.stdout

    # The tag moves (same content, another manifest format: another digest): a warning, builds keep
    # the locked digest.
    skopeo("copy", "--format", "v2s2", "--src-tls-verify=false", "--dest-tls-verify=false",
           f"docker://{mirrored}", f"docker://{mirrored}")  # fmt: skip
    with Registries(plain_http=frozenset({infra.registry})) as client:
        moved = client.digest(parse_reference(mirrored))
    assert moved not in (None, debian_digest)
    check = cli("lock", "--table", str(table), "--check", *SELECT, *access)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"warning: {image} has moved since it was locked (now {moved})" in check.stdout

    # The tag and the locked digest vanish (as NVIDIA's end-of-life tags do): lock --check and the
    # build's preflight stop before any build work.
    skopeo("delete", "--tls-verify=false", f"docker://{infra.registry}/{name}@{moved}")
    skopeo("delete", "--tls-verify=false", f"docker://{infra.registry}/{name}@{debian_digest}")
    check = cli("lock", "--table", str(table), "--check", *SELECT, *access)
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"error: {image}: neither the tag nor the locked {debian_digest} resolves any more" in check.stdout
    started = time.monotonic()
    build = cli("build", "--table", str(table), *SELECT, *access, "--skip-service-checks")
    assert build.returncode == 1, build.stdout + build.stderr
    assert time.monotonic() - started < 60
    assert build.stderr.count("\n") == 1, build.stderr
    assert build.stderr.startswith(f"error: base image {image}: neither the tag nor the locked")
    assert "[build]" not in build.stderr

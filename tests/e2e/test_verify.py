"""`verify` against the live package index this machine reaches (PyPI, through the TLS proxy).

Why lean: the target rows only (`--all`, the images CI builds) and one broken row, so the test
stays within seconds to a minute; the full table is run by hand (README, *verify*). Needs no
engine, only the index: marked `network`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.specs import HOST_CA

pytestmark = [pytest.mark.network]

REPO = Path(__file__).resolve().parents[2]


def verify(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), *argv, "--ca-cert", str(HOST_CA)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_target_rows_verify_clean_against_the_live_index() -> None:
    done = verify("verify", "--all", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is True
    assert data["images"] == 15  # 11 targets, one subject per platform: the 4 CPU ones also linux/arm64
    assert [f for f in data["findings"] if f["kind"] == "error"] == []
    # A TensorFlow release newer than the table is news, reported as an update (exit 0).
    for finding in data["findings"]:
        assert finding["kind"] in ("update", "not-checked"), finding


def test_a_python_without_a_wheel_fails_live(tmp_path: Path) -> None:
    raw: dict[str, Any] = yaml.safe_load((REPO / "versions.yaml").read_text(encoding="utf-8"))
    row = next(r for r in raw["releases"] if r["tf"] == "2.5.3")
    row["python"].insert(0, "3.6")
    table = tmp_path / "versions.yaml"
    table.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    done = verify("--table", str(table), "verify", "--tf", "2.5.3", "--variant", "cpu", "--no-releases")
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "error: releases[6] (2.5.3): Python 3.6: tensorflow-cpu==2.5.3: no wheel for cp36 manylinux x86_64"
    ) in done.stdout

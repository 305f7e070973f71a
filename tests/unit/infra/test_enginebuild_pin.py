"""The engine built for tests is the version the SDK expects.

Why: the Python SDK and the dagger CLI/engine must be the same release; the
pin lives in pyproject.toml (dagger-io) and in tests/infra/enginebuild/go.mod,
and drifting apart fails only at run time with confusing API errors.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_dagger_io_pin_matches_engine_build_module() -> None:
    # A regex rather than tomllib: the project supports Python 3.10, which has no tomllib.
    pins = re.findall(r'"dagger-io\s*==\s*([^"\s]+)"', (REPO / "pyproject.toml").read_text())
    assert len(pins) == 1, f"pyproject.toml must pin dagger-io exactly once, found {pins}"
    sdk_version = pins[0]
    gomod = (REPO / "tests" / "infra" / "enginebuild" / "go.mod").read_text()
    match = re.search(r"^require github\.com/dagger/dagger v(\S+)$", gomod, re.M) or re.search(
        r"^\s+github\.com/dagger/dagger v(\S+)$", gomod, re.M
    )
    assert match, "tests/infra/enginebuild/go.mod does not require github.com/dagger/dagger"
    assert match.group(1) == sdk_version

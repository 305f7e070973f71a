"""The reviewed waiver file: the repository's own loads, and every malformed one is one line naming
the file, the entry and the field (exit 2), never half read."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.model.paths import DEFAULT_WAIVERS
from ci.model.vulns import Waiver
from ci.table.waivers import load_waivers

REASON = "fixed upstream in 3.0.23; rebuild pending"
GOOD = """waivers:
  - id: CVE-2025-0001
    package: openssl
    reason: "fixed upstream in 3.0.23; rebuild pending"
    expires: 2027-03-31
  - {id: GHSA-xxxx, package: jinja2, reason: "not reachable", expires: 2027-01-01, ecosystem: PyPI}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vuln-waivers.yaml"
    path.write_text(text)
    return path


def test_the_repositorys_waiver_file_loads() -> None:
    assert isinstance(load_waivers(DEFAULT_WAIVERS), tuple)


def test_a_good_file(tmp_path: Path) -> None:
    assert load_waivers(write(tmp_path, GOOD)) == (
        Waiver(
            "CVE-2025-0001",
            "openssl",
            "fixed upstream in 3.0.23; rebuild pending",
            datetime.date(2027, 3, 31),
        ),
        Waiver("GHSA-xxxx", "jinja2", "not reachable", datetime.date(2027, 1, 1), "PyPI"),
    )
    assert load_waivers(write(tmp_path, "waivers: []\n")) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("waivers: {}\n", "top level: field 'waivers': expected a list of waivers"),
        ("other: 1\nwaivers: []\n", "top level: field 'other': unknown key; valid keys: waivers"),
        ("[1, 2]\n", "top level: expected a mapping with keys waivers"),
        ("waivers:\n  - {id: X, package: p, reason: r}\n", "waivers[0]: field 'expires': missing (required)"),
        (
            "waivers:\n  - {id: X, package: p, reason: r, expires: '2027-01-01'}\n",
            "waivers[0]: field 'expires': expected a date like 2027-03-31 (unquoted YYYY-MM-DD); got the str",
        ),
        (
            "waivers:\n  - {id: X, package: p, reason: r, expires: 2027-01-01 10:00:00}\n",
            "waivers[0]: field 'expires': expected a date",
        ),
        (
            "waivers:\n  - {id: X, package: p, reason: '', expires: 2027-01-01}\n",
            "field 'reason': expected a non-empty",
        ),
        (
            "waivers:\n  - {id: X, package: p, reason: r, expires: 2027-01-01, until: x}\n",
            "field 'until': unknown key",
        ),
        (
            "waivers:\n  - {id: 7, package: p, reason: r, expires: 2027-01-01}\n",
            "field 'id': got the number 7",
        ),
        (
            "waivers:\n  - {id: X, package: p, reason: r, expires: 2027-01-01}\n"
            "  - {id: X, package: p, reason: s, expires: 2027-02-01}\n",
            "waivers[1]: field 'id': X for p is waived twice",
        ),
        ("waivers:\n  - id: X\n    id: Y\n", "duplicate key 'id'"),
        ("waivers: [\n", "invalid YAML"),
        (
            "waivers:\n  - {id: X, package: p, reason: r, expires: 2027-02-30}\n",
            "invalid YAML: day is out of range for month",
        ),
    ],
)
def test_a_malformed_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        load_waivers(write(tmp_path, text))
    assert message in err.value.message
    assert "\n" not in err.value.message


def test_a_missing_file_or_a_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"--waivers .*none.yaml: no such file"):
        load_waivers(tmp_path / "none.yaml")
    with pytest.raises(UserError, match=r"is a directory"):
        load_waivers(tmp_path)

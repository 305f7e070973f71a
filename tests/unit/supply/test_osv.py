"""Reading osv-scanner's JSON: one finding per advisory group and package, with the severity from
the CVSS score, else the advisory's own word, else UNKNOWN (the scanner itself runs in tests/e2e)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ci.model.errors import UserError
from ci.supply import osv
from ci.supply.osv import ScanError, Scanner, findings


def package(name: str, ecosystem: str, groups: list[dict[str, Any]], records: list[dict[str, Any]]) -> Any:
    return {
        "package": {"name": name, "version": "1.0", "ecosystem": ecosystem},
        "groups": groups,
        "vulnerabilities": records,
    }


OUTPUT = {
    "results": [
        {
            "source": {"path": "/tmp/image.cdx.json", "type": "sbom"},
            "packages": [
                package(
                    "openssl",
                    "Debian:12",
                    [{"ids": ["DSA-1", "CVE-1"], "aliases": ["CVE-1", "CVE-2"], "max_severity": "9.8"}],
                    [{"id": "DSA-1", "summary": "  bad\n thing "}, {"id": "CVE-1"}],
                ),
                package(
                    "jinja2",
                    "PyPI",
                    [{"ids": ["GHSA-1"], "aliases": ["GHSA-1"], "max_severity": ""}],
                    [{"id": "GHSA-1", "database_specific": {"severity": "MODERATE"}}],
                ),
                package(
                    "zlib",
                    "Debian:12",
                    [{"ids": ["DEBIAN-CVE-9"], "max_severity": ""}],
                    [{"id": "DEBIAN-CVE-9", "affected": [{"ecosystem_specific": {"urgency": "low"}}]}],
                ),
                package(
                    "glibc",
                    "Ubuntu:22.04:LTS",
                    [{"ids": ["UBUNTU-CVE-1"], "max_severity": ""}],
                    [{"id": "UBUNTU-CVE-1", "severity": [{"type": "Ubuntu", "score": "medium"}]}],
                ),
                package(
                    "bare",
                    "npm",
                    [{"ids": ["X-1"], "max_severity": ""}],
                    [{"id": "X-1", "details": "no summary"}],
                ),
            ],
        }
    ]
}


def test_findings_and_their_severity() -> None:
    found = findings(OUTPUT)
    assert [(f.id, f.package, f.ecosystem, f.severity, f.score) for f in found] == [
        ("DSA-1", "openssl", "Debian:12", "CRITICAL", 9.8),
        ("GHSA-1", "jinja2", "PyPI", "MEDIUM", None),
        ("DEBIAN-CVE-9", "zlib", "Debian:12", "LOW", None),
        ("UBUNTU-CVE-1", "glibc", "Ubuntu:22.04:LTS", "MEDIUM", None),
        ("X-1", "bare", "npm", "UNKNOWN", None),
    ]
    assert found[0].aliases == ("CVE-1", "CVE-2")
    assert found[0].summary == "bad thing"
    assert found[4].summary == "no summary"
    assert findings({"results": []}) == ()


def test_the_database_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(osv.DB_ENV, raising=False)
    assert osv.database(None) is None  # the scanner downloads
    assert osv.database(tmp_path) == tmp_path
    monkeypatch.setenv(osv.DB_ENV, str(tmp_path))
    assert osv.database(None) == tmp_path
    with pytest.raises(UserError, match=r"--vuln-db .*nowhere \(or \$TFCI_VULN_DB\): not a directory"):
        osv.database(tmp_path / "nowhere")


def test_a_scanner_that_cannot_run_is_a_failed_scan_not_a_clean_one(tmp_path: Path) -> None:
    with pytest.raises(ScanError, match="cannot run"):
        Scanner(tmp_path / "no-osv-scanner", tmp_path).scan('{"components": []}')

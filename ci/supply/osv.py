"""The vulnerability scan: osv-scanner reads the image's SBOM (its scan view) against the OSV database.

Why osv-scanner (google/osv-scanner v2) and not grype: its offline database is plain OSV JSON
records in one zip per ecosystem, so the tests run the real scanner on a small, reviewable fixture
database (tests/fixtures/osv, every record marked TEST DATA) built in milliseconds; grype's is a
sqlite schema-v6 database with a checksummed import manifest and an age check, which no one can
review in a pull request. osv-scanner reads CycloneDX directly, so promote can rescan the *attested*
SBOM without the image, and a scan takes well under a second. Its cost: OSV's Debian records name
source packages in `Debian:<major>` (ci/supply/scanview.py bridges syft's SBOM to that), and most
carry no CVSS vector (severity then comes from the advisory's own word, see `severity`).

Database: with a directory (`--vuln-db DIR` or $TFCI_VULN_DB, the scanner's offline layout
`DIR/osv-scalibr/<Ecosystem>/all.zip`) the scan is fully offline; without one, osv-scanner downloads
the databases of the ecosystems the SBOM holds into its own cache (what the GitHub workflow does).

osv-scanner's exit codes: 0 nothing found, 1 findings; anything else (no database, no packages, a
file name it does not recognise) is a failed scan, never a clean one.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ci.model.errors import UserError
from ci.model.vulns import Finding, Severity, from_score, from_word, rank
from ci.supply.scanview import scan_view

DB_ENV = "TFCI_VULN_DB"
SCANNER_DB_ENV = "OSV_SCALIBR_LOCAL_DB_CACHE_DIRECTORY"  # osv-scanner v2's offline database root
TIMEOUT_S = 600.0  # downloading the Debian database on a slow runner


def database(flag_value: Path | None) -> Path | None:
    """The offline database directory: --vuln-db, else $TFCI_VULN_DB, else None (download)."""
    value = flag_value or (Path(os.environ[DB_ENV]) if os.environ.get(DB_ENV) else None)
    if value is not None and not value.is_dir():
        raise UserError(f"--vuln-db {value} (or ${DB_ENV}): not a directory (osv-scanner's offline database)")
    return value


class ScanError(Exception):
    """The scan did not complete; the message is one line."""


@dataclass(frozen=True)
class Scanner:
    """osv-scanner and the database it reads (None: its own download)."""

    binary: Path
    database: Path | None = None

    def describe(self) -> str:
        where = (
            f"offline database {self.database}" if self.database else "OSV database downloaded by the scanner"
        )
        return f"osv-scanner {_version(self.binary)}, {where}"

    def scan(self, sbom: str) -> tuple[Finding, ...]:
        """The findings for a CycloneDX JSON SBOM (syft's; the scan view is derived here)."""
        view = json.dumps(scan_view(json.loads(sbom)))
        with tempfile.TemporaryDirectory(prefix="tfci-scan-") as tmp:
            path = Path(tmp) / "image.cdx.json"  # osv-scanner picks its reader by this suffix
            path.write_text(view, encoding="utf-8")
            argv = [str(self.binary), "scan", "source", "--lockfile", str(path), "--format", "json"]
            env = dict(os.environ)
            if self.database is not None:
                argv += ["--offline", "--offline-vulnerabilities"]
                env[SCANNER_DB_ENV] = str(self.database)
            else:
                argv += ["--offline-vulnerabilities", "--download-offline-databases"]
            try:
                done = subprocess.run(
                    argv, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False
                )
            except subprocess.TimeoutExpired:
                raise ScanError(f"osv-scanner did not finish within {TIMEOUT_S:.0f}s") from None
            except OSError as exc:
                raise ScanError(f"cannot run {self.binary}: {exc.strerror or exc}") from None
        if done.returncode not in (0, 1):
            raise ScanError(f"osv-scanner exited {done.returncode}: {_last_line(done.stderr)}")
        try:
            return findings(json.loads(done.stdout))
        except (ValueError, TypeError, KeyError) as exc:
            raise ScanError(f"osv-scanner's JSON output could not be read: {exc}") from None


@cache
def _version(binary: Path) -> str:
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "(version unknown)"
    first = out.stdout.splitlines()[0] if out.stdout.strip() else ""
    return first.rpartition(":")[2].strip() or "(version unknown)"


def _last_line(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else "(no output)")[:300]


# --------------------------------------------------------------------------- reading the output


def findings(output: Mapping[str, Any]) -> tuple[Finding, ...]:
    """osv-scanner's JSON (results[].packages[].groups/vulnerabilities) as one Finding per group.

    A group is one vulnerability and its aliases as osv-scanner deduplicated them for a package.
    """
    found: list[Finding] = []
    for result in output.get("results") or []:
        for entry in result.get("packages") or []:
            package = entry["package"]
            records = {r["id"]: r for r in entry.get("vulnerabilities") or []}
            for group in entry.get("groups") or []:
                ids = [str(i) for i in group.get("ids") or []]
                if not ids:
                    continue
                first = records.get(ids[0], {})
                found.append(
                    Finding(
                        id=ids[0],
                        aliases=tuple(sorted({*ids[1:], *map(str, group.get("aliases") or [])} - {ids[0]})),
                        package=str(package["name"]),
                        version=str(package.get("version", "")),
                        ecosystem=str(package.get("ecosystem", "")),
                        severity=severity(group, [records[i] for i in ids if i in records]),
                        score=_score(group),
                        summary=" ".join(str(first.get("summary") or first.get("details") or "").split())[
                            :200
                        ],
                    )
                )
    return tuple(found)


def _score(group: Mapping[str, Any]) -> float | None:
    """osv-scanner's max_severity: the highest CVSS base score of the group's records, or ""."""
    try:
        return float(group.get("max_severity") or "")
    except ValueError:
        return None


def severity(group: Mapping[str, Any], records: list[Mapping[str, Any]]) -> Severity:
    """The group's severity: the CVSS score when a record has a vector; else the worst word any
    record gives (GitHub's database_specific.severity, Debian's urgency, Ubuntu's priority); else
    UNKNOWN. osv-scanner itself computes only the CVSS part."""
    score = _score(group)
    if score is not None and (level := from_score(score)) is not None:
        return level
    words = [level for record in records for level in _words(record)]
    return max(words, key=rank) if words else "UNKNOWN"


def _words(record: Mapping[str, Any]) -> Iterator[Severity]:
    specific = record.get("database_specific")
    if isinstance(specific, Mapping) and (level := from_word(specific.get("severity"))):
        yield level
    for affected in record.get("affected") or []:
        eco = affected.get("ecosystem_specific") if isinstance(affected, Mapping) else None
        if isinstance(eco, Mapping) and (level := from_word(eco.get("urgency"))):
            yield level
    for entry in record.get("severity") or []:
        if (
            isinstance(entry, Mapping)
            and entry.get("type") == "Ubuntu"
            and (level := from_word(entry.get("score")))
        ):
            yield level

"""Build osv-scanner's offline database from the TEST DATA records in tests/fixtures/osv.

Why built, not committed: the records are reviewable JSON; the zips the scanner reads are made from
them in milliseconds, deterministically, after checking that every record says it is test data.
Layout (osv-scanner v2): DIR/osv-scalibr/<Ecosystem>/all.zip, one record per zip member; every
ecosystem an SBOM holds needs one, so the ones without records get an empty zip.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

RECORDS = Path(__file__).resolve().parent / "fixtures" / "osv"
ECOSYSTEMS = ("Debian", "PyPI", "npm", "Ubuntu")  # what the test images' SBOMs hold, and more


def build_db(out: Path, records: Path = RECORDS) -> Path:
    """Write the database under `out`; returns `out` (what --vuln-db / $TFCI_VULN_DB name)."""
    found = {d.name for d in records.iterdir() if d.is_dir()}
    for ecosystem in sorted(found | set(ECOSYSTEMS)):
        target = out / "osv-scalibr" / ecosystem / "all.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted((records / ecosystem).glob("*.json")):
                record = json.loads(path.read_text(encoding="utf-8"))
                assert record["id"] == path.stem, f"{path}: id {record['id']} is not the file name"
                assert "TEST DATA" in record["summary"], f"{path}: the summary must say TEST DATA"
                assert record["database_specific"]["tfimages_ci_fixture"] is True, path
                info = zipfile.ZipInfo(f"{record['id']}.json", date_time=(2026, 1, 1, 0, 0, 0))
                archive.writestr(info, json.dumps(record))
    return out

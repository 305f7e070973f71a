"""The reviewed vulnerability waiver file (vuln-waivers.yaml): one line per problem, exit 2.

Why a file in the repository and a strict reader: a waiver is a decision that a known vulnerability
may ship, so it goes through review like code, says why, and ends on a date (after which the gate
blocks again: ci/model/vulns.py). A malformed file must stop the command before anything is built
or copied, naming the entry and the field, never be half read.

    waivers:
      - id: CVE-2025-0001          # the advisory id or one of its aliases
        package: openssl           # as the scanner names it (Debian/Ubuntu: the SOURCE package)
        reason: "why shipping it is acceptable, and who decided"
        expires: 2027-03-31        # last day it applies (a YAML date: unquoted YYYY-MM-DD)
        ecosystem: "Debian:12"     # optional: only this ecosystem
"""

from __future__ import annotations

import datetime
from pathlib import Path

from ci.model.inputs import read_input
from ci.model.vulns import Waiver
from ci.table.fields import Row, display_name, kind, read_yaml

REQUIRED = ("id", "package", "reason", "expires")
OPTIONAL = ("ecosystem",)


def load_waivers(path: Path, flag: str = "--waivers") -> tuple[Waiver, ...]:
    """Read and check every waiver; any problem is a UserError naming the file, entry and field."""
    read_input(path, flag, "a waiver file (YAML)")  # missing, a directory, unreadable: one line
    shown = display_name(path)
    data = read_yaml(path, shown)  # an impossible date (2027-02-30) is one line there too
    top = Row(shown, "top level", data, ("waivers",))
    entries = top.raw("waivers")
    if not isinstance(entries, list):
        top.fail("waivers", f"expected a list of waivers (may be empty: []); got {kind(entries)}")
    waivers = [
        _waiver(Row(shown, f"waivers[{i}]", entry, REQUIRED, OPTIONAL)) for i, entry in enumerate(entries)
    ]
    seen: set[tuple[str, str, str | None]] = set()
    for i, waiver in enumerate(waivers):
        key = (waiver.id, waiver.package, waiver.ecosystem)
        if key in seen:
            Row(shown, f"waivers[{i}]", entries[i], REQUIRED, OPTIONAL).fail(
                "id", f"{waiver.id} for {waiver.package} is waived twice; keep one entry"
            )
        seen.add(key)
    return tuple(waivers)


def _waiver(row: Row) -> Waiver:
    expires = row.raw("expires")
    if isinstance(expires, datetime.datetime) or not isinstance(expires, datetime.date):
        row.fail("expires", f"expected a date like 2027-03-31 (unquoted YYYY-MM-DD); got {kind(expires)}")
    return Waiver(
        id=row.string("id"),
        package=row.string("package"),
        reason=row.string("reason"),
        expires=expires,
        ecosystem=row.opt_string("ecosystem"),
    )

"""Every Miniconda installer the table names (each row, Python and platform) against Anaconda's list.

Why: an installer is pinned by file name and sha256 per platform (Linux-x86_64, Linux-aarch64), and
the build refuses any other bytes; a typo in either would surface only when an image builds on
that platform. Anaconda publishes every installer's sha256 in `.files.json` next to the installers
(source: anaconda-files-json); one request answers every question. Unreachable (as from this
project's CI): one "not checked" finding, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import requests

from ci.verify.index import reason
from ci.verify.subjects import Subject

FILES_JSON = ".files.json"


@dataclass(frozen=True)
class InstallerFinding:
    kind: str  # "error" | "not-checked"
    row: str
    message: str
    python: str | None = None
    package: str | None = None


def installer_findings(
    subjects: Sequence[Subject], session: requests.Session, base_url: str, timeout: float = 60
) -> tuple[int, list[InstallerFinding]]:
    """(questions asked, findings) for the installers of the Miniconda subjects."""
    wanted: dict[tuple[str, str], Subject] = {}
    for subject in subjects:
        installer = subject.spec.miniconda
        if subject.spec.python_source == "miniconda" and installer is not None:
            wanted.setdefault((installer.filename, installer.sha256), subject)
    if not wanted:
        return 0, []
    url = base_url + FILES_JSON
    try:
        response = session.get(url, timeout=timeout)
        response.raise_for_status()
        listed = response.json()
        if not isinstance(listed, dict):
            raise ValueError("not a JSON object")
    except (requests.RequestException, ValueError) as exc:
        message = f"{url} unreachable ({reason(exc)}): {len(wanted)} installers' sha256 not compared"
        return 1, [InstallerFinding("not-checked", "installers", message)]
    findings: list[InstallerFinding] = []
    for (filename, sha256), subject in sorted(wanted.items()):
        entry = listed.get(filename)
        where = f"{subject.row.where} on {subject.platform}"
        if not isinstance(entry, dict):
            findings.append(
                InstallerFinding("error", where, f"{url} lists no {filename}", subject.python, filename)
            )
        elif entry.get("sha256") != sha256:
            found = entry.get("sha256")
            message = f"versions.yaml pins sha256 {sha256}, {url} lists {found}: a build refuses the file"
            findings.append(InstallerFinding("error", where, message, subject.python, filename))
    return len(wanted), findings

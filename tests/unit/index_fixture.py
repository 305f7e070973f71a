"""Recorded package-index responses for `verify`'s offline tests, and the recorder that makes them.

Why recorded and trimmed: PyPI's pages for tensorflow or numpy list thousands of files (megabytes);
`verify` needs only the files that answer its questions. The recorder runs `verify` live over the
whole shipped table and keeps, per project, the files that answered a question (its witnesses),
plus the core metadata it read. Replaying them answers every question exactly as the live index did
for this table: a question with no witness had no answer then, and has none now.

Re-record after changing versions.yaml (needs the network; the CA is the proxy's, if any):

    .venv/bin/python -m tests.unit.index_fixture --ca-cert /etc/ssl/certs/ca-certificates.crt

Replay: only the transport is replaced (a requests adapter serving the files), so pypi-simple still
parses PEP 691 JSON and ci.pkgindex still does all the rest. Hosts other than pypi.org and
files.pythonhosted.org are unreachable, as pypi.nvidia.com is from this project's CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "index"
PAGES = FIXTURES / "simple"
METADATA = FIXTURES / "metadata"
INDEX_HOST = "pypi.org"
FILES_HOST = "files.pythonhosted.org"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# Core metadata fields verify reads; the rest (descriptions, classifiers) is left out of the fixture.
_KEPT_FIELDS = (
    "Metadata-Version:",
    "Name:",
    "Version:",
    "Requires-Python:",
    "Provides-Extra:",
    "Requires-Dist:",
)


class ReplayAdapter(BaseAdapter):
    """Serves recorded pages and metadata; 404 for anything else on PyPI; other hosts unreachable."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: object
    ) -> requests.Response:
        url = request.url or ""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host not in (INDEX_HOST, FILES_HOST):
            raise requests.ConnectionError(f"replay: {host} is unreachable (recorded offline index)")
        body: bytes | None = None
        content_type = "text/plain"
        if host == INDEX_HOST and parts.path.startswith("/simple/"):
            project = parts.path.removeprefix("/simple/").strip("/")
            page = PAGES / f"{project}.json"
            if page.is_file():
                body, content_type = page.read_bytes(), JSON_TYPE
        elif host == FILES_HOST and parts.path.endswith(".metadata"):
            meta = METADATA / Path(parts.path).name
            if meta.is_file():
                body = meta.read_bytes()
        response = requests.Response()
        response.url = url
        response.request = request
        response.status_code = 200 if body is not None else 404
        response._content = body if body is not None else b"not recorded"
        response.headers = CaseInsensitiveDict({"Content-Type": content_type})
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def replay_session(ca_bundle: Path | None = None) -> requests.Session:
    session = requests.Session()
    session.mount("https://", ReplayAdapter())
    session.mount("http://", ReplayAdapter())
    return session


# --------------------------------------------------------------------------- recording


def _page(project: str, files: Sequence[Mapping[str, object]]) -> str:
    data = {"meta": {"api-version": "1.1"}, "name": project, "files": files}
    return json.dumps(data, indent=0, sort_keys=True) + "\n"


def record(ca_bundle: Path | None) -> int:
    from ci.table.load import load_table
    from ci.verify.check import verify
    from ci.verify.index import PackageIndex, make_session
    from ci.verify.subjects import subjects_for_rows

    table = load_table()
    index = PackageIndex(make_session(ca_bundle))
    report = verify(table, subjects_for_rows(table, table.releases), index, "https://pypi.org/simple/")
    if report.errors:
        print("\n".join(f.line() for f in report.errors), file=sys.stderr)
        print("the live index disagrees with versions.yaml: fix the table first", file=sys.stderr)
        return 1
    for directory in (PAGES, METADATA):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()
    for project, files in sorted(report.witnesses.items()):
        entries: list[dict[str, object]] = [
            {
                "filename": f.filename,
                "url": f.url,
                "hashes": {},  # PEP 691 requires the key; verify does not download files
                "requires-python": f.requires_python,
                "yanked": f.yanked,
            }
            for f in sorted(files, key=lambda f: f.filename)
        ]
        (PAGES / f"{project}.json").write_text(_page(project, entries), encoding="utf-8")
    for url, text in sorted(report.metadata.items()):
        kept = [line for line in text.splitlines() if line.startswith(_KEPT_FIELDS)]
        name = Path(urlsplit(url).path).name + ".metadata"
        (METADATA / name).write_text("\n".join(kept) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    print(f"recorded {len(report.witnesses)} projects, {len(report.metadata)} metadata files, {total} bytes")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="re-record the offline package index for verify's tests")
    parser.add_argument("--ca-cert", type=Path, help="CA bundle to trust (TLS-intercepting proxy)")
    sys.exit(record(parser.parse_args().ca_cert))

"""Miniconda installers against Anaconda's .files.json: a matching, a wrong and a missing one.

Why a served file: repo.anaconda.com is unreachable from this project's CI; the rule (compare the
table's file name and sha256 with the list, say "not checked" when the list cannot be read) is
what is tested, through a real requests session whose transport serves a list.
"""

from __future__ import annotations

import dataclasses
import json

import requests
from requests.adapters import BaseAdapter

from ci.model.spec import MinicondaInstaller
from ci.table.rows import Table
from ci.verify.installers import installer_findings
from ci.verify.subjects import Subject, subjects_for_rows

BASE = "https://repo.example/miniconda/"


class Served(BaseAdapter):
    def __init__(self, body: bytes | None) -> None:
        super().__init__()
        self.body = body

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:  # type: ignore[override]
        if self.body is None:
            raise requests.ConnectionError("no route to repo.example")
        response = requests.Response()
        response.status_code, response._content, response.url = 200, self.body, request.url or ""
        return response

    def close(self) -> None:
        pass


def _session(body: bytes | None) -> requests.Session:
    session = requests.Session()
    session.mount("https://", Served(body))
    return session


def _subjects(table: Table) -> list[Subject]:
    row = table.release("2.15.0")
    assert row is not None
    return [
        s for s in subjects_for_rows(table, [row], "3.11", ("cpu",)) if s.spec.python_source == "miniconda"
    ]


def test_each_platforms_installer_is_compared_with_the_list(table: Table) -> None:
    amd64, arm64 = _subjects(table)
    assert amd64.spec.miniconda is not None
    assert arm64.spec.miniconda is not None
    assert arm64.spec.miniconda.filename.endswith("-Linux-aarch64.sh")
    listed = {
        amd64.spec.miniconda.filename: {"sha256": amd64.spec.miniconda.sha256, "size": 1},
        arm64.spec.miniconda.filename: {"sha256": "0" * 64, "size": 1},
    }
    asked, findings = installer_findings([amd64, arm64], _session(json.dumps(listed).encode()), BASE)
    assert asked == 2
    (wrong,) = findings
    assert (wrong.kind, wrong.row, wrong.package) == (
        "error",
        "releases[16] (2.15.0) on linux/arm64",
        arm64.spec.miniconda.filename,
    )
    assert f"lists {'0' * 64}" in wrong.message

    gone = dataclasses.replace(
        arm64, spec=dataclasses.replace(arm64.spec, miniconda=MinicondaInstaller("x.sh", "1" * 64))
    )
    _, (missing,) = installer_findings([gone], _session(json.dumps(listed).encode()), BASE)
    assert missing.message == f"{BASE}.files.json lists no x.sh"


def test_an_unreachable_list_is_not_checked_never_passed(table: Table) -> None:
    asked, (finding,) = installer_findings(_subjects(table), _session(None), BASE)
    assert asked == 1
    assert finding.kind == "not-checked"
    assert "unreachable" in finding.message
    assert finding.message.endswith("2 installers' sha256 not compared")

"""`index`: several jobs' report indexes merged into one table, one index.json and the step summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci.report.files import write_run
from tests.unit import report_samples
from tests.unit.conftest import RunCli


def test_index_merges_jobs_and_keeps_links_working(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_run(tmp_path / "job1", [report_samples.report()])
    other = report_samples.report(ok=False, pushed=False)
    other.tags = ("2.15.0-python3.11-cpu-other",)
    write_run(tmp_path / "job2", [other])
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "all"
    code, stdout, _ = run_cli(
        "index",
        str(tmp_path / "job1" / "index.json"),
        str(tmp_path / "job2" / "index.json"),
        "--out",
        str(out),
    )
    assert code == 0
    assert stdout.startswith("# Built images")
    assert summary.read_text() == stdout + "\n"
    merged = json.loads((out / "index.json").read_text())
    assert [e["tag"] for e in merged["images"]] == [
        report_samples.report().tags[0],
        "2.15.0-python3.11-cpu-other",
    ]
    for entry in merged["images"]:
        assert (out / entry["markdown"]).is_file()
    assert "[report](../job1/" in (out / "index.md").read_text()  # links relative to the merged index


def test_index_of_something_else_is_exit_2(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "x.json").write_text("[]")
    code, _, err = run_cli("index", str(tmp_path / "x.json"))
    assert code == 2
    assert err.startswith("error: INDEX_JSON ")
    assert "x.json: not a build results file" in err
    code, _, err = run_cli("index", str(tmp_path / "missing.json"))
    assert code == 2
    assert "missing.json" in err

"""`index`: several jobs' report indexes merged into one table, one index.json and the step summary."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from ci.report.files import write_run
from tests.unit import report_samples
from tests.unit.conftest import RunCli

GITHUB_RUN = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")


def test_index_merges_jobs_into_a_directory_complete_on_its_own(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_STEP_SUMMARY", *GITHUB_RUN):
        monkeypatch.delenv(name, raising=False)
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
    # CI uploads only the merged directory: its links must work without the jobs' directories.
    uploaded = tmp_path / "downloaded"
    shutil.copytree(out, uploaded)
    shutil.rmtree(tmp_path / "job1")
    shutil.rmtree(tmp_path / "job2")
    for entry in json.loads((uploaded / "index.json").read_text())["images"]:
        for key in ("report", "markdown", "sbom"):
            assert (uploaded / entry[key]).is_file(), (key, entry[key])
    links = re.findall(r"\[report\]\(([^)]+)\)", (uploaded / "index.md").read_text())
    assert len(links) == 2
    assert all((uploaded / link).is_file() for link in links)


def test_a_planned_image_without_a_report_gets_a_failed_row(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build job that died before writing its index.json must still show up in the run table."""
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for name, value in zip(GITHUB_RUN, ("https://github.com", "MyOrg/tf-images", "42"), strict=True):
        monkeypatch.setenv(name, value)
    write_run(tmp_path / "job1", [report_samples.report()])
    summary.write_text("")
    matrix = json.dumps({"include": [{"tag": report_samples.TAG}, {"tag": "2.16.1-python3.11-cpu-died"}]})
    index = str(tmp_path / "job1" / "index.json")
    code, stdout, _ = run_cli("index", index, "--matrix", matrix, "--out", str(tmp_path / "all"))
    assert code == 0
    merged = json.loads((tmp_path / "all" / "index.json").read_text())["images"]
    assert [(e["tag"], e["ok"]) for e in merged] == [
        (report_samples.TAG, True),
        ("2.16.1-python3.11-cpu-died", False),
    ]
    assert merged[1]["checks"][0]["message"].startswith("no report: the job ended before writing one")
    assert "| `2.16.1-python3.11-cpu-died` | FAILED: report |" in stdout
    # On the run's page a relative link leads nowhere: the summary links the run's artifacts.
    run = "https://github.com/MyOrg/tf-images/actions/runs/42"
    assert f"[artifacts]({run}#artifacts)" in summary.read_text()
    assert f"[job log]({run})" in summary.read_text()
    assert "](2.15.0" not in summary.read_text()
    # Every job died: the table still lists the whole matrix.
    code, stdout, _ = run_cli("index", "--matrix", matrix)
    assert code == 0
    assert stdout.count("FAILED: report") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--matrix", "not json"], "--matrix: not JSON"),
        (["--matrix", '{"include": [{"args": "--tf 2.15.0"}]}'], "--matrix: expected the `matrix`"),
        ([], "give INDEX_JSON files, --matrix JSON, or both"),
    ],
)
def test_bad_matrix_is_one_line_exit_2(run_cli: RunCli, argv: list[str], message: str) -> None:
    code, _, err = run_cli("index", *argv)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_index_of_something_else_is_exit_2(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "x.json").write_text("[]")
    code, _, err = run_cli("index", str(tmp_path / "x.json"))
    assert code == 2
    assert err.startswith("error: INDEX_JSON ")
    assert "x.json: not a build results file" in err
    code, _, err = run_cli("index", str(tmp_path / "missing.json"))
    assert code == 2
    assert "missing.json" in err

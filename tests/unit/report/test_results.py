"""index.json, the handoff from a build job to promote and index: written in one shape, read back
strictly, every problem one line naming the file and the field."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.model.errors import UserError
from ci.report.files import write_run
from ci.report.markdown import index_markdown
from ci.report.model import CheckReport, failed
from ci.report.results import (
    INDEX_JSON,
    SCHEMA,
    ResultsFile,
    RunResult,
    index_entry,
    index_json,
    read_index,
    read_indexes,
    read_results,
    result_entry,
    summary_json,
)
from tests.unit import hostile, report_samples
from tests.unit.report_samples import TAG


def test_indexes_of_several_jobs_merge_into_one_table(tmp_path: Path) -> None:
    write_run(tmp_path / "job1", [report_samples.report()])
    other = report_samples.report(ok=False)
    other.tags = ("2.15.0-python3.11-cpu-other",)
    write_run(tmp_path / "job2", [other])
    entries = read_indexes([tmp_path / "job1" / "index.json", tmp_path / "job2" / "index.json"])
    assert [e["tag"] for e in entries] == [TAG, "2.15.0-python3.11-cpu-other"]
    assert entries[0]["markdown"] == str(tmp_path / "job1" / TAG / "report.md")
    table = index_markdown(entries)
    assert "FAILED: zh_CN.UTF-8 locale" in table
    (tmp_path / "bad.json").write_text('{"schema": 2}')
    with pytest.raises(UserError, match=r"bad\.json: not a build results file"):
        read_indexes([tmp_path / "bad.json"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"schema": 9}', "not a build results file"),
        ('{"schema": 1, "images": {}}', "'images' must be a list"),
        ('{"schema": 1, "images": [{"tag": "", "tags": [], "ok": true}]}', "'tag' must be"),
        ('{"schema": 1, "images": [{"tag": "t", "tags": ["t"], "ok": "yes"}]}', "'ok' must be"),
        (
            '{"schema": 1, "images": [{"tag": "t", "tags": ["t"], "ok": true, "pushed": {"tag": "t"}}]}',
            "'pushed.repository'",
        ),
    ],
)
def test_results_files_are_read_strictly(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "index.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        read_results(path)


def test_results_round_trip(tmp_path: Path) -> None:
    from ci.report.files import write_run
    from ci.report.model import CheckReport, PushedImage, passed

    report = CheckReport("t", [passed("build", "ok")], tags=("t", "a1"))
    report.pushed = PushedImage("r.example/org/s", "t", "sha256:" + "b" * 64)
    path = write_run(tmp_path, [report])
    assert json.loads(path.read_text())["images"][0]["pushed"]["digest"] == "sha256:" + "b" * 64
    (result,) = read_results(tmp_path)
    assert (result.tag, result.tags, result.ok, result.pushed) == ("t", ("t", "a1"), True, report.pushed)


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_entries_written_by_result_entry_read_back_as_run_results(tmp_path: Path) -> None:
    good = report_samples.report()
    untagged = CheckReport("r.example/tf:local", [failed("smoke", "no")])
    path = _write(tmp_path / INDEX_JSON, index_json([result_entry(good), result_entry(untagged)]))
    found = read_index(tmp_path)  # a directory means its index.json
    assert found.path == path
    assert found.entries == tuple(json.loads(path.read_text())["images"])
    assert found.results == (
        RunResult(TAG, (TAG, "2.15.0-cpu"), True, good.pushed, str(path)),
        RunResult("r.example/tf:local", ("r.example/tf:local",), False, None, str(path)),
    )
    assert found.entries[0]["checks"][0] == {
        "name": "build",
        "status": "pass",
        "message": "built in 82s",
        "seconds": None,
        "platform": "linux/amd64",
    }


def test_summary_and_index_entries_add_facts_and_file_paths() -> None:
    rep = report_samples.report()
    summary = summary_json(rep)
    assert summary["digest"] == report_samples.DIGEST
    assert summary["image_id"] == report_samples.CONFIG
    assert summary["versions"]["python"] == "3.11.2"
    bare = summary_json(report_samples.report(with_facts=False))
    assert (bare["digest"], bare["image_id"], bare["uncompressed_size"], bare["versions"]) == (
        None,
        None,
        None,
        {},
    )
    entry = index_entry(rep, {"report": f"{TAG}/report.json", "other": "x"})
    assert (entry["report"], entry["markdown"], entry["sbom"]) == (f"{TAG}/report.json", None, None)
    assert "other" not in entry
    assert index_json([entry]) == {"schema": SCHEMA, "images": [entry]}


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("x", "images[0]: expected an object"),
        ({"tag": "t", "tags": "t", "ok": True}, "images[0]: field 'tags' must be a list of tags"),
        (
            {"tag": "t", "tags": ["t", ""], "ok": True},
            "images[0]: field 'tags[1]' must be a non-empty string without whitespace",
        ),
        (
            {"tag": "t", "tags": ["t"], "ok": True, "checks": [{"name": "x", "status": "ok"}]},
            "images[0]: field 'checks' must be a list of "
            "{name, status: pass|fail|not-checked, message, seconds, platform}",
        ),
        (
            {"tag": "t", "tags": ["t"], "ok": True, "report": 3},
            "images[0]: field 'report' must be a path or null",
        ),
        (
            {"tag": "t", "tags": ["t"], "ok": True, "pushed": "r/x:t"},
            "images[0]: field 'pushed' must be an object or null",
        ),
        (
            {
                "tag": "t",
                "tags": ["t"],
                "ok": True,
                "pushed": {"repository": "r/x", "tag": "t", "digest": ""},
            },
            "images[0]: field 'pushed.digest' must be a non-empty string",
        ),
    ],
)
def test_a_bad_entry_is_one_line_naming_flag_file_entry_and_field(
    tmp_path: Path, image: object, problem: str
) -> None:
    path = _write(tmp_path / "index.json", {"schema": SCHEMA, "images": [image]})
    with pytest.raises(UserError) as err:
        read_index(path, "INDEX_JSON")
    assert err.value.message == f"INDEX_JSON {path}: {problem}"


def test_unreadable_files_are_one_line(tmp_path: Path) -> None:
    assert (
        _message(lambda: read_index(tmp_path / "none.json"))
        == f"--results {tmp_path / 'none.json'}: no such file"
    )
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe")
    assert _message(lambda: read_index(binary)).startswith(f"--results {binary}: not UTF-8 text")
    truncated = tmp_path / "cut.json"
    truncated.write_text('{"schema": 1, "images": [')
    assert _message(lambda: read_index(truncated)).startswith(f"--results {truncated}: not JSON (")
    listing = _write(tmp_path / "list.json", [])
    assert _message(lambda: read_index(listing)) == (
        f"--results {listing}: not a build results file (expected schema {SCHEMA})"
    )


def _message(call: Callable[[], object]) -> str:
    with pytest.raises(UserError) as err:
        call()
    assert "\n" not in err.value.message
    return err.value.message


# --------------------------------------------------------------------------- property (issue 16)


@hostile.PROPERTY
@given(document=hostile.index_documents(), kind=st.sampled_from(hostile.PATH_KINDS))
def test_the_results_reader_on_hostile_index_files(document: str, kind: str) -> None:
    """Any index.json: read (and then its table renders without a stray heading or row), or one
    line naming the file and the field."""
    with tempfile.TemporaryDirectory() as directory:
        path = hostile.hostile_path(Path(directory), "index.json", document, kind)
        found: list[ResultsFile] = []
        hostile.assert_reader(lambda: found.append(read_index(path)), f"--results {path}")
        for results in found:
            table = index_markdown(list(results.entries)).splitlines()
            assert [line for line in table if line.startswith("#")] == ["# Built images"]
            assert all(line.startswith("|") for line in table[2:] if line), table

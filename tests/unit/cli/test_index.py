"""`index`: several jobs' report indexes merged into one table, one index.json and the step summary."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.report.files import write_run
from ci.report.model import CheckResult
from tests.unit import hostile, report_samples
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


def test_the_platform_jobs_of_one_tag_keep_their_own_files(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workflow builds each platform of a tag in its own job: both reports reach the run's
    directory (one per platform directory), neither overwrites the other."""
    for name in ("GITHUB_STEP_SUMMARY", *GITHUB_RUN):
        monkeypatch.delenv(name, raising=False)
    amd64 = report_samples.report(pushed=False)
    arm64 = report_samples.report(pushed=False, platform="linux/arm64")
    arm64.add(CheckResult("runs as its platform", "fail", "x86_64"))
    write_run(tmp_path / "amd64", [amd64])
    write_run(tmp_path / "arm64", [arm64])
    out = tmp_path / "all"
    code, stdout, _ = run_cli(
        "index",
        str(tmp_path / "amd64" / "index.json"),
        str(tmp_path / "arm64" / "index.json"),
        "--out",
        str(out),
    )
    assert code == 0
    tag = report_samples.TAG
    files = [entry["markdown"] for entry in json.loads((out / "index.json").read_text())["images"]]
    assert files == [f"{tag}/linux-amd64/report.md", f"{tag}/linux-arm64/report.md"]
    assert "(linux/arm64): FAILED" in (out / files[1]).read_text()
    assert f"| `{tag}` | linux/amd64 | passed |" in stdout
    assert f"| `{tag}` | linux/arm64 | FAILED: runs as its platform |" in stdout


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
    assert "| `2.16.1-python3.11-cpu-died` | - | FAILED: report |" in stdout
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


GOOD = {"tag": "t1", "tags": ["t1"], "ok": True, "checks": [{"name": "build", "status": "pass"}]}


def _image(**changes: object) -> dict[str, object]:
    image = {**GOOD, **changes}
    return {k: v for k, v in image.items() if v is not _DROP}


_DROP = object()

MALFORMED: list[tuple[str, object, str]] = [
    ("no-tag", {"schema": 1, "images": [_image(tag=_DROP)]}, "images[0]: field 'tag'"),
    ("no-ok", {"schema": 1, "images": [_image(ok=_DROP)]}, "images[0]: field 'ok'"),
    ("tag-number", {"schema": 1, "images": [_image(tag=5)]}, "images[0]: field 'tag'"),
    ("tag-newline", {"schema": 1, "images": [_image(tag="a\n# b")]}, "images[0]: field 'tag'"),
    ("tags-dict", {"schema": 1, "images": [_image(tags={"a": 1})]}, "images[0]: field 'tags'"),
    ("ok-string", {"schema": 1, "images": [_image(ok="true")]}, "images[0]: field 'ok'"),
    ("checks-string", {"schema": 1, "images": [_image(checks="x")]}, "field 'checks'"),
    ("check-no-status", {"schema": 1, "images": [_image(checks=[{"name": "x"}])]}, "field 'checks'"),
    (
        "check-seconds",
        {"schema": 1, "images": [_image(checks=[{"name": "x", "status": "pass", "seconds": "1"}])]},
        "field 'checks'",
    ),
    ("image-id-list", {"schema": 1, "images": [_image(image_id=[1])]}, "field 'image_id'"),
    ("size-string", {"schema": 1, "images": [_image(compressed_size="1 GB")]}, "field 'compressed_size'"),
    ("size-bool", {"schema": 1, "images": [_image(uncompressed_size=True)]}, "field 'uncompressed_size'"),
    ("size-negative", {"schema": 1, "images": [_image(uncompressed_size=-1)]}, "field 'uncompressed_size'"),
    ("versions-list", {"schema": 1, "images": [_image(versions=["2.15"])]}, "field 'versions'"),
    ("version-number", {"schema": 1, "images": [_image(versions={"python": 3.11})]}, "field 'versions'"),
    ("markdown-number", {"schema": 1, "images": [_image(markdown=1)]}, "field 'markdown'"),
    (
        "pushed-digest",
        {
            "schema": 1,
            "images": [_image(pushed={"repository": "r.example/x", "tag": "t1", "digest": "sha256:x"})],
        },
        "field 'pushed.digest'",
    ),
    (
        "pushed-repo",
        {
            "schema": 1,
            "images": [
                _image(pushed={"repository": "u:pw@r.example/x", "tag": "t1", "digest": "sha256:" + "a" * 64})
            ],
        },
        "field 'pushed.repository' '***@r.example/x'",
    ),
    ("images-null", {"schema": 1, "images": None}, "field 'images' must be a list"),
    ("schema-string", {"schema": "1", "images": []}, "not a build results file"),
]


@pytest.mark.parametrize(("content", "problem"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_a_malformed_index_is_one_line_naming_the_file_and_field(
    tmp_path: Path, run_cli: RunCli, content: object, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, finding 13: 19 of 39 malformed index.json files crashed `index`."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    path = tmp_path / "index.json"
    path.write_text(json.dumps(content))
    code, out, err = run_cli("index", str(path))
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1
    assert err.startswith(f"error: INDEX_JSON {path}: ")
    assert problem in err
    assert "pw@" not in err


def test_deep_nesting_and_huge_numbers_name_the_file(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "index.json"
    path.write_text('{"schema": 1, "images": [{"versions": ' + "[" * 100_000 + "]" * 100_000 + "}]}")
    code, _, err = run_cli("index", str(path))
    assert code == 2
    assert err.startswith(f"error: INDEX_JSON {path}: images[0].versions[0]")
    assert "nested deeper than 32 levels" in err
    path.write_text('{"schema": 1, "images": [{"compressed_size": ' + "1" * 5000 + "}]}")
    code, _, err = run_cli("index", str(path))
    assert (code, err.count("\n")) == (2, 1)
    assert "images[0].compressed_size: an integer of 5000 digits" in err


def test_bad_outputs_are_refused_before_anything_is_written(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--out that is a file, under a file, or too long a name; a directory as $GITHUB_STEP_SUMMARY."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_run(tmp_path / "job", [report_samples.report()])
    index = str(tmp_path / "job" / "index.json")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out, problem in (
        (a_file, "exists and is not a directory"),
        (a_file / "sub", f"{a_file} is not a directory"),
        (tmp_path / ("d" * 300), "a name in it is longer than 255 bytes"),
    ):
        code, stdout, err = run_cli("index", index, "--out", str(out))
        assert (code, stdout) == (2, ""), err
        assert err == f"error: --out {out}: {problem}\n"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))
    code, stdout, err = run_cli("index", index)
    assert (code, stdout) == (2, "")
    assert err == f"error: $GITHUB_STEP_SUMMARY {tmp_path}: is a directory; give a file name\n"


# --------------------------------------------------------------------------- property (issue 16)


@hostile.PROPERTY
@given(data=st.data())
def test_index_on_hostile_command_lines(data: st.DataObject, tmp_path: Path) -> None:
    files = hostile.hostile_files(tmp_path / "files")
    document = hostile.write(tmp_path / "generated.json", data.draw(hostile.index_documents()))
    paths = st.sampled_from([str(p) for p in (*files, document)])
    argv = [
        "index",
        *data.draw(st.lists(st.one_of(paths, paths, hostile.text), min_size=1, max_size=3)),
        *data.draw(
            st.sampled_from([[], ["--out"]]).flatmap(
                lambda out: (
                    st.just(out) if not out else st.one_of(paths, hostile.text).map(lambda v: ["--out", v])
                )
            )
        ),
    ]
    summary = data.draw(st.sampled_from(["", str(tmp_path), str(tmp_path / "summary.md"), "/dev/zero/x"]))
    hostile.assert_contained(*hostile.run(argv, {"GITHUB_STEP_SUMMARY": summary} if summary else {}), argv)

"""The run's report files: index.json (the promote handoff shape), per-image JSON and Markdown,
the step summary, and merging the indexes of several CI jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.report import files as report_write
from ci.report.files import write_run
from ci.report.markdown import human_size, image_markdown, index_markdown
from ci.report.results import read_indexes
from tests.unit import report_samples

TAG = "2.15.0-python3.11-cpu-debian12"


def test_human_size_uses_docker_decimal_units() -> None:
    assert [human_size(n) for n in (999, 1000, 742_601_984, 2_182_371_840, None)] == [
        "999 B",
        "1.0 kB",
        "742.6 MB",
        "2.18 GB",
        "?",
    ]


def test_write_run_lays_out_every_file_and_the_handoff_index(tmp_path: Path) -> None:
    failed = report_samples.report(ok=False, pushed=False, with_facts=False)
    failed.image = failed.tags[0] + "-broken"
    failed.tags = (failed.image,)
    index_path = write_run(tmp_path, [report_samples.report(), failed])
    assert index_path == tmp_path / "index.json"
    index = json.loads(index_path.read_text())
    assert index["schema"] == 1
    good, bad = index["images"]
    # The shape promote --results reads (issue 8), then this report's extra fields.
    assert {"tag", "tags", "ok", "pushed", "checks"} <= good.keys()
    assert good["tag"] == TAG
    assert good["tags"] == [TAG, "2.15.0-cpu"]
    assert good["ok"] is True
    assert good["pushed"] == {
        "repository": "127.0.0.1:5000/tfci/tensorflow",
        "tag": TAG,
        "digest": report_samples.DIGEST,
    }
    assert good["checks"][1] == {
        "name": "tensorflow smoke test",
        "status": "pass",
        "message": "tf.Tensor(1.0, shape=(), dtype=float32)",
        "seconds": 4.02,
    }
    assert good["image_id"] == report_samples.CONFIG
    assert good["uncompressed_size"] == 3_000_000
    assert good["versions"]["tensorflow"] == "2.15.0"
    assert (good["report"], good["markdown"], good["sbom"]) == (
        f"{TAG}/report.json",
        f"{TAG}/report.md",
        f"{TAG}/sbom.cdx.json",
    )
    for key in ("report", "markdown", "sbom"):
        assert (tmp_path / good[key]).is_file()
    assert bad["ok"] is False
    assert bad["pushed"] is None
    assert bad["sbom"] is None
    assert bad["image_id"] is None
    assert not (tmp_path / bad["tag"] / "sbom.cdx.json").exists()
    assert (
        "| `2.15.0-python3.11-cpu-debian12` | passed | `bbbbbbbbbbbb` | 3.0 MB | 1.0 MB |"
        in (tmp_path / "index.md").read_text()
    )


def test_report_json_has_layers_steps_and_packages(tmp_path: Path) -> None:
    write_run(tmp_path, [report_samples.report()])
    data = json.loads((tmp_path / TAG / "report.json").read_text())
    assert data["digest"] == report_samples.DIGEST
    assert [layer["step"] for layer in data["layers"]] == ["base", "os_packages", "tensorflow"]
    assert data["layers"][0]["uncompressed_size"] == 1_500_000
    assert data["steps"][1] == {
        "name": "os_packages",
        "seconds": 20.25,
        "layers": 1,
        "operations": ["with_exec"],
    }
    assert data["packages"]["dpkg"][0] == {"name": "curl", "version": "7.88.1-10+deb12u5", "arch": "amd64"}
    assert data["packages"]["conda"][0]["build"] == "h7f8727e_0"
    assert data["pieces"] == ["os", "versions", "dpkg", "pip", "conda"]
    assert data["timings"] == {"build": 82.0, "checks": 10.0}


def test_markdown_shows_sizes_checks_steps_layers_and_packages() -> None:
    text = image_markdown(report_samples.report(ok=False))
    assert text.startswith(f"# `{TAG}`: FAILED")
    assert "| size | 3.0 MB unpacked, 1.0 MB compressed, 3 layers |" in text
    assert "| ❌ FAIL | zh_CN.UTF-8 locale | 0.3 | `locale -a` has no zh_CN.utf8 \\| oops |" in text
    assert "| ⚪ not checked | GPU visible to TensorFlow | 0.0 |" in text
    assert "| os_packages | 20.2 | 1 | 400.0 kB | 1.2 MB |" in text
    assert (
        "| 2 | os_packages | 400.0 kB | 1.2 MB | mount / from exec bash -euo pipefail -c apt-get \\| x |"
        in text
    )
    assert "## Debian packages (dpkg): 2" in text
    assert "| curl | 7.88.1-10+deb12u5 | amd64 |" in text
    assert "CUDA" not in text  # a CPU image has no CUDA piece
    short = image_markdown(report_samples.report(), packages=False, level=2)
    assert short.startswith("## ")
    assert "| curl |" not in short


def test_gpu_markdown_has_cuda_rows() -> None:
    rep = report_samples.report()
    rep.facts = report_samples.facts("gpu")
    text = image_markdown(rep)
    assert "| CUDA | 12.2.140 (pip nvidia-cuda-runtime-cu12) |" in text
    assert "| cuDNN | 8.9.4.25 (-) |" in text


def test_step_summary_is_appended_only_when_github_sets_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(report_write.STEP_SUMMARY_ENV, raising=False)
    write_run(tmp_path / "a", [report_samples.report()])
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv(report_write.STEP_SUMMARY_ENV, str(summary))
    write_run(tmp_path / "b", [report_samples.report()])
    text = summary.read_text()
    assert text.startswith("earlier step\n# Built images")
    assert f"## `{TAG}`: passed" in text
    assert "| curl |" not in text  # package tables stay in the artifact


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

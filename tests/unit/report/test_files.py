"""The run's report files: index.json (the promote handoff shape), per-image JSON and Markdown,
the step summary, and merging the indexes of several CI jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci.report import files as report_write
from ci.report.files import write_run
from tests.unit import report_samples
from tests.unit.report_samples import TAG


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
    assert data["provenance"] == report_samples.PROVENANCE  # created, revision, source, version


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

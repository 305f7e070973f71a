"""The run's report files: index.json (the promote handoff shape), per-image JSON and Markdown,
the step summary, and merging the indexes of several CI jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.report import files as report_write
from ci.report.files import write_index, write_run
from ci.report.results import read_indexes
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
        "platforms": {"linux/amd64": report_samples.DIGEST},
    }
    assert good["checks"][1] == {
        "name": "tensorflow smoke test",
        "status": "pass",
        "message": "tf.Tensor(1.0, shape=(), dtype=float32)",
        "seconds": 4.02,
        "platform": "linux/amd64",
    }
    (platform,) = good["platforms"]
    assert platform["platform"] == "linux/amd64"
    assert (platform["digest"], platform["report"]) == (report_samples.DIGEST, f"{TAG}/report.json")
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
        "| `2.15.0-python3.11-cpu-debian12` | linux/amd64 | passed | `bbbbbbbbbbbb` | 3.0 MB | 1.0 MB |"
        in (tmp_path / "index.md").read_text()
    )


def test_an_image_of_two_platforms_gets_files_per_platform_and_one_entry(tmp_path: Path) -> None:
    """One report per platform, each in DIR/<tag>/<os>-<arch>/; the entry names both digests."""
    amd64 = report_samples.report(pushed=False)
    arm64 = report_samples.report(pushed=False, platform="linux/arm64")
    assert arm64.facts is not None
    arm64.facts.digest = "sha256:" + "e" * 64
    index = json.loads(write_run(tmp_path, [amd64, arm64]).read_text())
    (entry,) = index["images"]
    assert [p["platform"] for p in entry["platforms"]] == ["linux/amd64", "linux/arm64"]
    assert [p["digest"] for p in entry["platforms"]] == [report_samples.DIGEST, "sha256:" + "e" * 64]
    # Not pushed: the digest is the one of the image index a publish would push (canonical order).
    assert entry["digest"] not in (report_samples.DIGEST, "sha256:" + "e" * 64)
    assert entry["digest"].startswith("sha256:")
    assert [c["platform"] for c in entry["checks"]] == ["linux/amd64"] * 3 + ["linux/arm64"] * 3
    for platform in entry["platforms"]:
        for key in ("report", "markdown", "sbom"):
            assert platform[key].startswith(f"{TAG}/{platform['platform'].replace('/', '-')}/")
            assert (tmp_path / platform[key]).is_file()
    assert arm64.facts.sbom is not None
    assert (tmp_path / entry["platforms"][1]["sbom"]).read_text() == arm64.facts.sbom  # syft's, as written
    table = (tmp_path / "index.md").read_text()
    assert f"| `{TAG}` | linux/amd64 | passed |" in table
    assert f"| `{TAG}` | linux/arm64 | passed |" in table


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
    assert data["packages"]["deb"][1] == {
        "name": "openssl",
        "version": "3.0.22-1~deb12u2",
        "arch": "amd64",
        "licenses": ["Apache-2.0", "GPL-1.0-only", "GPL-1.0-or-later", "Artistic"],
    }
    assert list(data["packages"]) == ["deb", "pypi", "npm", "other"]
    assert data["pieces"] == ["os", "versions"]
    assert data["timings"] == {"build": 82.0, "checks": 10.0}
    assert data["provenance"] == report_samples.PROVENANCE  # created, revision, source, version

    vulns = data["vulnerabilities"]
    assert (vulns["gate"], vulns["passed"], vulns["waived"], vulns["today"]) == (
        "HIGH",
        True,
        1,
        "2026-12-02",
    )
    assert vulns["counts"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 1, "LOW": 0, "UNKNOWN": 1}
    assert [(f["id"], f["waiver"]) for f in vulns["top"]] == [
        ("TFCI-TEST-2026-0001", "waived"),
        ("TFCI-TEST-2026-0101", "unwaived"),
        ("TFCI-TEST-2026-0002", "unwaived"),
    ]


def test_the_sbom_file_is_syfts_as_collected(tmp_path: Path) -> None:
    report = report_samples.report()
    write_run(tmp_path, [report])
    assert report.facts is not None
    assert (tmp_path / TAG / "sbom.cdx.json").read_text() == report.facts.sbom
    (entry,) = json.loads((tmp_path / "index.json").read_text())["images"]
    assert entry["commit"] == report_samples.PROVENANCE["revision"]  # the image's own label
    assert entry["vulnerabilities"]["counts"]["HIGH"] == 1
    assert len(entry["vulnerabilities"]["top"]) == 3


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
    assert f"## `{TAG}` (linux/amd64): passed" in text
    assert "| openssl |" not in text  # package tables stay in the artifact


def test_a_file_missing_from_a_jobs_report_directory_is_named_not_blamed_on_out(tmp_path: Path) -> None:
    """`index`/`assemble` copy each job's files into --out; a job directory uploaded without them
    used to read as "--out DIR: cannot be written (No such file or directory)"."""
    write_run(tmp_path / "job", [report_samples.report()])
    (tmp_path / "job" / TAG / "report.md").unlink()
    entries = read_indexes([tmp_path / "job" / "index.json"])
    with pytest.raises(UserError, match=r"report\.md: named by a results file \(markdown\) but not there"):
        write_index(tmp_path / "out", entries)
    write_run(tmp_path / "whole", [report_samples.report()])
    assert write_index(tmp_path / "out", read_indexes([tmp_path / "whole" / "index.json"])).is_file()

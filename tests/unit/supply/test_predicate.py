"""The check-results predicate: what it says about an image, and when promote takes it as passed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci.report.files import write_run
from ci.supply.predicate import PredicateError, check_results, require_passed
from tests.unit import report_samples


def entry(tmp_path: Path) -> dict[str, Any]:
    write_run(tmp_path, [report_samples.report()])
    image: dict[str, Any] = json.loads((tmp_path / "index.json").read_text())["images"][0]
    return image


def test_each_check_its_status_and_seconds_the_commit_and_the_table_row(tmp_path: Path) -> None:
    predicate = check_results(entry(tmp_path))
    assert predicate["image"] == report_samples.TAG
    assert predicate["digest"] == report_samples.DIGEST
    assert predicate["repository"] == "127.0.0.1:5000/tfci/tensorflow"
    assert predicate["commit"] == report_samples.PROVENANCE["revision"]  # the image's own label
    assert predicate["status"] == "passed"
    assert predicate["checks"][1] == {
        "name": "tensorflow smoke test",
        "status": "pass",
        "seconds": 4.02,
        "message": "tf.Tensor(1.0, shape=(), dtype=float32)",
        "platform": "linux/amd64",
    }
    assert [p["platform"] for p in predicate["platforms"]] == ["linux/amd64"]
    assert predicate["platforms"][0]["digest"] == report_samples.DIGEST
    assert predicate["row"]["tag"] == report_samples.TAG
    assert predicate["row"]["TensorFlow"] == "2.15.0"
    assert predicate["row"]["vulnerabilities"] == (
        "1 high, 1 medium, 1 unknown; gate HIGH passed; top: TFCI-TEST-2026-0001 openssl (waived), "
        "TFCI-TEST-2026-0101 jinja2, TFCI-TEST-2026-0002 zlib"
    )
    assert predicate["vulnerabilities"]["gate"] == "HIGH"
    require_passed(json.loads(json.dumps(predicate)))  # a "not checked" check is no failure


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"checks": [{"name": "tensorflow smoke test", "status": "fail"}]},
            "check results say failed: tensorflow",
        ),
        ({"status": "failed"}, "check results say status 'failed', not 'passed'"),
        ({"checks": []}, "lists no checks"),
        ({"checks": [{"name": "x", "status": "ok"}]}, "check 'x' has status 'ok'"),
        ({"checks": [{"status": "pass"}]}, "a check without a name"),
    ],
)
def test_anything_but_every_check_passed_is_refused(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    predicate = {**check_results(entry(tmp_path)), **change}
    with pytest.raises(PredicateError, match=message):
        require_passed(predicate)
    with pytest.raises(PredicateError, match="not an object"):
        require_passed([predicate])

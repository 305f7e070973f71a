"""Image facts for the report: a failure to collect them is a failed "report" result of that image,
never an exception that stops the other images (collecting real facts needs an engine: tests/e2e)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ci.model.spec import ImageSpec
from ci.probe.facts import add_facts
from ci.report.model import CheckReport, passed

pytestmark = pytest.mark.anyio


async def test_an_unreadable_export_fails_the_report_result_only(cpu_spec: ImageSpec, tmp_path: Path) -> None:
    tarball = tmp_path / "image.tar"
    tarball.write_bytes(b"not a tar archive")
    report = CheckReport(cpu_spec.tag, [passed("build", "built")])
    image: Any = object()  # never used: the export is read before the image is asked anything
    await add_facts(image, cpu_spec, report, tarball=tarball)
    assert report.facts is None
    assert "report" not in report.timings
    build, result = report.results
    assert build == passed("build", "built")
    assert (result.name, result.status) == ("report", "fail")
    assert result.message.startswith("image facts not collected: ")
    assert "not a gzip file" in result.message  # the reader's own reason, on one line
    assert "\n" not in result.message
    assert not report.ok


async def test_a_missing_export_is_named(cpu_spec: ImageSpec, tmp_path: Path) -> None:
    report = CheckReport(cpu_spec.tag)
    image: Any = object()
    await add_facts(image, cpu_spec, report, tarball=tmp_path / "gone.tar")
    (result,) = report.results
    assert result.failed
    assert f"{tmp_path / 'gone.tar'}: not a readable tarball" in result.message

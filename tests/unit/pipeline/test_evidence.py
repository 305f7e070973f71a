"""The SBOM and gate step of a build: its inputs are checked before any build (exit 2), and a scan
that could not run fails a gated image but only notes it when there is no gate."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.model.paths import DEFAULT_WAIVERS
from ci.model.spec import ImageSpec
from ci.model.vulns import Severity
from ci.pipeline.evidence import CHECK, EvidenceSettings, sbom_maker, scan_image, settings
from ci.pipeline.preflight import VulnInputs, evidence_settings
from ci.probe.manifests import CollectError
from ci.report.model import CheckReport
from ci.supply.osv import Scanner
from tests.unit import report_samples

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 3\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TFCI_SYFT", str(executable(tmp_path / "syft")))
    monkeypatch.setenv("TFCI_OSV_SCANNER", str(executable(tmp_path / "osv-scanner")))
    monkeypatch.delenv("TFCI_VULN_DB", raising=False)
    return tmp_path


def test_the_gate_needs_a_report_and_the_tools_are_found_before_any_build(
    tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert evidence_settings(None, VulnInputs()) is None
    with pytest.raises(UserError, match="--vuln-gate needs --report-dir DIR"):
        evidence_settings(None, VulnInputs(gate="HIGH"))
    found = evidence_settings(tools, VulnInputs(gate="HIGH", database=tools))
    assert found is not None
    assert (found.syft, found.scanner, found.gate) == (
        tools / "syft",
        Scanner(tools / "osv-scanner", tools),
        "HIGH",
    )
    assert found.today == datetime.date.today()
    monkeypatch.delenv("TFCI_SYFT")
    monkeypatch.setenv("PATH", str(tools / "empty"))
    with pytest.raises(UserError, match=r"--report-dir \(the image's SBOM\) needs syft"):
        settings(None, DEFAULT_WAIVERS, None)


def test_a_bad_waiver_file_stops_the_build_before_it_starts(tools: Path) -> None:
    bad = tools / "w.yaml"
    bad.write_text("waivers: nope\n")
    with pytest.raises(UserError, match=r"w\.yaml: top level: field 'waivers'"):
        evidence_settings(tools, VulnInputs(waivers=bad))


def _settings(tools: Path, gate: Severity | None) -> EvidenceSettings:
    scanner = Scanner(tools / "osv-scanner", tools)
    return EvidenceSettings(tools / "syft", scanner, gate, (), datetime.date(2026, 12, 2))


async def test_a_scan_that_did_not_run_fails_only_a_gated_image(tools: Path) -> None:
    cases: tuple[tuple[Severity | None, str], ...] = (("HIGH", "fail"), (None, "not-checked"))
    for gate, status in cases:
        report = report_samples.report()
        await scan_image(report, _settings(tools, gate))
        (result,) = [r for r in report.results if r.name == CHECK]
        assert result.status == status
        assert result.message.startswith("scan failed: osv-scanner exited 3")
        no_facts = CheckReport("x")
        await scan_image(no_facts, _settings(tools, gate))
        assert no_facts.results[0].status == status


def test_the_sbom_names_the_image_and_syft_failing_is_a_report_failure(
    tools: Path, cpu_spec: ImageSpec
) -> None:
    report = CheckReport("x")
    make = sbom_maker(_settings(tools, None), cpu_spec, "r.example/org/tensorflow-staging", report)
    with pytest.raises(CollectError, match="SBOM: syft exited 3"):
        make(tools / "image.tar", "sha256:" + "0" * 64)
    assert report.timings["sbom"] >= 0

"""The image's SBOM and vulnerability gate during a build (or `test`) with --report-dir.

Why here, between the checks and the push: `--vuln-gate` must fail an image before it is published,
so the SBOM (syft, on the tarball the report step exports anyway) and the scan (osv-scanner on that
SBOM) come first; an image failing the gate is never pushed, like one failing any other check.
Without a gate the scan only reports ("not checked", with the counts); a scan that cannot run
(no database, no network) then says so in the report, and with a gate it fails the image, because
a scan that did not happen is never a clean one.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from ci.model.platforms import arch as architecture
from ci.model.provenance import OCI, provenance_of
from ci.model.spec import ImageSpec
from ci.model.vulns import Severity, Waiver, evaluate
from ci.probe.facts import SbomMaker
from ci.probe.manifests import CollectError
from ci.report.model import CheckReport, VulnScan, failed, not_checked, passed
from ci.supply import osv, tools
from ci.supply.osv import ScanError, Scanner
from ci.supply.sbom import SbomError, generate
from ci.table.waivers import load_waivers

CHECK = "vulnerabilities"  # the result's name in reports and in the check-results attestation


@dataclass(frozen=True)
class EvidenceSettings:
    """What --report-dir and the vulnerability flags resolved to, checked before any build."""

    syft: Path
    scanner: Scanner
    gate: Severity | None
    waivers: tuple[Waiver, ...]
    today: datetime.date


def settings(gate: Severity | None, waivers: Path, database: Path | None) -> EvidenceSettings:
    """Find syft and osv-scanner, read the waiver file, check the database directory: exit 2 early."""
    reviewed = load_waivers(waivers)  # the user's own input first: its errors say what to fix
    db = osv.database(database)
    return EvidenceSettings(
        syft=tools.find(tools.SYFT, "--report-dir (the image's SBOM)"),
        scanner=Scanner(tools.find(tools.OSV_SCANNER, "--report-dir (the vulnerability scan)"), db),
        gate=gate,
        waivers=reviewed,
        today=datetime.date.today(),
    )


def sbom_maker(
    evidence: EvidenceSettings, spec: ImageSpec, repository: str | None, report: CheckReport
) -> SbomMaker:
    """syft for this image: the root component is the image (the repository's name when publishing,
    else the table's title), the tag and the digest (one platform of a multi-platform image: that
    platform's manifest digest, and its architecture); its time goes into the report's timings."""
    name = dict(spec.labels).get(f"{OCI}.title") or spec.tag
    if repository:
        name = repository.rsplit("/", 1)[-1]

    def make(tarball: Path, digest: str) -> str:
        started = time.monotonic()
        try:
            return generate(
                evidence.syft,
                tarball,
                name=name,
                tag=spec.tag,
                digest=digest,
                repository=repository,
                provenance=provenance_of(dict(spec.labels)),
                arch=architecture(spec.platform) if spec.multi_platform else None,
            )
        except SbomError as exc:
            raise CollectError(f"SBOM: {exc}") from None
        finally:
            report.timings["sbom"] = time.monotonic() - started

    return make


async def scan_image(report: CheckReport, evidence: EvidenceSettings) -> None:
    """Scan the image's SBOM and judge it with the waivers; one "vulnerabilities" result."""
    facts = report.facts
    if facts is None or facts.sbom is None:
        message = "no SBOM to scan (the report step failed)"
        report.add(failed(CHECK, message) if evidence.gate else not_checked(CHECK, message))
        return
    started = time.monotonic()
    try:
        findings = await anyio.to_thread.run_sync(evidence.scanner.scan, facts.sbom)
        scanner = await anyio.to_thread.run_sync(evidence.scanner.describe)
    except ScanError as exc:
        message = f"scan failed: {exc}"
        report.add(failed(CHECK, message) if evidence.gate else not_checked(CHECK, message))
        return
    report.timings["vulnerability scan"] = time.monotonic() - started
    result = evaluate(findings, evidence.gate, evidence.waivers, evidence.today)
    facts.vulnerabilities = VulnScan(scanner, result)
    if evidence.gate is None:
        report.add(not_checked(CHECK, f"{result.message()}: no --vuln-gate"))
    elif result.passed:
        report.add(passed(CHECK, result.message()))
    else:
        report.add(failed(CHECK, result.message()))

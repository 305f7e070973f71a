"""Hand-made reports for the writer unit tests: shaped like a real run's (see the README sample),
small enough to read; the packages and SBOM are an excerpt of a real syft SBOM."""

from __future__ import annotations

import datetime
from pathlib import Path

from ci.model.vulns import Finding, Waiver, evaluate
from ci.report.model import (
    CheckReport,
    CheckResult,
    ImageFacts,
    LayerFacts,
    PushedImage,
    StepTiming,
    VulnScan,
)
from ci.report.sbom import read_packages

DIGEST = "sha256:" + "a" * 64
CONFIG = "sha256:" + "b" * 64
TAG = "2.15.0-python3.11-cpu-debian12"  # the primary tag of report()
SBOM = Path(__file__).resolve().parents[1] / "fixtures" / "sbom" / "syft-cpu-excerpt.cdx.json"
TODAY = datetime.date(2026, 12, 2)
HIGH = Finding(
    "TFCI-TEST-2026-0001", (), "openssl", "3.0.22-1~deb12u2", "Debian:12", "HIGH", 7.5, "TEST DATA | high"
)
MEDIUM = Finding("TFCI-TEST-2026-0101", ("GHSA-x",), "jinja2", "3.1.6", "PyPI", "MEDIUM", None, "TEST DATA")
UNKNOWN = Finding("TFCI-TEST-2026-0002", (), "zlib", "1:1.2.13", "Debian:12", "UNKNOWN", None, "TEST DATA")
WAIVER = Waiver("TFCI-TEST-2026-0001", "openssl", "fixture", datetime.date(2026, 12, 31))


def scan(*, waived: bool = True) -> VulnScan:
    """Three findings, gate HIGH; with the waiver the gate passes."""
    waivers = (WAIVER,) if waived else ()
    return VulnScan(
        "osv-scanner 2.5.0, offline database /db", evaluate((MEDIUM, HIGH, UNKNOWN), "HIGH", waivers, TODAY)
    )


PROVENANCE = {
    "created": "2026-11-28T05:31:00Z",
    "revision": "0123456789abcdef0123456789abcdef01234567",
    "source": "https://github.com/myorg/tf-images",
    "version": TAG,
}


def layer(number: int, step: str, size: int, created_by: str) -> LayerFacts:
    return LayerFacts(
        digest=f"sha256:{number:064x}",
        diff_id=f"sha256:{number + 100:064x}",
        size=size,
        uncompressed_size=size * 3,
        media_type="application/vnd.oci.image.layer.v1.tar+gzip",
        created_by=created_by,
        step=step,
    )


def facts(variant: str = "cpu", platform: str = "linux/amd64") -> ImageFacts:
    versions = {
        "os": "Debian GNU/Linux 12 (bookworm)",
        "os_id": "debian",
        "os_version_id": "12",
        "python": "3.11.2",
        "tensorflow": "2.15.0",
        "numpy": "1.26.4",
    }
    pieces: tuple[str, ...] = ("os", "versions")
    if variant == "gpu":
        versions |= {"cuda": "12.2.140", "cuda_from": "pip nvidia-cuda-runtime-cu12", "cudnn": "8.9.4.25"}
        pieces = ("os", "versions", "cuda")
    sbom = SBOM.read_text(encoding="utf-8")
    return ImageFacts(
        variant=variant,
        base_image="debian:bookworm",
        digest=DIGEST,
        image_id=CONFIG,
        compressed_size=1_000_500,
        uncompressed_size=3_000_000,
        layers=[
            layer(1, "base", 500_000, "pulled from docker.io/library/debian:bookworm@sha256:e0e7"),
            layer(2, "os_packages", 400_000, "mount / from exec bash -euo pipefail -c apt-get | x"),
            layer(3, "tensorflow", 100_000, "mount / from exec /opt/python/bin/python -m pip install"),
        ],
        steps=[
            StepTiming("base", 1.5, None),
            StepTiming("os_packages", 20.25, 1, ("with_exec",)),
            StepTiming("ca_trust", 0.0, 0),
            StepTiming("tensorflow", 60.0, 1, ("with_exec",)),
        ],
        versions=versions,
        packages=read_packages(sbom),
        pieces=pieces,
        notes=["example note"],
        platform=platform,
        manifest_size=1234,
        manifest_media_type="application/vnd.oci.image.manifest.v1+json",
        sbom=sbom,
        vulnerabilities=scan(),
        provenance=dict(PROVENANCE),
    )


def report(
    *, ok: bool = True, pushed: bool = True, with_facts: bool = True, platform: str = "linux/amd64"
) -> CheckReport:
    rep = CheckReport(TAG, tags=(TAG, "2.15.0-cpu"), platform=platform)
    rep.add(CheckResult("build", "pass", "built in 82s"))
    rep.add(CheckResult("tensorflow smoke test", "pass", "tf.Tensor(1.0, shape=(), dtype=float32)", 4.02))
    rep.add(CheckResult("GPU visible to TensorFlow", "not-checked", "no --require-gpu", 0.0))
    if not ok:
        rep.add(CheckResult("zh_CN.UTF-8 locale", "fail", "`locale -a` has no zh_CN.utf8 | oops", 0.3))
    rep.timings = {"build": 82.0, "checks": 10.0}
    if pushed:
        rep.pushed = PushedImage("127.0.0.1:5000/tfci/tensorflow", TAG, DIGEST, ((platform, DIGEST),))
    if with_facts:
        rep.facts = facts(platform=platform)
    return rep

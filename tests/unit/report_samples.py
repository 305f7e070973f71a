"""Hand-made reports for the writer and SBOM unit tests: shaped like a real run's (see the README
sample), small enough to read."""

from __future__ import annotations

from ci.report.model import CheckReport, CheckResult, ImageFacts, LayerFacts, Package, PushedImage, StepTiming

DIGEST = "sha256:" + "a" * 64
CONFIG = "sha256:" + "b" * 64
TAG = "2.15.0-python3.11-cpu-debian12"  # the primary tag of report()
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


def facts(variant: str = "cpu") -> ImageFacts:
    versions = {
        "os": "Debian GNU/Linux 12 (bookworm)",
        "os_id": "debian",
        "os_version_id": "12",
        "python": "3.11.2",
        "tensorflow": "2.15.0",
        "numpy": "1.26.4",
    }
    pieces: tuple[str, ...] = ("os", "versions", "dpkg", "pip", "conda")
    if variant == "gpu":
        versions |= {"cuda": "12.2.140", "cuda_from": "pip nvidia-cuda-runtime-cu12", "cudnn": "8.9.4.25"}
        pieces = ("os", "versions", "cuda", "dpkg", "pip", "conda")
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
        packages=[
            Package("dpkg", "curl", "7.88.1-10+deb12u5", arch="amd64"),
            Package("dpkg", "ca-certificates", "20230311", arch="all"),
            Package("pip", "tensorflow", "2.15.0"),
            Package("pip", "Jupyter_Server", "2.14.0"),
            Package("conda", "openssl", "3.0.13", arch="linux-64", channel="pkgs/main", build="h7f8727e_0"),
        ],
        pieces=pieces,
        notes=["example note"],
        provenance=dict(PROVENANCE),
    )


def report(*, ok: bool = True, pushed: bool = True, with_facts: bool = True) -> CheckReport:
    rep = CheckReport(TAG, tags=(TAG, "2.15.0-cpu"))
    rep.add(CheckResult("build", "pass", "built in 82s"))
    rep.add(CheckResult("tensorflow smoke test", "pass", "tf.Tensor(1.0, shape=(), dtype=float32)", 4.02))
    rep.add(CheckResult("GPU visible to TensorFlow", "not-checked", "no --require-gpu", 0.0))
    if not ok:
        rep.add(CheckResult("zh_CN.UTF-8 locale", "fail", "`locale -a` has no zh_CN.utf8 | oops", 0.3))
    rep.timings = {"build": 82.0, "checks": 10.0}
    if pushed:
        rep.pushed = PushedImage("127.0.0.1:5000/tfci/tensorflow", TAG, DIGEST)
    if with_facts:
        rep.facts = facts()
    return rep

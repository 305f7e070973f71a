"""What `sign` signs: each image of the results that passed and was pushed, with its SBOM; anything
else is skipped with a warning, and a results file without SBOMs is bad input (exit 2)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, cast

import pytest

from ci.model.errors import UserError
from ci.report.files import write_run
from ci.report.model import PushedImage
from ci.supply.cosign import SBOM_TYPE, Cosign, CosignError, Signer
from ci.supply.predicate import CHECK_RESULTS_TYPE
from ci.supply.sign import images_to_sign, sign_image
from tests.unit import report_samples


def test_passed_and_pushed_images_with_their_sbom(tmp_path: Path) -> None:
    failed = report_samples.report(ok=False)
    failed.image = failed.tags[0] + "-broken"
    failed.tags = (failed.image,)
    unpushed = report_samples.report(pushed=False)
    unpushed.image = unpushed.tags[0] + "-local"
    unpushed.tags = (unpushed.image,)
    index = write_run(tmp_path, [report_samples.report(), failed, unpushed])
    warnings: list[str] = []
    (image,) = images_to_sign((index,), warnings.append)
    assert str(image.ref) == f"127.0.0.1:5000/tfci/tensorflow@{report_samples.DIGEST}"
    assert image.sbom == tmp_path / report_samples.TAG / "sbom.cdx.json"
    assert warnings == [
        f"{failed.image}: not signed, it failed its checks",
        f"{unpushed.image}: not signed, it was not pushed",
    ]


def test_no_sbom_or_nothing_to_sign_is_bad_input(tmp_path: Path) -> None:
    report = report_samples.report()
    assert report.facts is not None
    report.facts.sbom = None
    index = write_run(tmp_path / "a", [report])
    with pytest.raises(UserError, match=r"images\[0\]: no SBOM file next to the index"):
        images_to_sign((index,), lambda _: None)
    index = write_run(tmp_path / "b", [report_samples.report(pushed=False)])
    with pytest.raises(
        UserError, match="nothing to sign: the results name no image that passed and was pushed"
    ):
        images_to_sign((index,), lambda _: None)


def _pinned(sbom: str, digest: str) -> str:
    """The sample SBOM with its root component pinned to `digest` (what syft writes for that image)."""
    bom = json.loads(sbom)
    bom["metadata"]["component"]["hashes"] = [{"alg": "SHA-256", "content": digest.removeprefix("sha256:")}]
    return json.dumps(bom)


class FakeCosign:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (operation, digest, predicate type or "")

    def sign(self, ref: Any, signer: Any) -> None:
        self.calls.append(("sign", str(ref.digest), ""))

    def attest(self, ref: Any, predicate: Path, predicate_type: str, signer: Any) -> None:
        self.calls.append(("attest", str(ref.digest), predicate_type))


def test_an_image_index_is_signed_once_and_each_platforms_sbom_attested_on_its_manifest(
    tmp_path: Path,
) -> None:
    """The pushed index digest gets the signature and the check results; each platform's SBOM
    goes to the manifest it describes (the rule in ci.supply.sign's docstring)."""
    index_digest, amd64, arm64 = "sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64
    manifests = (("linux/amd64", amd64), ("linux/arm64", arm64))
    reports = []
    for platform, digest in manifests:
        report = report_samples.report(platform=platform)
        assert report.facts is not None
        assert report.facts.sbom is not None
        report.facts.digest = digest
        report.facts.sbom = _pinned(report.facts.sbom, digest)
        report.pushed = PushedImage(
            "127.0.0.1:5000/tfci/tensorflow", report_samples.TAG, index_digest, manifests
        )
        reports.append(report)
    index = write_run(tmp_path, reports)
    (image,) = images_to_sign((index,), lambda _: None)
    assert str(image.ref) == f"127.0.0.1:5000/tfci/tensorflow@{index_digest}"
    assert [(p, d) for p, d, _ in image.platforms] == list(manifests)
    assert [str(ref.digest) for ref, _ in image.sboms()] == [amd64, arm64]
    cosign = FakeCosign()
    sign_image(cast(Cosign, cosign), image, cast(Signer, None), tmp_path)
    assert cosign.calls == [
        ("sign", index_digest, ""),
        ("attest", amd64, SBOM_TYPE),
        ("attest", arm64, SBOM_TYPE),
        ("attest", index_digest, CHECK_RESULTS_TYPE),
    ]
    # An SBOM that describes another image is refused before anything is written.
    (p0, d0, s0), (p1, d1, s1) = image.platforms
    image = dataclasses.replace(image, platforms=((p0, d0, s1), (p1, d1, s0)))
    cosign = FakeCosign()
    with pytest.raises(CosignError, match="describes"):
        sign_image(cast(Cosign, cosign), image, cast(Signer, None), tmp_path)
    assert cosign.calls == []

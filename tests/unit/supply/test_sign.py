"""What `sign` signs: each image of the results that passed and was pushed, with its SBOM; anything
else is skipped with a warning, and a results file without SBOMs is bad input (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.report.files import write_run
from ci.supply.sign import images_to_sign
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

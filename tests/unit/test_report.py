"""The report model: the publish handoff reference and the facts' helpers."""

from __future__ import annotations

import pytest

from ci.report import PushedImage
from tests.unit import report_samples


def test_pushed_image_parses_what_publish_returns() -> None:
    pushed = PushedImage.parse("127.0.0.1:5000/tfci/tensorflow:2.15.0-cpu@sha256:" + "a" * 64)
    assert pushed == PushedImage("127.0.0.1:5000/tfci/tensorflow", "2.15.0-cpu", "sha256:" + "a" * 64)


@pytest.mark.parametrize(
    "reference",
    ["127.0.0.1:5000/tfci/tensorflow:2.15.0", "127.0.0.1:5000/tfci/tensorflow@sha256:abc", "x@md5:1"],
)
def test_pushed_image_refuses_references_without_tag_and_digest(reference: str) -> None:
    with pytest.raises(ValueError, match="repository:tag@sha256"):
        PushedImage.parse(reference)


def test_packages_from_filters_by_source() -> None:
    facts = report_samples.facts()
    assert [p.name for p in facts.packages_from("dpkg")] == ["curl", "ca-certificates"]
    assert [p.name for p in facts.packages_from("conda")] == ["openssl"]

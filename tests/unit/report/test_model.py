"""The report model: the facts' helpers."""

from __future__ import annotations

from tests.unit import report_samples


def test_packages_from_filters_by_source() -> None:
    facts = report_samples.facts()
    assert [p.name for p in facts.packages_from("dpkg")] == ["curl", "ca-certificates"]
    assert [p.name for p in facts.packages_from("conda")] == ["openssl"]

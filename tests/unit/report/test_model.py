"""The report model: the facts' helpers."""

from __future__ import annotations

from tests.unit import report_samples


def test_packages_of_filters_by_kind() -> None:
    facts = report_samples.facts()
    assert [p.name for p in facts.packages_of("deb")] == ["libssl3", "openssl", "zlib1g"]
    assert [p.name for p in facts.packages_of("npm")] == ["@jupyterlab/application-top"]
    assert facts.packages_of("conda") == []

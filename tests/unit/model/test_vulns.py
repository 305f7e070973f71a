"""The vulnerability gate: severity order, waivers (id or alias, package, ecosystem, expiry day
inclusive), what blocks, and the one-line verdict."""

from __future__ import annotations

import datetime

import pytest

from ci.model.errors import UserError
from ci.model.vulns import (
    Finding,
    Waiver,
    count_text,
    evaluate,
    from_score,
    from_word,
    judge,
    parse_gate,
    rank,
)

DAY = datetime.date(2026, 12, 31)
OPENSSL = Finding("DSA-1", ("CVE-1",), "openssl", "3.0.22-1", "Debian:12", "HIGH", 7.5, "x")
JINJA = Finding("GHSA-1", (), "jinja2", "3.1.6", "PyPI", "MEDIUM", None, "y")
ODD = Finding("X-1", (), "zlib", "1:1.2", "Debian:12", "UNKNOWN", None, "z")


def waiver(**changes: object) -> Waiver:
    values: dict[str, object] = {"id": "CVE-1", "package": "openssl", "reason": "r", "expires": DAY}
    values.update(changes)
    return Waiver(**values)  # type: ignore[arg-type]


def test_gate_values() -> None:
    assert parse_gate("high", "--vuln-gate") == "HIGH"
    assert parse_gate("NONE", "--vuln-gate") is None
    with pytest.raises(
        UserError, match="--vuln-gate 'UNKNOWN': expected one of CRITICAL, HIGH, MEDIUM, LOW or none"
    ):
        parse_gate("UNKNOWN", "--vuln-gate")


def test_scores_and_words_map_to_cvss_ratings() -> None:
    assert [from_score(s) for s in (9.0, 8.9, 7.0, 4.0, 3.9, 0.1, 0.0)] == [
        "CRITICAL", "HIGH", "HIGH", "MEDIUM", "LOW", "LOW", None,
    ]  # fmt: skip
    assert [from_word(w) for w in ("MODERATE", "high*", "unimportant", "bogus", 3)] == [
        "MEDIUM", "HIGH", "LOW", None, None,
    ]  # fmt: skip
    assert rank("CRITICAL") > rank("HIGH") > rank("MEDIUM") > rank("LOW") > rank("UNKNOWN")


def test_a_waiver_covers_by_alias_and_package_until_its_last_day() -> None:
    assert judge(OPENSSL, [waiver()], DAY).state == "waived"  # the expiry day itself still waives
    assert judge(OPENSSL, [waiver()], DAY + datetime.timedelta(days=1)).state == "waiver expired"
    assert judge(OPENSSL, [waiver(id="DSA-1")], DAY).state == "waived"
    assert judge(OPENSSL, [waiver(package="libssl3")], DAY).state == "unwaived"  # binary name: no
    assert judge(OPENSSL, [waiver(ecosystem="Debian:11")], DAY).state == "unwaived"
    assert judge(OPENSSL, [waiver(ecosystem="Debian:12")], DAY).state == "waived"
    old, new = waiver(expires=datetime.date(2026, 1, 1)), waiver(expires=DAY)
    assert judge(OPENSSL, [old, new], DAY).waiver == new


def test_the_gate_blocks_unwaived_findings_at_or_above_its_level() -> None:
    findings = (JINJA, ODD, OPENSSL)
    failing = evaluate(findings, "HIGH", [], DAY)
    assert [j.finding.id for j in failing.judged] == ["DSA-1", "GHSA-1", "X-1"]  # worst first
    assert not failing.passed
    assert failing.message() == (
        "gate HIGH FAILED: 1 unwaived finding(s) at or above HIGH, e.g. DSA-1 HIGH in openssl 3.0.22-1"
    )
    assert evaluate(findings, "MEDIUM", [waiver()], DAY).message() == (
        "gate MEDIUM FAILED: 1 unwaived finding(s) at or above MEDIUM, e.g. GHSA-1 MEDIUM in jinja2 3.1.6"
    )
    waived = evaluate(findings, "HIGH", [waiver()], DAY)
    assert waived.passed
    assert waived.message() == "gate HIGH passed: 1 high, 1 medium, 1 unknown, 1 waived"
    expired = evaluate(findings, "HIGH", [waiver()], DAY + datetime.timedelta(days=1))
    assert expired.message().endswith("e.g. DSA-1 HIGH in openssl 3.0.22-1 (waiver expired 2026-12-31)")
    # UNKNOWN is listed and counted but trips no gate, not even LOW
    assert evaluate((ODD,), "LOW", [], DAY).passed
    report_only = evaluate(findings, None, [], DAY)
    assert report_only.passed
    assert report_only.message() == "1 high, 1 medium, 1 unknown (no gate)"


def test_counts() -> None:
    assert evaluate((), "HIGH", [], DAY).counts() == {
        "CRITICAL": 0,
        "HIGH": 0,
        "MEDIUM": 0,
        "LOW": 0,
        "UNKNOWN": 0,
    }
    assert count_text({"HIGH": 0}) == "no findings"

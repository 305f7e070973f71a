"""Vulnerability findings, waivers and the gate: what a finding is, how severe, and whether it blocks.

Why one module, free of any scanner: the build's gate (`build --vuln-gate`), the report's counts and
promote's re-evaluation (`promote`, with the waivers as of the day it runs) must apply exactly the
same rule, and a rule with a date in it must be testable on any day. The scanner client
(ci/supply/osv.py) turns its output into Findings; the waiver file's reader is ci/table/waivers.py.

The rule: a finding blocks when its severity is at or above the gate and no waiver covers it on
`today`. A waiver covers a finding when its id is the finding's id or one of its aliases, its
package is the package the scanner names (for Debian and Ubuntu: the source package), its
ecosystem (when given) matches, and `today` is on or before its expiry date (inclusive). An expired
waiver waives nothing, and the report says "waiver expired". UNKNOWN (no CVSS score and no word
from the advisory) ranks below LOW: it is counted and listed, and trips no gate.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ci.model.errors import UserError

Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
SEVERITIES: tuple[Severity, ...] = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")  # worst first
GATE_LEVELS: tuple[Severity, ...] = ("CRITICAL", "HIGH", "MEDIUM", "LOW")
NO_GATE = "none"
# Words advisories use for severity (GitHub: MODERATE; Debian urgency; Ubuntu priority).
WORDS: Mapping[str, Severity] = {
    "critical": "CRITICAL",
    "high": "HIGH",
    "important": "HIGH",
    "moderate": "MEDIUM",
    "medium": "MEDIUM",
    "low": "LOW",
    "negligible": "LOW",
    "unimportant": "LOW",
}


def rank(severity: Severity) -> int:
    """Higher is worse: UNKNOWN 0, LOW 1 ... CRITICAL 4."""
    return len(SEVERITIES) - 1 - SEVERITIES.index(severity)


def parse_gate(value: str, flag: str) -> Severity | None:
    """`--vuln-gate` value: a level (case-insensitive) or `none` (report only)."""
    upper = value.strip().upper()
    if upper == NO_GATE.upper():
        return None
    for level in GATE_LEVELS:
        if upper == level:
            return level
    raise UserError(f"{flag} {value!r}: expected one of {', '.join(GATE_LEVELS)} or {NO_GATE}")


def from_score(score: float) -> Severity | None:
    """A CVSS base score's qualitative rating (CVSS v3.1 specification, section 5)."""
    if score >= 9.0:
        return "CRITICAL"
    if score >= 7.0:
        return "HIGH"
    if score >= 4.0:
        return "MEDIUM"
    if score > 0.0:
        return "LOW"
    return None


def from_word(word: object) -> Severity | None:
    if not isinstance(word, str):
        return None
    return WORDS.get(word.strip().lower().rstrip("*"))


@dataclass(frozen=True)
class Finding:
    """One advisory (with its aliases) against one package version, as the scanner reported it."""

    id: str
    aliases: tuple[str, ...]
    package: str
    version: str
    ecosystem: str
    severity: Severity
    score: float | None  # CVSS base score, when the advisory has a vector
    summary: str

    @property
    def names(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))


@dataclass(frozen=True)
class Waiver:
    """One reviewed entry of the waiver file (vuln-waivers.yaml)."""

    id: str
    package: str
    reason: str
    expires: datetime.date  # the last day it applies
    ecosystem: str | None = None

    def names(self, finding: Finding) -> bool:
        """Whether this waiver is about `finding` (expired or not)."""
        return (
            self.id in finding.names
            and self.package == finding.package
            and (self.ecosystem is None or self.ecosystem == finding.ecosystem)
        )


WaiverState = Literal["unwaived", "waived", "waiver expired"]


@dataclass(frozen=True)
class Judged:
    finding: Finding
    state: WaiverState
    waiver: Waiver | None = None


def judge(finding: Finding, waivers: Iterable[Waiver], today: datetime.date) -> Judged:
    about = [w for w in waivers if w.names(finding)]
    valid = [w for w in about if today <= w.expires]
    if valid:
        return Judged(finding, "waived", max(valid, key=lambda w: w.expires))
    if about:
        return Judged(finding, "waiver expired", max(about, key=lambda w: w.expires))
    return Judged(finding, "unwaived")


@dataclass(frozen=True)
class GateResult:
    """Every finding judged against the waivers on `today`, and the verdict at `level`."""

    level: Severity | None  # None: report only
    today: datetime.date
    judged: tuple[Judged, ...]  # worst first

    @property
    def blocking(self) -> tuple[Judged, ...]:
        if self.level is None:
            return ()
        floor = rank(self.level)
        return tuple(j for j in self.judged if j.state != "waived" and rank(j.finding.severity) >= floor)

    @property
    def passed(self) -> bool:
        return not self.blocking

    def counts(self) -> dict[Severity, int]:
        return {s: sum(1 for j in self.judged if j.finding.severity == s) for s in SEVERITIES}

    @property
    def waived(self) -> int:
        return sum(1 for j in self.judged if j.state == "waived")

    def message(self) -> str:
        """One line: the verdict, and the first blocking finding when there is one."""
        if self.level is None:
            return f"{count_text(self.counts())} (no gate)"
        if self.passed:
            waived = f", {self.waived} waived" if self.waived else ""
            return f"gate {self.level} passed: {count_text(self.counts())}{waived}"
        first = self.blocking[0]
        expired = f" (waiver expired {first.waiver.expires})" if first.waiver is not None else ""
        f = first.finding
        return (
            f"gate {self.level} FAILED: {len(self.blocking)} unwaived finding(s) at or above "
            f"{self.level}, e.g. {f.id} {f.severity} in {f.package} {f.version}{expired}"
        )


def count_text(counts: Mapping[Severity, int]) -> str:
    """`1 high, 2 medium` (zero counts left out); `no findings` when all are zero."""
    parts = [f"{n} {s.lower()}" for s, n in counts.items() if n]
    return ", ".join(parts) if parts else "no findings"


def evaluate(
    findings: Iterable[Finding], level: Severity | None, waivers: Iterable[Waiver], today: datetime.date
) -> GateResult:
    """The gate over a scan's findings, worst first (then by score, then id) for reports."""
    kept = tuple(waivers)
    judged = sorted(
        (judge(f, kept, today) for f in findings),
        key=lambda j: (-rank(j.finding.severity), -(j.finding.score or 0.0), j.finding.id, j.finding.package),
    )
    return GateResult(level, today, tuple(judged))

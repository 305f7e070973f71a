"""The result model every stage writes into: one CheckResult per check, one CheckReport per image.

Why one module: the in-image checks, the service checks, the build/publish steps and the report
writers all speak about the same facts (what was checked, how it went, how long it took). Keeping
the model here, apart from the code that runs checks, lets the writers and the CLI summary use it
without importing dagger or the checks themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pass", "fail", "not-checked"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    message: str
    seconds: float | None = None  # how long the check (or step) took, when measured

    @property
    def failed(self) -> bool:
        return self.status == "fail"


@dataclass
class CheckReport:
    """All results for one image (build failures are recorded as a failed "build" result)."""

    image: str
    results: list[CheckResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # phase -> seconds
    input_error: bool = False  # failed because of bad input (exit 2), not a broken image

    def add(self, result: CheckResult) -> None:
        self.results.append(result)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed]

    @property
    def ok(self) -> bool:
        return not self.failures

    def render(self) -> str:
        marks = {"pass": "ok  ", "fail": "FAIL", "not-checked": "skip"}
        took = ", ".join(f"{k} {v:.0f}s" for k, v in self.timings.items())
        lines = [f"{self.image}: {'PASSED' if self.ok else 'FAILED'}" + (f" ({took})" if took else "")]
        lines += [f"  [{marks[r.status]}] {r.name}: {r.message}" for r in self.results]
        return "\n".join(lines)


def passed(name: str, message: str) -> CheckResult:
    return CheckResult(name, "pass", message)


def failed(name: str, message: str) -> CheckResult:
    return CheckResult(name, "fail", message)


def not_checked(name: str, message: str) -> CheckResult:
    return CheckResult(name, "not-checked", message)


def tail(text: str, lines: int = 12) -> str:
    """The last lines of a command's output: where the reason for a failure usually is."""
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)

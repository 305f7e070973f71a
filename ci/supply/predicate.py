"""The check-results attestation: what the build checked about an image, as a small in-toto predicate.

Why an attestation of our own and not only the report artifact: CI artifacts expire and are not
bound to the image; a signed statement about the digest travels with it (promote copies it to the
release repository) and anyone can verify who made it. promote refuses an image whose verified
check results do not all say passed.

    {"image": PRIMARY TAG, "tags": [...], "repository": R, "digest": "sha256:...",
     "commit": the source commit the image was built from,
     "status": "passed" | "failed",
     "checks": [{"name", "status": "pass"|"fail"|"not-checked", "seconds", "message", "platform"}, ...],
     "row": the image's row of the run's table (ci.report.markdown.index_row),
     "vulnerabilities": the scan summary of index.json (counts, gate, top findings) | null,
     "platforms": [{"platform", "digest", "row", "vulnerabilities"}, ...]}

An image of several platforms (an image index): one predicate about the index digest, its checks
those of every platform (each names its platform), and per platform its manifest digest, table row
and scan summary; "row" and "vulnerabilities" at the top are the first platform's, as in index.json.

"Every check passed" means what it means everywhere else in the pipeline (ci.report.model): no
check failed; a check reported "not checked" (e.g. no GPU on the runner) is listed, not a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci.report.markdown import index_row
from ci.report.model import STATUSES
from ci.report.results import JsonDict

CHECK_RESULTS_TYPE = "urn:tfimages:check-results:v1"


class PredicateError(Exception):
    """A check-results predicate that does not say every check passed, or is not one; one line."""


def check_results(entry: Mapping[str, Any]) -> JsonDict:
    """The predicate for one index.json entry of an image that passed and was pushed."""
    pushed = entry["pushed"]
    return {
        "image": entry["tag"],
        "tags": list(entry["tags"]),
        "repository": pushed["repository"],
        "digest": pushed["digest"],
        "commit": entry.get("commit") or "unknown",
        "status": "passed" if entry["ok"] else "failed",
        "checks": [
            {k: check.get(k) for k in ("name", "status", "seconds", "message", "platform")}
            for check in entry.get("checks", [])
        ],
        "row": index_row(entry),
        "vulnerabilities": entry.get("vulnerabilities"),
        "platforms": [
            {
                "platform": part.get("platform"),
                "digest": dict(pushed.get("platforms") or {}).get(part.get("platform"), part.get("digest")),
                "row": index_row(entry, part),
                "vulnerabilities": part.get("vulnerabilities"),
            }
            for part in entry.get("platforms") or []
        ],
    }


def require_passed(predicate: object) -> None:
    """Raise PredicateError unless the predicate is well formed and says every check passed."""
    if not isinstance(predicate, dict):
        raise PredicateError("the check-results predicate is not an object")
    checks = predicate.get("checks")
    if not isinstance(checks, list) or not checks:
        raise PredicateError("the check-results predicate lists no checks")
    failed: list[str] = []
    for check in checks:
        if not isinstance(check, dict) or not isinstance(check.get("name"), str):
            raise PredicateError("the check-results predicate has a check without a name")
        if check.get("status") not in STATUSES:
            raise PredicateError(f"check {check['name']!r} has status {check.get('status')!r}")
        if check["status"] == "fail":
            failed.append(check["name"])
    if failed:
        raise PredicateError(f"check results say failed: {', '.join(failed)}")
    if predicate.get("status") != "passed":
        raise PredicateError(f"check results say status {predicate.get('status')!r}, not 'passed'")

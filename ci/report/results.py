"""index.json: a run's results, written by `build --report-dir`, read by `promote --results` and `index`.

Why one module: this file is the handoff between a build job and the release engineer (the exact
pushed digest of each tested image). Its schema, its file name, its writer and its reader used to
live in two modules; a field added to one side could be missed by the other. Now the shape is
written and validated here only.

    {"schema": 1, "images": [
        {"tag": PRIMARY, "tags": [PRIMARY, ALIAS...], "ok": true|false (every platform),
         "pushed": {"repository": R, "tag": T, "digest": "sha256:...",
                    "platforms": {"linux/amd64": "sha256:...", ...}} | null,
         "checks": [{"name", "status", "message", "seconds", "platform"}...],
         "image", "digest", "image_id", "compressed_size", "uncompressed_size", "versions",
         "vulnerabilities": {"scanner", "gate", "passed", "today", "counts": {SEVERITY: n},
                             "waived", "top": [finding...]} | null,
         "commit": the source commit built | null,
         "report", "markdown", "sbom"   (paths relative to the index, or null),
         "platforms": [{"platform", "ok", "digest", "image_id", "compressed_size",
                        "uncompressed_size", "versions", "vulnerabilities",
                        "report", "markdown", "sbom"}...]}]}

One entry per tag. An image of several platforms has one report per platform; its entry's
"digest" (and pushed "digest") is the image index's, "platforms" names each platform's manifest
digest, SBOM, vulnerability scan and files, and the top-level image_id, sizes, versions,
vulnerabilities and files are its first platform's ("ok" is every platform's: the gate judges each).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.model import refs
from ci.model.errors import UserError
from ci.model.inputs import read_json, shown_as
from ci.model.platforms import IndexEntry, digest_of, image_index
from ci.report.model import STATUSES, CheckReport, PushedImage, VulnScan

SCHEMA = 1
INDEX_JSON = "index.json"
FILE_KEYS = ("report", "markdown", "sbom")  # per-image files, relative to the index.json
NO_REPORT = "no report: the job ended before writing one (see its log)"
JsonDict = dict[str, Any]
TOP_FINDINGS = 5  # findings named in index.json (report.json has them all)


# --------------------------------------------------------------------------- writing


def pushed_json(pushed: PushedImage | None) -> JsonDict | None:
    if pushed is None:
        return None
    out: JsonDict = {"repository": pushed.repository, "tag": pushed.tag, "digest": pushed.digest}
    if pushed.platforms:
        out["platforms"] = dict(pushed.platforms)
    return out


def result_entry(report: CheckReport) -> JsonDict:
    """One image of a run: what promote reads back (tag, tags, ok, pushed, checks)."""
    return {
        "tag": report.tags[0] if report.tags else report.image,
        "tags": list(report.tags),
        "ok": report.ok,
        "pushed": pushed_json(report.pushed),
        "checks": [
            {
                "name": r.name,
                "status": r.status,
                "message": r.message,
                "seconds": r.seconds,
                "platform": r.platform,
            }
            for r in report.results
        ],
    }


def _facts_json(report: CheckReport) -> JsonDict:
    facts = report.facts
    return {
        "digest": facts.digest if facts else None,
        "image_id": facts.image_id if facts else None,
        "compressed_size": facts.compressed_size if facts else None,
        "uncompressed_size": facts.uncompressed_size if facts else None,
        "versions": dict(facts.versions) if facts else {},
        "vulnerabilities": vulnerability_summary(facts.vulnerabilities, TOP_FINDINGS) if facts else None,
    }


def vulnerability_summary(scan: VulnScan | None, top: int | None = None) -> JsonDict | None:
    """The scan as JSON: verdict, counts by severity and the findings (worst first, `top` of them)."""
    if scan is None:
        return None
    result = scan.result
    return {
        "scanner": scan.scanner,
        "gate": result.level,
        "passed": result.passed,
        "today": result.today.isoformat(),
        "counts": result.counts(),
        "waived": result.waived,
        "top": [
            {
                "id": j.finding.id,
                "aliases": list(j.finding.aliases),
                "severity": j.finding.severity,
                "score": j.finding.score,
                "package": j.finding.package,
                "version": j.finding.version,
                "ecosystem": j.finding.ecosystem,
                "waiver": j.state,
                "summary": j.finding.summary,
            }
            for j in result.judged[:top]
        ],
    }


def summary_json(report: CheckReport) -> JsonDict:
    """The fields index.json and report.json share: the promote handoff plus sizes and versions."""
    return {**result_entry(report), "image": report.image, "platform": report.platform, **_facts_json(report)}


def index_entry(report: CheckReport, files: dict[str, str | None]) -> JsonDict:
    """summary_json plus the commit built and the paths of the image's own files (FILE_KEYS),
    relative to the index. The commit is the image's own revision label (ci.model.provenance), so
    re-testing an old image names the commit that built it, not the checkout doing the test."""
    commit = report.facts.provenance.get("revision") if report.facts is not None else None
    return {**summary_json(report), "commit": commit, **{key: files.get(key) for key in FILE_KEYS}}


def missing_entry(tag: str) -> JsonDict:
    """A planned image with no results file: its CI job ended before writing one (killed, out of
    disk, timed out, cancelled), so the run's table shows it failed instead of leaving it out."""
    return {
        "tag": tag,
        "tags": [tag],
        "ok": False,
        "pushed": None,
        "checks": [{"name": "report", "status": "fail", "message": NO_REPORT, "seconds": None}],
        **dict.fromkeys(FILE_KEYS),
    }


def group(reports: Sequence[CheckReport]) -> list[list[CheckReport]]:
    """The reports of one run, one group per tag (an image of several platforms: one per platform)."""
    groups: dict[str, list[CheckReport]] = {}
    for report in reports:
        groups.setdefault(report.tags[0] if report.tags else report.image, []).append(report)
    return list(groups.values())


def image_entry(reports: Sequence[CheckReport], files: Sequence[dict[str, str | None]]) -> JsonDict:
    """One tag's index.json entry from its platforms' reports (and each one's files)."""
    first = index_entry(reports[0], files[0])
    platforms = [
        {
            "platform": report.platform,
            "ok": report.ok,
            **_facts_json(report),
            **{key: paths.get(key) for key in FILE_KEYS},
        }
        for report, paths in zip(reports, files, strict=True)
    ]
    entry = {**first, "ok": all(r.ok for r in reports), "platforms": platforms}
    entry.pop("platform", None)
    entry["checks"] = [check for report in reports for check in result_entry(report)["checks"]]
    if len(reports) > 1:
        entry["digest"] = _index_digest(reports)
    return entry


def _index_digest(reports: Sequence[CheckReport]) -> str | None:
    """The image index's digest: the pushed one, or the one `publish` would push (ci.model.platforms)."""
    pushed = reports[0].pushed
    if pushed is not None:
        return pushed.digest
    facts = [report.facts for report in reports]
    if any(f is None or not f.manifest_size or f.platform is None for f in facts):
        return None
    entries = [
        IndexEntry(f.platform, f.digest, f.manifest_size, f.manifest_media_type)
        for f in facts
        if f is not None and f.platform is not None
    ]
    return digest_of(image_index(entries))


def index_json(entries: Iterable[JsonDict]) -> JsonDict:
    return {"schema": SCHEMA, "images": list(entries)}


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class RunResult:
    """One image as a results file describes it (what promote needs)."""

    tag: str
    tags: tuple[str, ...]
    ok: bool
    pushed: PushedImage | None
    source: str  # the file it came from, for messages
    platforms: tuple[str, ...] = ()  # the platforms the entry's image holds (empty: not said)


@dataclass(frozen=True)
class ResultsFile:
    """A validated index.json: the entries as written (for tables) and what promote reads from them."""

    path: Path
    entries: tuple[JsonDict, ...]
    results: tuple[RunResult, ...]


def read_index(path: Path, flag: str = "--results") -> ResultsFile:
    """Read and validate one index.json (or a directory holding one); any problem is one line
    naming the file and the field. Every field a table or promote uses is checked here, so a
    hostile or hand-edited file can never reach a copy or a Markdown table unchecked."""
    path = index_file(path)
    where = shown_as(path, flag)
    data = read_json(path, flag, "an index.json written by `build --report-dir`")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserError(f"{where}: not a build results file (expected schema {SCHEMA})")
    images = data.get("images")
    if not isinstance(images, list):
        raise UserError(f"{where}: field 'images' must be a list")
    entries: list[JsonDict] = []
    results: list[RunResult] = []
    for index, item in enumerate(images):
        at = f"{where}: images[{index}]"
        if not isinstance(item, dict):
            raise UserError(f"{at}: expected an object")
        results.append(_result(item, at, str(path)))
        entries.append(item)
    return ResultsFile(path, tuple(entries), tuple(results))


def index_file(path: Path) -> Path:
    """A directory stands for the index.json in it."""
    try:
        return path / INDEX_JSON if path.is_dir() else path
    except (OSError, ValueError):
        return path  # the reader names the problem


def _text(value: object) -> bool:
    """A name as a table shows it: printable, no whitespace, not absurdly long."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= refs.MAX_REFERENCE
        and all(c.isprintable() and not c.isspace() for c in value)
    )


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _result(item: JsonDict, at: str, source: str) -> RunResult:
    tag, tags, ok, pushed = item.get("tag"), item.get("tags"), item.get("ok"), item.get("pushed")
    if not isinstance(tags, list):
        raise UserError(f"{at}: field 'tags' must be a list of tags")
    # A pushed image's names become registry tags (promote): the tag grammar. Otherwise (a `test`
    # of an image reference) any name without whitespace, as tables show it.
    strict = pushed is not None
    for name, value in (("tag", tag), *((f"tags[{i}]", t) for i, t in enumerate(tags))):
        if strict and not (isinstance(value, str) and refs.is_tag(value)):
            shown = repr(value[:80]) if isinstance(value, str) else "(not a string)"
            raise UserError(f"{at}: field '{name}' {shown} is not a valid tag ({refs.TAG_RULE})")
        if not _text(value):
            raise UserError(f"{at}: field '{name}' must be a non-empty string without whitespace")
    if not isinstance(ok, bool):
        raise UserError(f"{at}: field 'ok' must be true or false")
    _check_facts(item, at)
    image = _pushed(pushed, at) if pushed is not None else None
    listed = item.get("platforms", [])
    if not isinstance(listed, list) or not all(
        isinstance(p, dict) and (p.get("platform") is None or _text(p.get("platform"))) for p in listed
    ):
        raise UserError(f"{at}: field 'platforms' must be a list of {{platform, ...}}")
    for number, part in enumerate(listed):
        _check_fields(part, f"{at}.platforms[{number}]")
    platforms = tuple(str(p["platform"]) for p in listed if p.get("platform"))
    assert isinstance(tag, str)
    return RunResult(tag, tuple(str(t) for t in tags) or (tag,), ok, image, source, platforms)


def _check_facts(item: JsonDict, at: str) -> None:
    """The fields the Markdown table reads: each of the right type, or absent/null."""
    checks = item.get("checks", [])
    if not isinstance(checks, list) or not all(
        isinstance(c, dict)
        and isinstance(c.get("name"), str)
        and c.get("status") in STATUSES
        and isinstance(c.get("message", ""), str)
        and (c.get("seconds") is None or _number(c.get("seconds")))
        and (c.get("platform") is None or _text(c.get("platform")))
        for c in checks
    ):
        raise UserError(
            f"{at}: field 'checks' must be a list of"
            f" {{name, status: {'|'.join(STATUSES)}, message, seconds, platform}}"
        )
    _check_fields(item, at)


def _check_fields(item: JsonDict, at: str) -> None:
    """An entry's (or one platform's) files, digests, sizes and versions: the right type, or null."""
    for key in (*FILE_KEYS, "image", "image_id", "digest"):
        if item.get(key) is not None and not isinstance(item.get(key), str):
            raise UserError(
                f"{at}: field '{key}' must be a {'path' if key in FILE_KEYS else 'string'} or null"
            )
    for key in ("compressed_size", "uncompressed_size"):
        value = item.get(key)
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            raise UserError(f"{at}: field '{key}' must be a size in bytes or null")
    versions = item.get("versions", {})
    if versions is not None and not (
        isinstance(versions, dict) and all(isinstance(v, str) for v in versions.values())
    ):
        raise UserError(f"{at}: field 'versions' must map names to version strings")


def _pushed(pushed: object, at: str) -> PushedImage:
    if not isinstance(pushed, dict):
        raise UserError(f"{at}: field 'pushed' must be an object or null")
    fields: dict[str, str] = {}
    for key in ("repository", "tag", "digest"):
        value = pushed.get(key)
        if not isinstance(value, str) or not value:
            raise UserError(f"{at}: field 'pushed.{key}' must be a non-empty string")
        fields[key] = value
    try:
        ref = refs.split(fields["repository"])
    except refs.ReferenceError as exc:
        raise UserError(
            f"{at}: field 'pushed.repository' {refs.shown(fields['repository'])!r}: {exc}"
        ) from None
    if ref.tag or ref.digest:
        raise UserError(
            f"{at}: field 'pushed.repository' must be REGISTRY/REPOSITORY without :tag or @digest"
        )
    if not refs.is_tag(fields["tag"]):
        raise UserError(
            f"{at}: field 'pushed.tag' {fields['tag'][:80]!r} is not a valid tag ({refs.TAG_RULE})"
        )
    if not refs.is_digest(fields["digest"]):
        raise UserError(f"{at}: field 'pushed.digest' must be 'sha256:' and 64 lowercase hex digits")
    per_platform = pushed.get("platforms", {})
    if not isinstance(per_platform, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and refs.is_digest(v) for k, v in per_platform.items()
    ):
        raise UserError(f"{at}: field 'pushed.platforms' must map platforms to 'sha256:' digests")
    return PushedImage(**fields, platforms=tuple(per_platform.items()))


def read_results(path: Path, flag: str = "--results") -> list[RunResult]:
    return list(read_index(path, flag).results)


def read_indexes(paths: Sequence[Path], flag: str = "INDEX_JSON") -> list[JsonDict]:
    """The images of several index.json files (e.g. one per CI job), their file paths made relative
    to where they now are, for one merged index."""
    entries: list[JsonDict] = []
    for path in paths:
        found = read_index(path, flag)
        for entry in found.entries:
            moved = _moved(entry, found.path.parent)
            moved["platforms"] = [_moved(p, found.path.parent) for p in entry.get("platforms", [])]
            entries.append(moved)
    return entries


def _moved(entry: JsonDict, base: Path) -> JsonDict:
    moved = dict(entry)
    for key in FILE_KEYS:
        if moved.get(key):
            moved[key] = str(base / moved[key])
    return moved


def assembled_entry(entries: Sequence[JsonDict], tags: Sequence[str], pushed: PushedImage | None) -> JsonDict:
    """One tag's entry from the entries of its platforms' separate runs (a workflow job each):
    the tags the table gives it, every platform and check, and the image index when pushed."""
    platforms = [p for entry in entries for p in entry.get("platforms", [])]
    first = dict(entries[0])
    return {
        **first,
        "tags": list(tags),
        "ok": all(entry.get("ok") is True for entry in entries),
        "pushed": pushed_json(pushed),
        "checks": [check for entry in entries for check in entry.get("checks", [])],
        "digest": pushed.digest if pushed is not None else None,
        "platforms": platforms,
    }


def matrix_tags(text: str, flag: str = "--matrix") -> list[str]:
    """The tags of a build matrix (`matrix`'s JSON: {"include": [{"tag": ...}, ...]})."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserError(f"{flag}: not JSON ({exc})") from None
    rows = data.get("include") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and isinstance(r.get("tag"), str) for r in rows
    ):
        raise UserError(
            f'{flag}: expected the `matrix` command\'s JSON, {{"include": [{{"tag": ...}}, ...]}}'
        )
    return [str(r["tag"]) for r in rows]

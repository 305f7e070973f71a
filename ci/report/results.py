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
         "report", "markdown", "sbom"   (paths relative to the index, or null),
         "platforms": [{"platform", "ok", "digest", "image_id", "compressed_size",
                        "uncompressed_size", "versions", "report", "markdown", "sbom"}...]}]}

One entry per tag. An image of several platforms has one report per platform; its entry's
"digest" (and pushed "digest") is the image index's, "platforms" names each platform's manifest
digest and files, and the top-level image_id, sizes, versions and files are its first platform's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.model.errors import UserError
from ci.model.platforms import IndexEntry, digest_of, image_index
from ci.report.model import STATUSES, CheckReport, PushedImage

SCHEMA = 1
INDEX_JSON = "index.json"
FILE_KEYS = ("report", "markdown", "sbom")  # per-image files, relative to the index.json
JsonDict = dict[str, Any]


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
    }


def summary_json(report: CheckReport) -> JsonDict:
    """The fields index.json and report.json share: the promote handoff plus sizes and versions."""
    return {**result_entry(report), "image": report.image, "platform": report.platform, **_facts_json(report)}


def index_entry(report: CheckReport, files: dict[str, str | None]) -> JsonDict:
    """summary_json plus the paths of the image's own files (FILE_KEYS), relative to the index."""
    return {**summary_json(report), **{key: files.get(key) for key in FILE_KEYS}}


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
    """Read and validate one index.json (or a directory holding one); any problem is one line."""
    if path.is_dir():
        path = path / INDEX_JSON
    where = f"{flag} {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{where}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{where}: cannot read ({exc})") from None
    except ValueError as exc:
        raise UserError(f"{where}: not JSON ({exc})") from None
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


def _result(item: JsonDict, at: str, source: str) -> RunResult:
    tag, tags, ok, pushed = item.get("tag"), item.get("tags"), item.get("ok"), item.get("pushed")
    if not isinstance(tag, str) or not tag:
        raise UserError(f"{at}: field 'tag' must be a non-empty string")
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise UserError(f"{at}: field 'tags' must be a list of tags")
    if not isinstance(ok, bool):
        raise UserError(f"{at}: field 'ok' must be true or false")
    checks = item.get("checks", [])
    if not isinstance(checks, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) and c.get("status") in STATUSES for c in checks
    ):
        raise UserError(f"{at}: field 'checks' must be a list of {{name, status: {'|'.join(STATUSES)}}}")
    for key in FILE_KEYS:
        if item.get(key) is not None and not isinstance(item.get(key), str):
            raise UserError(f"{at}: field '{key}' must be a path or null")
    image: PushedImage | None = None
    if pushed is not None:
        if not isinstance(pushed, dict):
            raise UserError(f"{at}: field 'pushed' must be an object or null")
        fields: dict[str, str] = {}
        for key in ("repository", "tag", "digest"):
            value = pushed.get(key)
            if not isinstance(value, str) or not value:
                raise UserError(f"{at}: field 'pushed.{key}' must be a non-empty string")
            fields[key] = value
        per_platform = pushed.get("platforms", {})
        if not isinstance(per_platform, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in per_platform.items()
        ):
            raise UserError(f"{at}: field 'pushed.platforms' must map platforms to digests")
        image = PushedImage(**fields, platforms=tuple(per_platform.items()))
    listed = item.get("platforms", [])
    if not isinstance(listed, list) or not all(
        isinstance(p, dict) and isinstance(p.get("platform"), str | None) for p in listed
    ):
        raise UserError(f"{at}: field 'platforms' must be a list of {{platform, ...}}")
    platforms = tuple(p["platform"] for p in listed if p.get("platform"))
    return RunResult(tag, tuple(tags) or (tag,), ok, image, source, platforms)


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

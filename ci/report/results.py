"""index.json: a run's results, written by `build --report-dir`, read by `promote --results` and `index`.

Why one module: this file is the handoff between a build job and the release engineer (the exact
pushed digest of each tested image). Its schema, its file name, its writer and its reader used to
live in two modules; a field added to one side could be missed by the other. Now the shape is
written and validated here only.

    {"schema": 1, "images": [
        {"tag": PRIMARY, "tags": [PRIMARY, ALIAS...], "ok": true|false,
         "pushed": {"repository": R, "tag": T, "digest": "sha256:..."} | null,
         "checks": [{"name", "status", "message", "seconds"}...],
         "image", "digest", "image_id", "compressed_size", "uncompressed_size", "versions",
         "report", "markdown", "sbom"   (paths relative to the index, or null)}]}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.model.errors import UserError
from ci.report.model import STATUSES, CheckReport, PushedImage

SCHEMA = 1
INDEX_JSON = "index.json"
FILE_KEYS = ("report", "markdown", "sbom")  # per-image files, relative to the index.json
NO_REPORT = "no report: the job ended before writing one (see its log)"
JsonDict = dict[str, Any]


# --------------------------------------------------------------------------- writing


def result_entry(report: CheckReport) -> JsonDict:
    """One image of a run: what promote reads back (tag, tags, ok, pushed, checks)."""
    return {
        "tag": report.tags[0] if report.tags else report.image,
        "tags": list(report.tags),
        "ok": report.ok,
        "pushed": None
        if report.pushed is None
        else {
            "repository": report.pushed.repository,
            "tag": report.pushed.tag,
            "digest": report.pushed.digest,
        },
        "checks": [
            {"name": r.name, "status": r.status, "message": r.message, "seconds": r.seconds}
            for r in report.results
        ],
    }


def summary_json(report: CheckReport) -> JsonDict:
    """The fields index.json and report.json share: the promote handoff plus sizes and versions."""
    facts = report.facts
    return {
        **result_entry(report),
        "image": report.image,
        "digest": facts.digest if facts else None,
        "image_id": facts.image_id if facts else None,
        "compressed_size": facts.compressed_size if facts else None,
        "uncompressed_size": facts.uncompressed_size if facts else None,
        "versions": dict(facts.versions) if facts else {},
    }


def index_entry(report: CheckReport, files: dict[str, str | None]) -> JsonDict:
    """summary_json plus the paths of the image's own files (FILE_KEYS), relative to the index."""
    return {**summary_json(report), **{key: files.get(key) for key in FILE_KEYS}}


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
        image = PushedImage(**fields)
    return RunResult(tag, tuple(tags) or (tag,), ok, image, source)


def read_results(path: Path, flag: str = "--results") -> list[RunResult]:
    return list(read_index(path, flag).results)


def read_indexes(paths: Sequence[Path], flag: str = "INDEX_JSON") -> list[JsonDict]:
    """The images of several index.json files (e.g. one per CI job), their file paths made relative
    to where they now are, for one merged index."""
    entries: list[JsonDict] = []
    for path in paths:
        found = read_index(path, flag)
        for entry in found.entries:
            moved = dict(entry)
            for key in FILE_KEYS:
                if moved.get(key):
                    moved[key] = str(found.path.parent / moved[key])
            entries.append(moved)
    return entries


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

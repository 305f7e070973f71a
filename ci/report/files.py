"""Write a run's reports: per image report.json, report.md and sbom.cdx.json; index.json and index.md.

Layout under `--report-dir DIR`:

    DIR/index.json            {"schema": 1, "images": [...]}: one entry per image of the run, the
                              shape `promote --results` reads (tag, tags, ok, pushed, checks) plus
                              sizes, ids, versions and the paths of the per-image files
    DIR/index.md              the table of built images (the seed guide's: tag, image id, size)
    DIR/<tag>/report.json     everything: tags, digest, sizes, layers, build steps, checks,
                              versions, packages, provenance (the image's OCI created, revision,
                              source and version labels)
    DIR/<tag>/report.md       the same for people
    DIR/<tag>/sbom.cdx.json   the image's CycloneDX SBOM as syft wrote it (ci.supply.sbom); the
                              report's package sections are read from it (ci.report.sbom)

An image of several platforms gets these three files per platform, in DIR/<tag>/<os>-<arch>/
(linux-amd64, linux-arm64); its index.json entry names each platform's and the index's digest.

index.json's schema, writer and reader are ci.report.results.

With $GITHUB_STEP_SUMMARY set, the
index and each image's report (without the long package tables, which stay in the files) are
appended to the job summary.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ci.model.errors import UserError
from ci.model.outputs import check_output_dir, check_output_file
from ci.report.markdown import image_markdown, index_markdown, primary_tag
from ci.report.model import PACKAGE_TITLES, CheckReport
from ci.report.results import (
    FILE_KEYS,
    INDEX_JSON,
    SCHEMA,
    JsonDict,
    group,
    image_entry,
    index_json,
    missing_entry,
    read_indexes,
    summary_json,
    vulnerability_summary,
)

INDEX_MD = "index.md"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
SBOM_JSON = "sbom.cdx.json"
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def image_dir_name(report: CheckReport) -> str:
    """A tag is a safe directory name ([A-Za-z0-9_.-]); an image reference (test) is made one."""
    return _safe_name(primary_tag(report))


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def report_json(report: CheckReport) -> JsonDict:
    data = {"schema": SCHEMA, **summary_json(report), "timings": dict(report.timings)}
    facts = report.facts
    if facts is None:
        return {**data, "facts": None}
    data.update(
        variant=facts.variant,
        base_image=facts.base_image,
        steps=[
            {"name": s.name, "seconds": s.seconds, "layers": s.layers, "operations": list(s.operations)}
            for s in facts.steps
        ],
        layers=[
            {
                "digest": layer.digest,
                "diff_id": layer.diff_id,
                "size": layer.size,
                "uncompressed_size": layer.uncompressed_size,
                "media_type": layer.media_type,
                "step": layer.step,
                "created_by": layer.created_by,
            }
            for layer in facts.layers
        ],
        pieces=list(facts.pieces),
        packages={
            kind: [
                {
                    k: v
                    for k, v in (("name", p.name), ("version", p.version), ("arch", p.arch))
                    if v is not None
                }
                | {"licenses": list(p.licenses)}
                for p in facts.packages_of(kind)
            ]
            for kind in PACKAGE_TITLES
            if facts.packages_of(kind)
        },
        vulnerabilities=vulnerability_summary(facts.vulnerabilities),
        notes=list(facts.notes),
        provenance=dict(facts.provenance),
    )
    return data


# --------------------------------------------------------------------------- files


def write_run(directory: Path, reports: Sequence[CheckReport]) -> Path:
    """Write every image's files and the index; append to the GitHub step summary when set."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for platforms in group(reports):
        written: list[dict[str, str | None]] = []
        for report in platforms:
            name = image_dir_name(report)
            if len(platforms) > 1 and report.platform is not None:
                name = f"{name}/{_platform_dir(report.platform)}"
            image_dir = directory / name
            image_dir.mkdir(parents=True, exist_ok=True)
            (image_dir / REPORT_JSON).write_text(json.dumps(report_json(report), indent=2) + "\n")
            (image_dir / REPORT_MD).write_text(image_markdown(report))
            sbom = report.facts.sbom if report.facts is not None else None
            if sbom is not None:
                (image_dir / SBOM_JSON).write_text(sbom)
            files: dict[str, str | None] = {
                "report": f"{name}/{REPORT_JSON}",
                "markdown": f"{name}/{REPORT_MD}",
            }
            files["sbom"] = f"{name}/{SBOM_JSON}" if sbom is not None else None
            written.append(files)
        entries.append(image_entry(platforms, written))
    index = directory / INDEX_JSON
    index.write_text(json.dumps(index_json(entries), indent=2) + "\n")
    (directory / INDEX_MD).write_text(index_markdown(entries))
    append_step_summary(
        [
            index_markdown(entries, run_url=run_url()),
            *(image_markdown(r, packages=False, level=2) for r in reports),
        ]
    )
    return index


def run_url() -> str | None:
    """The CI run's page on GitHub (from the variables every Actions step has), else None."""
    server, repository, run = (
        os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run}" if server and repository and run else None


def step_summary() -> Path | None:
    """$GITHUB_STEP_SUMMARY when set, checked as a file this command can append to (UserError)."""
    target = os.environ.get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    check_output_file(path, f"${STEP_SUMMARY_ENV}")
    return path


def append_step_summary(sections: Sequence[str]) -> Path | None:
    """GitHub renders $GITHUB_STEP_SUMMARY (Markdown, 1 MiB per step) on the run's page.

    After a build a summary that cannot be written is a warning: the reports are written already.
    """
    try:
        path = step_summary()
        if path is None:
            return None
        with path.open("a", encoding="utf-8") as summary:
            summary.write("\n".join(sections) + "\n")
    except (UserError, OSError) as exc:
        message = exc.message if isinstance(exc, UserError) else f"${STEP_SUMMARY_ENV}: {exc.strerror}"
        print(f"warning: job summary not written: {message}", file=sys.stderr)
        return None
    return path


def merge_indexes(paths: Sequence[Path], out: Path | None, planned: Sequence[str] = ()) -> str:
    """One table of the images of several index.json files (one per CI job); also into `out` and
    the step summary. Returns the table.

    planned: the tags the run meant to build (its matrix); one without a results file gets a
    failed row (missing_entry), so a job that died early is not silently absent. With `out`, each
    image's report files are copied to out/<tag>/ and the merged index.json / index.md link there:
    the directory is complete on its own (CI uploads it as one artifact).

    Every input and output is checked before anything is written (UserError, exit 2).
    """
    if out is not None:
        check_output_dir(out, "--out")
    step_summary()
    entries = read_indexes(paths)
    found = {e["tag"] for e in entries}
    entries += [missing_entry(tag) for tag in dict.fromkeys(planned) if tag not in found]
    if out is not None:
        write_index(out, entries)
    append_step_summary([index_markdown(entries, run_url=run_url())])
    return index_markdown(entries)


def write_index(out: Path, entries: Sequence[JsonDict]) -> Path:
    """index.json and index.md of entries read by read_indexes, in `out`: each image's files copied
    to out/<tag>/ and linked there, so the directory is complete on its own (CI uploads it as one
    artifact). A platform's files go to out/<tag>/<os>-<arch>/ when the tag has several platforms:
    in one entry (a multi-platform build, `assemble`) or in several (one CI job per platform)."""
    jobs = Counter(entry["tag"] for entry in entries)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for entry in entries:
            image_dir = _safe_name(entry["tag"])
            parts = entry.get("platforms") or []
            split = len(parts) > 1 or jobs[entry["tag"]] > 1
            # The entry's own files are its first platform's.
            first = parts[0].get("platform") if parts else None
            _copy_files(out, entry, _files_dir(image_dir, first, split))
            for part in parts:
                _copy_files(out, part, _files_dir(image_dir, part.get("platform"), split))
        (out / INDEX_JSON).write_text(json.dumps(index_json(entries), indent=2) + "\n")
        (out / INDEX_MD).write_text(index_markdown(entries))
    except OSError as exc:
        raise UserError(f"--out {out}: cannot be written ({exc.strerror})") from None
    return out / INDEX_JSON


def _copy_files(out: Path, item: JsonDict, where: str) -> None:
    """Copy ITEM's files (FILE_KEYS, paths as read_indexes made them) to out/WHERE/; link them there."""
    for key in FILE_KEYS:
        if item.get(key):
            source = Path(item[key])
            if not source.is_file():  # else the copy's OSError would read as --out's fault
                raise UserError(
                    f"{source}: named by a results file ({key}) but not there: keep each job's report "
                    "directory whole, index.json with its files"
                )
            target = out / where / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.resolve() != target.resolve():
                shutil.copyfile(source, target)
            item[key] = target.relative_to(out).as_posix()


def _files_dir(image_dir: str, platform: object, split: bool) -> str:
    """<tag>/<os>-<arch> for one platform of a tag built for several (split), else <tag>."""
    return f"{image_dir}/{_platform_dir(platform)}" if split and isinstance(platform, str) else image_dir


def _platform_dir(platform: str) -> str:
    """linux/arm64 -> linux-arm64: a platform's own directory under its image's."""
    return _safe_name(platform.replace("/", "-"))

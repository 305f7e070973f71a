"""Write a run's reports: per image report.json, report.md and sbom.cdx.json; index.json and index.md.

Layout under `--report-dir DIR`:

    DIR/index.json            {"schema": 1, "images": [...]}: one entry per image of the run, the
                              shape `promote --results` reads (tag, tags, ok, pushed, checks) plus
                              sizes, ids, versions and the paths of the per-image files
    DIR/index.md              the table of built images (the seed guide's: tag, image id, size)
    DIR/<tag>/report.json     everything: tags, digest, sizes, layers, build steps, checks,
                              versions, packages
    DIR/<tag>/report.md       the same for people
    DIR/<tag>/sbom.cdx.json   CycloneDX SBOM (ci.sbom)

Why pure functions of CheckReport: the same model comes from `build` and `test`, and the writers
need no engine, so they are unit-tested on hand-made reports. With $GITHUB_STEP_SUMMARY set, the
index and each image's report (without the long package tables, which stay in the files) are
appended to the job summary.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ci import manifests
from ci.report import CheckReport, ImageFacts, PackageSource, result_entry

SCHEMA = 1
INDEX_JSON = "index.json"
INDEX_MD = "index.md"
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
SBOM_JSON = "sbom.cdx.json"
STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
PACKAGE_TITLES: dict[PackageSource, str] = {
    "dpkg": manifests.DPKG.title,
    "pip": manifests.PIP.title,
    "conda": manifests.CONDA.title,
}
MARKS = {"pass": "✅ pass", "fail": "❌ FAIL", "not-checked": "⚪ not checked"}

JsonDict = dict[str, Any]


# --------------------------------------------------------------------------- helpers


def human_size(size: int | None) -> str:
    """Decimal units, as `docker images` prints them (1 GB = 10^9 bytes)."""
    if size is None:
        return "?"
    value = float(size)
    for unit, decimals in (("B", 0), ("kB", 1), ("MB", 1)):
        if value < 1000:
            return f"{value:.{decimals}f} {unit}"
        value /= 1000
    return f"{value:.2f} GB"


def short_id(digest: str) -> str:
    """The 12 hex digits `docker images` shows as IMAGE ID."""
    return digest.removeprefix("sha256:")[:12]


def cell(text: object) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def primary_tag(report: CheckReport) -> str:
    return report.tags[0] if report.tags else report.image


def image_dir_name(report: CheckReport) -> str:
    """A tag is a safe directory name ([A-Za-z0-9_.-]); an image reference (test) is made one."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in primary_tag(report))


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


# --------------------------------------------------------------------------- JSON


def summary_json(report: CheckReport) -> JsonDict:
    """The fields index.json and report.json share: the promote handoff (ci.report.result_entry,
    defined once) plus sizes and versions."""
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
            source: [
                {
                    k: v
                    for k, v in (
                        ("name", p.name),
                        ("version", p.version),
                        ("arch", p.arch),
                        ("channel", p.channel),
                        ("build", p.build),
                    )
                    if v is not None
                }
                for p in facts.packages_from(source)
            ]
            for source in PACKAGE_TITLES
            if facts.packages_from(source)
        },
        notes=list(facts.notes),
    )
    return data


def index_json(entries: Iterable[JsonDict]) -> JsonDict:
    return {"schema": SCHEMA, "images": list(entries)}


def index_entry(report: CheckReport, directory: str, *, sbom: bool) -> JsonDict:
    return {
        **summary_json(report),
        "report": f"{directory}/{REPORT_JSON}",
        "markdown": f"{directory}/{REPORT_MD}",
        "sbom": f"{directory}/{SBOM_JSON}" if sbom else None,
    }


# --------------------------------------------------------------------------- Markdown


def _version_rows(facts: ImageFacts) -> list[tuple[str, str]]:
    v = facts.versions
    rows = [("OS", v.get("os", "?")), ("Python", v.get("python", "?"))]
    rows += [("TensorFlow", v.get("tensorflow", "not installed")), ("numpy", v.get("numpy", "not installed"))]
    if "cuda" in facts.pieces:
        rows.append(("CUDA", f"{v.get('cuda', 'not found')} ({v.get('cuda_from', '-')})"))
        rows.append(("cuDNN", f"{v.get('cudnn', 'not found')} ({v.get('cudnn_from', '-')})"))
    return rows


def image_markdown(report: CheckReport, *, packages: bool = True, level: int = 1) -> str:
    """One image's report; packages=False leaves out the package tables (the step summary)."""
    h = "#" * level
    facts = report.facts
    state = "passed" if report.ok else "FAILED"
    lines = [f"{h} `{primary_tag(report)}`: {state}", "", "| | |", "|---|---|"]
    lines.append(f"| tags | {', '.join(f'`{t}`' for t in (report.tags or (report.image,)))} |")
    if report.pushed is not None:
        pushed = report.pushed
        lines.append(f"| pushed | `{pushed.repository}:{pushed.tag}@{pushed.digest}` |")
    if facts is not None:
        layers = len(facts.layers)
        image_id = f"`{short_id(facts.image_id)}` (`{facts.image_id}`)" if facts.image_id else "-"
        lines += [
            f"| digest | `{facts.digest}` |",
            f"| image id | {image_id} |",
            f"| size | {human_size(facts.uncompressed_size)} unpacked, "
            f"{human_size(facts.compressed_size)} compressed, {layers} layers |",
            f"| base | `{facts.base_image}` |",
        ]
        lines += [f"| {name} | {cell(value)} |" for name, value in _version_rows(facts)]
        counts = ", ".join(
            f"{len(facts.packages_from(s))} {s}" for s in PACKAGE_TITLES if facts.packages_from(s)
        )
        lines.append(f"| packages | {counts or 'none listed'} |")
    took = ", ".join(f"{k} {v:.0f} s" for k, v in report.timings.items())
    if took:
        lines.append(f"| took | {took} |")
    lines += ["", f"{h}# Checks", "", "| result | check | seconds | message |", "|---|---|---:|---|"]
    lines += [
        f"| {MARKS[r.status]} | {cell(r.name)} | {_seconds(r.seconds)} | {cell(r.message)} |"
        for r in report.results
    ]
    if facts is None:
        return "\n".join([*lines, "", "No image facts: the image was not built or not inspected.", ""])
    if facts.steps:
        lines += ["", f"{h}# Build steps", ""]
        lines += ["| step | seconds | layers | compressed | unpacked |", "|---|---:|---:|---:|---:|"]
        for step in facts.steps:
            own = [layer for layer in facts.layers if layer.step == step.name]
            compressed = sum(layer.size for layer in own)
            unpacked = [layer.uncompressed_size for layer in own]
            unpacked_total = None if None in unpacked else sum(u for u in unpacked if u is not None)
            lines.append(
                f"| {step.name} | {step.seconds:.1f} | {len(own)} | {human_size(compressed)} | "
                f"{human_size(unpacked_total)} |"
            )
    lines += ["", f"{h}# Layers", ""]
    lines += ["| # | step | compressed | unpacked | created by |", "|---:|---|---:|---:|---|"]
    for number, layer in enumerate(facts.layers, 1):
        created = layer.created_by if len(layer.created_by) <= 90 else layer.created_by[:87] + "..."
        lines.append(
            f"| {number} | {layer.step or '?'} | {human_size(layer.size)} | "
            f"{human_size(layer.uncompressed_size)} | {cell(created)} |"
        )
    if facts.notes:
        lines += ["", f"{h}# Notes", ""] + [f"- {cell(note)}" for note in facts.notes]
    if packages:
        for source, title in PACKAGE_TITLES.items():
            listed = facts.packages_from(source)
            if not listed:
                continue
            lines += ["", f"{h}# {title}: {len(listed)}", "", "<details><summary>list</summary>", ""]
            extra = "arch" if source == "dpkg" else "channel" if source == "conda" else None
            header = "| package | version |" + (f" {extra} |" if extra else "")
            lines += [header, "|---|---|" + ("---|" if extra else "")]
            for p in listed:
                row = f"| {cell(p.name)} | {cell(p.version)} |"
                if extra:
                    row += f" {cell((p.arch if source == 'dpkg' else p.channel) or '')} |"
                lines.append(row)
            lines += ["", "</details>"]
    return "\n".join([*lines, ""])


INDEX_COLUMNS = (
    "| tag | result | image id | size | compressed | TensorFlow | Python | CUDA / cuDNN | report |",
    "|---|---|---|---:|---:|---|---|---|---|",
)


def index_markdown(entries: Sequence[JsonDict], *, title: str = "Built images") -> str:
    """The seed guide's table of built images, from index.json entries (one run or several merged)."""
    lines = [f"# {title}", "", *INDEX_COLUMNS]
    for e in entries:
        v = e.get("versions") or {}
        cuda = f"{v['cuda']} / {v.get('cudnn', '?')}" if "cuda" in v else "-"
        image_id = short_id(e["image_id"]) if e.get("image_id") else "-"
        checks = e.get("checks") or []
        failed = [c["name"] for c in checks if c["status"] == "fail"]
        result = "passed" if e["ok"] else f"FAILED: {', '.join(failed)}"
        link = f"[report]({e['markdown']})" if e.get("markdown") else "-"
        lines.append(
            f"| `{e['tag']}` | {cell(result)} | `{image_id}` | {human_size(e.get('uncompressed_size'))} | "
            f"{human_size(e.get('compressed_size'))} | {v.get('tensorflow', '-')} | "
            f"{v.get('python', '-')} | {cuda} | {link} |"
        )
    return "\n".join([*lines, ""])


# --------------------------------------------------------------------------- files


def write_run(directory: Path, reports: Sequence[CheckReport]) -> Path:
    """Write every image's files and the index; append to the GitHub step summary when set."""
    from ci.sbom import sbom_json

    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for report in reports:
        name = image_dir_name(report)
        image_dir = directory / name
        image_dir.mkdir(parents=True, exist_ok=True)
        (image_dir / REPORT_JSON).write_text(json.dumps(report_json(report), indent=2) + "\n")
        (image_dir / REPORT_MD).write_text(image_markdown(report))
        sbom = report.facts is not None
        if report.facts is not None:
            (image_dir / SBOM_JSON).write_text(sbom_json(report, report.facts) + "\n")
        entries.append(index_entry(report, name, sbom=sbom))
    index = directory / INDEX_JSON
    index.write_text(json.dumps(index_json(entries), indent=2) + "\n")
    (directory / INDEX_MD).write_text(index_markdown(entries))
    append_step_summary(
        [index_markdown(entries), *(image_markdown(r, packages=False, level=2) for r in reports)]
    )
    return index


def append_step_summary(sections: Sequence[str]) -> Path | None:
    """GitHub renders $GITHUB_STEP_SUMMARY (Markdown, 1 MiB per step) on the run's page."""
    target = os.environ.get(STEP_SUMMARY_ENV)
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as summary:
        summary.write("\n".join(sections) + "\n")
    return path


def read_indexes(paths: Sequence[Path]) -> list[JsonDict]:
    """The images of several index.json files (e.g. one per CI job), their file paths made relative
    to where they now are, for one merged index."""
    entries: list[JsonDict] = []
    for path in paths:
        data = json.loads(path.read_text())
        if (
            not isinstance(data, dict)
            or data.get("schema") != SCHEMA
            or not isinstance(data.get("images"), list)
        ):
            raise ValueError(f"{path}: not a report index (schema {SCHEMA})")
        for entry in data["images"]:
            for key in ("report", "markdown", "sbom"):
                if entry.get(key):
                    entry[key] = str(path.parent / entry[key])
            entries.append(entry)
    return entries

"""Markdown for people: one image's report, and the table of built images of one run or several.

Why pure functions of CheckReport and index entries: the same model comes from `build` and `test`
(and merged index.json files from several CI jobs), and the writers need no engine, so they are
unit-tested on hand-made reports.
"""

from __future__ import annotations

from collections.abc import Sequence

from ci.report.model import PACKAGE_TITLES, CheckReport, ImageFacts
from ci.report.results import JsonDict

MARKS = {"pass": "✅ pass", "fail": "❌ FAIL", "not-checked": "⚪ not checked"}


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


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


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
        if facts.provenance:
            built_from = ", ".join(f"{key} `{value}`" for key, value in facts.provenance.items())
            lines.append(f"| provenance | {cell(built_from)} |")
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


def index_markdown(
    entries: Sequence[JsonDict], *, title: str = "Built images", run_url: str | None = None
) -> str:
    """The seed guide's table of built images, from index.json entries (one run or several merged).

    Links go to each image's report.md, relative to the index. run_url: a CI run's page instead
    (a job summary is rendered on github.com, where a relative path leads nowhere; the files are
    in the run's artifacts).
    """
    lines = [f"# {title}", "", *INDEX_COLUMNS]
    for e in entries:
        v = e.get("versions") or {}
        cuda = f"{v['cuda']} / {v.get('cudnn', '?')}" if "cuda" in v else "-"
        image_id = short_id(e["image_id"]) if e.get("image_id") else "-"
        checks = e.get("checks") or []
        failed = [c["name"] for c in checks if c["status"] == "fail"]
        result = "passed" if e["ok"] else f"FAILED: {', '.join(failed)}"
        if run_url is not None:
            link = f"[artifacts]({run_url}#artifacts)" if e.get("markdown") else f"[job log]({run_url})"
        else:
            link = f"[report]({e['markdown']})" if e.get("markdown") else "-"
        lines.append(
            f"| `{e['tag']}` | {cell(result)} | `{image_id}` | {human_size(e.get('uncompressed_size'))} | "
            f"{human_size(e.get('compressed_size'))} | {v.get('tensorflow', '-')} | "
            f"{v.get('python', '-')} | {cuda} | {link} |"
        )
    return "\n".join([*lines, ""])

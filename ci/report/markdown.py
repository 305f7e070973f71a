"""Markdown for people: one image's report, and the table of built images of one run or several.

Why pure functions of CheckReport and index entries: the same model comes from `build` and `test`
(and merged index.json files from several CI jobs), and the writers need no engine, so they are
unit-tested on hand-made reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ci.model.vulns import SEVERITIES, count_text
from ci.report.model import PACKAGE_TITLES, CheckReport, ImageFacts, Package, VulnScan
from ci.report.results import JsonDict

TOP_FINDINGS = 10  # findings listed in an image's report (all are in report.json)
INDEX_FINDINGS = 3  # findings named in the run's table

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


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def cell(text: object) -> str:
    """A Markdown table cell: one line; backslashes, pipes, backticks and `<` escaped.

    Why all of them: tags, check messages and versions come from files a hostile or careless user
    may have written (index.json, a check's output); a newline would end the row and start a
    heading, a pipe would add a column, a backtick would open a code span that eats the rest.
    """
    text = _one_line(text).replace("\\", "\\\\")
    return text.replace("|", "\\|").replace("`", "\\`").replace("<", "&lt;")


def code(text: object, *, in_table: bool = True) -> str:
    """`text` as a code span on one line: fenced by more backticks than it holds (CommonMark);
    in a table, pipes escaped (GFM splits cells before it sees code spans)."""
    text = _one_line(text)
    if in_table:
        text = text.replace("|", "\\|")
    run = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def link(target: str) -> str:
    """A relative link target, percent-encoded so no path can end the link or the row."""
    return quote(target, safe="/._-~")


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
    on = f" ({cell(report.platform)})" if report.platform else ""
    lines = [f"{h} {code(primary_tag(report), in_table=False)}{on}: {state}", "", "| | |", "|---|---|"]
    lines.append(f"| tags | {', '.join(code(t) for t in (report.tags or (report.image,)))} |")
    if report.platform:
        lines.append(f"| platform | {cell(report.platform)} |")
    if report.pushed is not None:
        pushed = report.pushed
        index = (
            f" (image index of {cell(', '.join(p for p, _ in pushed.platforms))})"
            if len(pushed.platforms) > 1
            else ""
        )
        lines.append(f"| pushed | {code(pushed.ref)}{index} |")
        manifest = dict(pushed.platforms).get(report.platform or "")
        if manifest and manifest != pushed.digest:
            lines.append(f"| pushed manifest ({cell(report.platform)}) | {code(manifest)} |")
    if facts is not None:
        layers = len(facts.layers)
        image_id = f"{code(short_id(facts.image_id))} ({code(facts.image_id)})" if facts.image_id else "-"
        lines += [
            f"| digest | {code(facts.digest)} |",
            f"| image id | {image_id} |",
            f"| size | {human_size(facts.uncompressed_size)} unpacked, "
            f"{human_size(facts.compressed_size)} compressed, {layers} layers |",
            f"| base | {code(facts.base_image)} |",
        ]
        if facts.provenance:
            built_from = ", ".join(f"{cell(key)} {code(value)}" for key, value in facts.provenance.items())
            lines.append(f"| provenance | {built_from} |")
        lines += [f"| {name} | {cell(value)} |" for name, value in _version_rows(facts)]
        counts = ", ".join(
            f"{len(facts.packages_of(kind))} {kind}" for kind in PACKAGE_TITLES if facts.packages_of(kind)
        )
        lines.append(f"| packages | {counts or 'none listed'} (SBOM) |")
        if facts.vulnerabilities is not None:
            lines.append(f"| vulnerabilities | {cell(facts.vulnerabilities.result.message())} |")
    took = ", ".join(f"{k} {v:.0f} s" for k, v in report.timings.items())
    if took:
        lines.append(f"| took | {took} |")
    lines += ["", f"{h}# Checks", "", "| result | platform | check | seconds | message |"]
    lines += ["|---|---|---|---:|---|"]
    lines += [
        f"| {MARKS[r.status]} | {r.platform or '-'} | {cell(r.name)} | {_seconds(r.seconds)} |"
        f" {cell(r.message)} |"
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
                f"| {cell(step.name)} | {step.seconds:.1f} | {len(own)} | {human_size(compressed)} | "
                f"{human_size(unpacked_total)} |"
            )
    lines += ["", f"{h}# Layers", ""]
    lines += ["| # | step | compressed | unpacked | created by |", "|---:|---|---:|---:|---|"]
    for number, layer in enumerate(facts.layers, 1):
        created = layer.created_by if len(layer.created_by) <= 90 else layer.created_by[:87] + "..."
        lines.append(
            f"| {number} | {cell(layer.step or '?')} | {human_size(layer.size)} | "
            f"{human_size(layer.uncompressed_size)} | {cell(created)} |"
        )
    if facts.vulnerabilities is not None:
        lines += vulnerability_section(facts.vulnerabilities, h)
    if facts.notes:
        lines += ["", f"{h}# Notes", ""] + [f"- {cell(note)}" for note in facts.notes]
    if packages:
        for kind, title in PACKAGE_TITLES.items():
            listed = facts.packages_of(kind)
            if not listed:
                continue
            lines += ["", f"{h}# {title}: {len(listed)}", "", "<details><summary>list</summary>", ""]
            lines += ["| package | version | arch | licences |", "|---|---|---|---|"]
            lines += [
                f"| {cell(p.name)} | {cell(p.version)} | {cell(p.arch or '')} | {licences(p)} |"
                for p in listed
            ]
            lines += ["", "</details>"]
    return "\n".join([*lines, ""])


def licences(package: Package) -> str:
    return cell(", ".join(package.licenses))


def vulnerability_section(scan: VulnScan, h: str) -> list[str]:
    """Counts by severity and the worst findings, each with its waiver state."""
    result = scan.result
    lines = [
        "",
        f"{h}# Vulnerabilities",
        "",
        f"{cell(result.message())}; {cell(scan.scanner)}, as of {result.today}.",
    ]
    counts = result.counts()
    lines += ["", "| " + " | ".join(s.lower() for s in SEVERITIES) + " | waived |", "|" + "---:|" * 6]
    lines.append("| " + " | ".join(str(counts[s]) for s in SEVERITIES) + f" | {result.waived} |")
    if result.judged:
        shown = result.judged[:TOP_FINDINGS]
        lines += ["", f"Top {len(shown)} of {len(result.judged)}:", ""]
        lines += [
            "| severity | score | id | package | version | waiver | summary |",
            "|---|---:|---|---|---|---|---|",
        ]
        for judged in shown:
            f = judged.finding
            score = "" if f.score is None else f"{f.score:.1f}"
            lines.append(
                f"| {f.severity.lower()} | {score} | {cell(f.id)} | {cell(f.ecosystem)}/{cell(f.package)} | "
                f"{cell(f.version)} | {judged.state} | {cell(f.summary)} |"
            )
    return lines


INDEX_COLUMNS = (
    "| tag | platform | result | image id | size | compressed | TensorFlow | Python | CUDA / cuDNN"
    " | vulnerabilities | report |",
    "|---|---|---|---|---:|---:|---|---|---|---|---|",
)


def index_row(e: Mapping[str, Any], part: Mapping[str, Any] | None = None) -> dict[str, str]:
    """One image's row of the run's table, from its index.json entry (also in the check-results
    attestation, ci.supply.predicate); with `part` (one of the entry's "platforms"), that
    platform's row: its facts, its scan and the checks that ran on it."""
    p = part if part is not None else e
    platform = p.get("platform") if part is not None else None
    v = p.get("versions") or {}
    checks = e.get("checks") or []
    failed = [c["name"] for c in checks if c["status"] == "fail" and c.get("platform") in (None, platform)]
    ok = p.get("ok", e["ok"]) if part is not None else e["ok"]
    return {
        "tag": e["tag"],
        "platform": platform or "-",
        "result": "passed" if ok else f"FAILED: {', '.join(failed)}",
        "image id": short_id(p["image_id"]) if p.get("image_id") else "-",
        "size": human_size(p.get("uncompressed_size")),
        "compressed": human_size(p.get("compressed_size")),
        "TensorFlow": v.get("tensorflow", "-"),
        "Python": v.get("python", "-"),
        "CUDA / cuDNN": f"{v['cuda']} / {v.get('cudnn', '?')}" if "cuda" in v else "-",
        "vulnerabilities": vulnerability_cell(p.get("vulnerabilities")),
    }


def vulnerability_cell(summary: object) -> str:
    """index.json's vulnerability summary in a few words: counts, then the gate's verdict."""
    if not isinstance(summary, dict):
        return "not scanned"
    counts = summary.get("counts")
    found = counts if isinstance(counts, dict) else {}
    text = count_text({s: int(found.get(s, 0)) for s in SEVERITIES})
    if summary.get("gate"):
        text += f"; gate {summary['gate']} {'passed' if summary.get('passed') else 'FAILED'}"
    top = summary.get("top")
    worst = [f for f in top if isinstance(f, dict)][:INDEX_FINDINGS] if isinstance(top, list) else []
    if worst:
        text += "; top: " + ", ".join(
            f"{f.get('id')} {f.get('package')}"
            + (f" ({f['waiver']})" if f.get("waiver") != "unwaived" else "")
            for f in worst
        )
    return text


def index_markdown(
    entries: Sequence[JsonDict], *, title: str = "Built images", run_url: str | None = None
) -> str:
    """The seed guide's table of built images, from index.json entries (one run or several merged):
    one row per platform of each image.

    Links go to each image's report.md, relative to the index. run_url: a CI run's page instead
    (a job summary is rendered on github.com, where a relative path leads nowhere; the files are
    in the run's artifacts).
    """
    lines = [f"# {title}", "", *INDEX_COLUMNS]
    for e in entries:
        for part in e.get("platforms") or [None]:
            row = index_row(e, part)
            files = part if part is not None else e
            if run_url is not None:
                report = (
                    f"[artifacts]({run_url}#artifacts)" if files.get("markdown") else f"[job log]({run_url})"
                )
            else:
                report = f"[report]({link(files['markdown'])})" if files.get("markdown") else "-"
            lines.append(
                f"| {code(row['tag'])} | {cell(row['platform'])} | {cell(row['result'])} | "
                f"{code(row['image id'])} | {row['size']} | {row['compressed']} | "
                f"{cell(row['TensorFlow'])} | {cell(row['Python'])} | {cell(row['CUDA / cuDNN'])} | "
                f"{cell(row['vulnerabilities'])} | {report} |"
            )
    return "\n".join([*lines, ""])

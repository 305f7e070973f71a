"""Markdown for people: sizes as docker prints them, one image's report, and the table of a run."""

from __future__ import annotations

import re

from ci.report.markdown import (
    INDEX_COLUMNS,
    cell,
    code,
    human_size,
    image_markdown,
    index_markdown,
    short_id,
)
from tests.unit import report_samples
from tests.unit.report_samples import TAG


def test_human_size_uses_docker_decimal_units() -> None:
    assert [human_size(n) for n in (999, 1000, 742_601_984, 2_182_371_840, None)] == [
        "999 B",
        "1.0 kB",
        "742.6 MB",
        "2.18 GB",
        "?",
    ]


def test_markdown_shows_sizes_checks_steps_layers_and_packages() -> None:
    text = image_markdown(report_samples.report(ok=False))
    assert text.startswith(f"# `{TAG}` (linux/amd64): FAILED")
    assert "| platform | linux/amd64 |" in text
    assert "| size | 3.0 MB unpacked, 1.0 MB compressed, 3 layers |" in text
    assert (
        "| ❌ FAIL | linux/amd64 | zh_CN.UTF-8 locale | 0.3 | \\`locale -a\\` has no zh_CN.utf8 \\| oops |"
        in text
    )
    assert "| ⚪ not checked | linux/amd64 | GPU visible to TensorFlow | 0.0 |" in text
    assert "| os_packages | 20.2 | 1 | 400.0 kB | 1.2 MB |" in text
    assert (
        "| 2 | os_packages | 400.0 kB | 1.2 MB | mount / from exec bash -euo pipefail -c apt-get \\| x |"
        in text
    )
    assert "| packages | 3 deb, 2 pypi, 1 npm, 1 other (SBOM) |" in text
    assert "## Debian packages: 3" in text
    assert (
        "| openssl | 3.0.22-1~deb12u2 | amd64 | Apache-2.0, GPL-1.0-only, GPL-1.0-or-later, Artistic |"
        in text
    )
    assert "## npm packages: 1" in text
    assert "CUDA" not in text  # a CPU image has no CUDA piece
    assert "| provenance | created `2026-11-28T05:31:00Z`, revision `0123456789abcdef" in text
    short = image_markdown(report_samples.report(), packages=False, level=2)
    assert short.startswith("## ")
    assert "| openssl |" not in short
    assert "### Vulnerabilities" in short  # the step summary keeps the findings


def test_markdown_shows_vulnerability_counts_and_top_findings() -> None:
    text = image_markdown(report_samples.report())
    assert "| vulnerabilities | gate HIGH passed: 1 high, 1 medium, 1 unknown, 1 waived |" in text
    section = text[text.index("## Vulnerabilities") :]
    assert "| critical | high | medium | low | unknown | waived |" in section
    assert "| 0 | 1 | 1 | 0 | 1 | 1 |" in section
    rows = [line for line in section.splitlines() if line.startswith("| high") or line.startswith("| medium")]
    assert rows[0] == (
        "| high | 7.5 | TFCI-TEST-2026-0001 | Debian:12/openssl | 3.0.22-1~deb12u2 | waived "
        "| TEST DATA \\| high |"
    )
    assert rows[1].startswith("| medium |  | TFCI-TEST-2026-0101 | PyPI/jinja2 | 3.1.6 | unwaived |")
    rep = report_samples.report()
    assert rep.facts is not None
    rep.facts.vulnerabilities = report_samples.scan(waived=False)
    failing = image_markdown(rep)
    assert (
        "gate HIGH FAILED: 1 unwaived finding(s) at or above HIGH, e.g. TFCI-TEST-2026-0001 HIGH" in failing
    )


def test_gpu_markdown_has_cuda_rows() -> None:
    rep = report_samples.report()
    rep.facts = report_samples.facts("gpu")
    text = image_markdown(rep)
    assert "| CUDA | 12.2.140 (pip nvidia-cuda-runtime-cu12) |" in text
    assert "| cuDNN | 8.9.4.25 (-) |" in text


def test_cells_are_one_line_with_pipes_escaped() -> None:
    assert cell("a | b\n  c") == "a \\| b c"
    assert short_id("sha256:" + "0123456789ab" + "f" * 52) == "0123456789ab"


def test_an_image_without_facts_says_so() -> None:
    text = image_markdown(report_samples.report(ok=False, pushed=False, with_facts=False))
    assert text.startswith(f"# `{TAG}` (linux/amd64): FAILED")
    assert "| pushed |" not in text
    assert "## Layers" not in text
    assert text.endswith("No image facts: the image was not built or not inspected.\n")


def test_index_rows_show_gpu_versions_and_a_dash_for_what_is_unknown() -> None:
    gpu = {
        "tag": "t-gpu",
        "ok": True,
        "image_id": "sha256:" + "c" * 64,
        "uncompressed_size": 9_000_000_000,
        "compressed_size": None,
        "versions": {"tensorflow": "2.15.1", "python": "3.11.2", "cuda": "12.2.140", "cudnn": "8.9.4.25"},
        "vulnerabilities": {"gate": "HIGH", "passed": True, "counts": {"HIGH": 1, "UNKNOWN": 2}},
        "markdown": "t-gpu/report.md",
    }
    bare = {"tag": "t-none", "ok": False, "checks": [{"name": "build", "status": "fail"}]}
    table = index_markdown([gpu, bare], title="Release candidates")
    lines = table.splitlines()
    assert lines[0] == "# Release candidates"
    assert lines[2:4] == list(INDEX_COLUMNS)
    assert lines[4] == (
        "| `t-gpu` | - | passed | `cccccccccccc` | 9.00 GB | ? | 2.15.1 | 3.11.2 | 12.2.140 / 8.9.4.25 | "
        "1 high, 2 unknown; gate HIGH passed | [report](t-gpu/report.md) |"
    )
    assert lines[5] == "| `t-none` | - | FAILED: build | `-` | ? | ? | - | - | - | not scanned | - |"


def test_index_rows_one_per_platform_each_with_its_own_result() -> None:
    entry = {
        "tag": "t",
        "ok": False,
        "checks": [
            {"name": "build", "status": "pass", "platform": "linux/amd64"},
            {"name": "runs as its platform", "status": "fail", "platform": "linux/arm64"},
        ],
        "platforms": [
            {"platform": "linux/amd64", "ok": True, "image_id": "sha256:" + "a" * 64, "markdown": "t/a.md"},
            {"platform": "linux/arm64", "ok": False, "image_id": None},
        ],
    }
    _, _, _, _, amd64, arm64, _ = index_markdown([entry]).split("\n")
    assert amd64 == (
        "| `t` | linux/amd64 | passed | `aaaaaaaaaaaa` | ? | ? | - | - | - | not scanned | [report](t/a.md) |"
    )
    assert arm64 == (
        "| `t` | linux/arm64 | FAILED: runs as its platform | `-` | ? | ? | - | - | - | not scanned | - |"
    )


HOSTILE = "x`|\n# injected heading\n| a | b |<script>"


def _rows_are_intact(text: str, header: str) -> None:
    lines = text.splitlines()
    start = lines.index(header)
    columns = len(re.split(r"(?<!\\)\|", header))
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        assert len(re.split(r"(?<!\\)\|", line)) == columns, line
    assert not any(line.startswith("# injected") or line.startswith("<script") for line in lines)


def test_a_hostile_tag_or_message_cannot_break_the_table_or_add_a_heading() -> None:
    """Issue 16, finding 15: a tag with backticks or a newline broke the step-summary table and could
    inject headings."""
    entry = {
        "tag": HOSTILE,
        "ok": False,
        "checks": [{"name": HOSTILE, "status": "fail"}],
        "image_id": "``" + HOSTILE,
        "versions": {"tensorflow": HOSTILE, "cuda": HOSTILE},
        "markdown": "a b)/](x)\n#.md",
    }
    text = index_markdown([entry])
    _rows_are_intact(text, INDEX_COLUMNS[0])
    assert "[report](a%20b%29/%5D%28x%29%0A%23.md)" in text
    report = report_samples.report(ok=False)
    report.tags = (HOSTILE,)
    image = image_markdown(report, packages=False, level=2)
    assert image.startswith("## ``x`| # injected heading | a | b |<script>`` (linux/amd64): FAILED\n")
    _rows_are_intact(image, "| | |")


def test_cells_and_code_spans_escape_what_would_end_them() -> None:
    assert cell("a|b`c\nd<e\\") == "a\\|b\\`c d&lt;e\\\\"
    assert code("a`b") == "``a`b``"
    assert code("`a") == "`` `a ``"
    assert code("a|b") == "`a\\|b`"
    assert code("a|b", in_table=False) == "`a|b`"

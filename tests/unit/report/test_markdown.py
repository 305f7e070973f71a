"""Markdown for people: sizes as docker prints them, one image's report, and the table of a run."""

from __future__ import annotations

from ci.report.markdown import INDEX_COLUMNS, cell, human_size, image_markdown, index_markdown, short_id
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
    assert text.startswith(f"# `{TAG}`: FAILED")
    assert "| size | 3.0 MB unpacked, 1.0 MB compressed, 3 layers |" in text
    assert "| ❌ FAIL | zh_CN.UTF-8 locale | 0.3 | `locale -a` has no zh_CN.utf8 \\| oops |" in text
    assert "| ⚪ not checked | GPU visible to TensorFlow | 0.0 |" in text
    assert "| os_packages | 20.2 | 1 | 400.0 kB | 1.2 MB |" in text
    assert (
        "| 2 | os_packages | 400.0 kB | 1.2 MB | mount / from exec bash -euo pipefail -c apt-get \\| x |"
        in text
    )
    assert "## Debian packages (dpkg): 2" in text
    assert "| curl | 7.88.1-10+deb12u5 | amd64 |" in text
    assert "CUDA" not in text  # a CPU image has no CUDA piece
    assert "| provenance | created `2026-11-28T05:31:00Z`, revision `0123456789abcdef" in text
    short = image_markdown(report_samples.report(), packages=False, level=2)
    assert short.startswith("## ")
    assert "| curl |" not in short


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
    assert text.startswith(f"# `{TAG}`: FAILED")
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
        "markdown": "t-gpu/report.md",
    }
    bare = {"tag": "t-none", "ok": False, "checks": [{"name": "build", "status": "fail"}]}
    table = index_markdown([gpu, bare], title="Release candidates")
    lines = table.splitlines()
    assert lines[0] == "# Release candidates"
    assert lines[2:4] == list(INDEX_COLUMNS)
    assert lines[4] == (
        "| `t-gpu` | passed | `cccccccccccc` | 9.00 GB | ? | 2.15.1 | 3.11.2 | 12.2.140 / 8.9.4.25 | "
        "[report](t-gpu/report.md) |"
    )
    assert lines[5] == "| `t-none` | FAILED: build | `-` | ? | ? | - | - | - | - |"

"""`plan` and `matrix`: what the table resolves to, without an engine.

Why apart from the build commands: these answer in well under a second and never import dagger,
so a bad table or flag fails before any CI runner spends time on a build.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ci.cli import flags
from ci.model.spec import ImageSpec
from ci.report import plan as render
from ci.select import matrix_specs, selected_specs


def print_notes(specs: Sequence[ImageSpec]) -> None:
    for line in render.notes(specs):
        print(line, file=sys.stderr)


def configure_plan(parser: argparse.ArgumentParser) -> None:
    flags.add_selectors(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")


def run_plan(args: argparse.Namespace) -> int:
    """Print resolved images without contacting an engine."""
    specs = selected_specs(flags.selection(args))
    print(render.plan_json(specs) if args.format == "json" else render.plan_table(specs))
    print_notes(specs)
    return 0


def configure_matrix(parser: argparse.ArgumentParser) -> None:
    flags.add_selectors(parser, with_all=False)


def run_matrix(args: argparse.Namespace) -> int:
    """Print {"include": [...]} for GitHub Actions; unbuildable targets are left out (with a warning).

    No selectors, or --variant alone: every target (of that variant). Selectors with --tf: just that
    image, so a workflow_dispatch with `selectors` builds what it names and nothing else.
    """
    chosen = matrix_specs(flags.selection(args))
    rows = []
    for spec, gpu_base in chosen:
        if not spec.buildable:
            print_notes([spec])
            continue
        rows.extend(render.matrix_rows(spec, gpu_base))
    print(render.matrix_json(rows))
    return 0

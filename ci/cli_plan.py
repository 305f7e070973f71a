"""`plan` and `matrix`: what the table resolves to, without an engine.

Why apart from the build commands: these answer in well under a second and never import dagger,
so a bad table or flag fails before any CI runner spends time on a build.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ci import render
from ci.select import add_selectors, load, selected_specs
from ci.spec import ImageSpec
from ci.table import VARIANTS


def print_notes(specs: Sequence[ImageSpec]) -> None:
    for line in render.notes(specs):
        print(line, file=sys.stderr)


def configure_plan(parser: argparse.ArgumentParser) -> None:
    add_selectors(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")


def run_plan(args: argparse.Namespace) -> int:
    """Print resolved images without contacting an engine."""
    specs = selected_specs(args)
    print(render.plan_json(specs) if args.format == "json" else render.plan_table(specs))
    print_notes(specs)
    return 0


def configure_matrix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=VARIANTS, help="only targets of this variant")


def run_matrix(args: argparse.Namespace) -> int:
    """Print {"include": [...]} for GitHub Actions; unbuildable targets are left out (with a warning)."""
    table, targets = load(args)
    rows = []
    for target, spec in zip(table.targets, targets, strict=True):
        if args.variant is not None and spec.variant != args.variant:
            continue
        if not spec.buildable:
            print_notes([spec])
            continue
        rows.append(render.matrix_row(spec, target.gpu_base))
    print(render.matrix_json(rows))
    return 0

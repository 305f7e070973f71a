"""`assemble`: parse the flags, then tag each multi-platform image with its index (ci.registry.assemble).

Exit codes: 0 every image complete; 1 a registry refused, or an image had a failed or missing
platform (not assembled, nothing pushed for it); 2 bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ci import select
from ci.cli import flags
from ci.registry.assemble import AssembleRequest, assemble
from ci.report.files import write_index
from ci.report.results import read_indexes


def configure_assemble(parser: argparse.ArgumentParser) -> None:
    flags.add_results_flag(
        parser,
        required=True,
        help="the index.json of every build job of the run (one per image and platform)",
    )
    parser.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="write the run's index.json and index.md here"
    )
    flags.add_registry_credentials(parser, "registry access (the repository the platforms were pushed to)")


def run_assemble(args: argparse.Namespace) -> int:
    entries = tuple(read_indexes(args.results, "--results"))
    targets = {spec.tag: spec for spec in select.load(flags.selection(args).table)[1]}
    request = AssembleRequest(
        entries=entries, targets=targets, credentials=flags.credentials(args, flags.PUBLISH)
    )
    with flags.transport(args).open() as registries:
        outcome = assemble(request, registries)
    print(f"run index: {write_index(args.out, outcome.entries)}")
    return 1 if outcome.problems else 0

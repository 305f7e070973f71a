"""`index`: one table of built images from the index.json files of several runs.

Why: in CI every image builds in its own job, each writing its own `--report-dir`; a last job
downloads them all and shows the whole run's table (the seed guide's: tag, image id, size) in one
step summary, and can keep the merged index.json as the run's result. Given the run's matrix, an
image whose job died before writing its index.json still gets a (failed) row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ci.model.errors import UserError
from ci.report.files import merge_indexes
from ci.report.results import matrix_tags


def configure_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("indexes", nargs="*", type=Path, metavar="INDEX_JSON", help="index.json files")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="also write the merged index.json and index.md into DIR, with each image's report files "
        "copied beside them (a directory complete on its own)",
    )
    parser.add_argument(
        "--matrix",
        metavar="JSON",
        help="the run's build matrix (`matrix` output): an image of it with no index.json gets a "
        "failed row (its job ended before writing a report)",
    )


def run_index(args: argparse.Namespace) -> int:
    planned = matrix_tags(args.matrix) if args.matrix is not None else []
    if not args.indexes and args.matrix is None:
        raise UserError("index: give INDEX_JSON files, --matrix JSON, or both")
    print(merge_indexes(args.indexes, args.out, planned), end="")
    return 0

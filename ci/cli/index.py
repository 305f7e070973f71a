"""`index`: one table of built images from the index.json files of several runs.

Why: in CI every image builds in its own job, each writing its own `--report-dir`; a last job
downloads them all and shows the whole run's table (the seed guide's: tag, image id, size) in one
step summary, and can keep the merged index.json as the run's result.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ci.report.files import merge_indexes


def configure_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("indexes", nargs="+", type=Path, metavar="INDEX_JSON", help="index.json files")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="also write the merged index.json and index.md into DIR"
    )


def run_index(args: argparse.Namespace) -> int:
    print(merge_indexes(args.indexes, args.out), end="")
    return 0

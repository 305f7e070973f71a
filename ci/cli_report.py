"""`index`: one table of built images from the index.json files of several runs.

Why: in CI every image builds in its own job, each writing its own `--report-dir`; a last job
downloads them all and shows the whole run's table (the seed guide's: tag, image id, size) in one
step summary, and can keep the merged index.json as the run's result.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ci.errors import UserError
from ci.report_write import (
    INDEX_JSON,
    INDEX_MD,
    append_step_summary,
    index_json,
    index_markdown,
    read_indexes,
)


def configure_index(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("indexes", nargs="+", type=Path, metavar="INDEX_JSON", help="index.json files")
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="also write the merged index.json and index.md into DIR"
    )


def run_index(args: argparse.Namespace) -> int:
    try:
        entries = read_indexes(args.indexes)
    except (OSError, ValueError) as exc:
        raise UserError(f"INDEX_JSON: {exc}") from None
    text = index_markdown(entries)
    print(text, end="")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        for entry in entries:  # paths relative to the merged index, so its links keep working
            for key in ("report", "markdown", "sbom"):
                if entry.get(key):
                    entry[key] = os.path.relpath(entry[key], args.out)
        (args.out / INDEX_JSON).write_text(json.dumps(index_json(entries), indent=2) + "\n")
        (args.out / INDEX_MD).write_text(index_markdown(entries))
    append_step_summary([text])
    return 0

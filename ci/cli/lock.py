"""`lock`: resolve base image tags to digests (versions.lock.yaml), or check the lock.

Why through the release path's registry client (skopeo, ci.registry): the same credentials, CA
and plain-HTTP rules apply, and Docker Hub's and NVIDIA's tags are read exactly as a pull would.
"""

from __future__ import annotations

import argparse

from ci import select
from ci.cli import flags
from ci.registry.bases import lock_bases, parse_mirrors


def configure_lock(parser: argparse.ArgumentParser) -> None:
    flags.add_selectors(parser)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; report locked bases that moved or vanished"
    )
    flags.add_base_mirror_flag(parser)
    flags.add_transport_flags(parser.add_argument_group("registry access"))


def run_lock(args: argparse.Namespace) -> int:
    chosen = flags.selection(args)
    specs = select.selected_specs(chosen)
    table, _ = select.load(chosen.table)
    return lock_bases(
        table,
        sorted({spec.base_image for spec in specs}),
        parse_mirrors(args.base_mirror),
        flags.transport(args),
        check=args.check,
    )

"""`lock`: resolve base image tags to digests (versions.lock.yaml), or check the lock.

Why through the release path's registry client (skopeo, ci.registry): the same credentials, CA
and plain-HTTP rules apply, and Docker Hub's and NVIDIA's tags are read exactly as a pull would.
"""

from __future__ import annotations

import argparse
import sys

from ci import select
from ci.cli_release import add_transport_flags, registries_from
from ci.lock import LockEntry, check_bases, lookup, now, parse_mirrors, read_lock, write_lock
from ci.registry import Registries, RegistryError


def add_base_mirror_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--base-mirror",
        action="append",
        default=[],
        metavar="REGISTRY=MIRROR",
        help="look up REGISTRY's base images at MIRROR instead (repeatable), e.g. docker.io=127.0.0.1:5000",
    )


def configure_lock(parser: argparse.ArgumentParser) -> None:
    select.add_selectors(parser)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; report locked bases that moved or vanished"
    )
    add_base_mirror_flag(parser)
    add_transport_flags(parser.add_argument_group("registry access"))


def run_lock(args: argparse.Namespace) -> int:
    specs = select.selected_specs(args)
    table, _ = select.load(args)
    mirrors = parse_mirrors(args.base_mirror)
    images = sorted({spec.base_image for spec in specs})
    existing = read_lock(table.path, table.display)
    with registries_from(args) as registries:
        try:
            if args.check:
                return _check(registries, images, existing, mirrors)
            entries = _resolve(registries, images, existing, mirrors)
        except RegistryError as err:
            print(f"error: lock: {err}", file=sys.stderr)
            return 1
    path = write_lock(table.path, entries)
    print(f"lock: wrote {len(entries)} base(s) to {path}")
    return 0


def _check(
    registries: Registries, images: list[str], existing: dict[str, LockEntry], mirrors: dict[str, str]
) -> int:
    locked = {image: existing[image].digest for image in images if image in existing}
    for image in images:
        if image not in existing:
            print(f"unlocked: {image} (builds use the tag; run `lock` to pin it)")
    findings = check_bases(registries, locked, mirrors)
    for finding in findings:
        print(f"{finding.severity}: {finding.message}")
    unchanged = len(locked) - len({f.image for f in findings})
    print(f"lock: {unchanged} of {len(locked)} locked base(s) unchanged")
    return 1 if any(f.severity == "error" for f in findings) else 0


def _resolve(
    registries: Registries, images: list[str], existing: dict[str, LockEntry], mirrors: dict[str, str]
) -> dict[str, LockEntry]:
    entries = dict(existing)
    for image in images:
        ref = lookup(image, mirrors)
        digest = registries.digest(ref)
        if digest is None:
            raise RegistryError(f"{image} does not resolve at {ref.registry}")
        before = existing.get(image)
        if before is not None and before.digest == digest:
            print(f"locked {image} @ {digest} (unchanged)")
            continue
        entries[image] = LockEntry(image, digest, now())
        print(f"locked {image} @ {digest} ({f'was {before.digest}' if before else 'new'})")
    return entries

"""Locked base images against their registries: `lock` resolves tags, the build preflight checks them.

Why here and not with the lock file: reading and writing versions.lock.yaml is plain data
(ci.table.lockfile); asking a registry what a tag points at now is registry work (skopeo).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass

from ci.model import refs
from ci.model.errors import UserError
from ci.model.refs import Reference
from ci.registry.skopeo import Registries, RegistryError, Transport
from ci.table.lockfile import LockEntry, now, read_lock, write_lock
from ci.table.rows import Table


def canonical(image: str) -> Reference:
    """A base as Docker resolves it: `ubuntu:22.04` is docker.io/library/ubuntu:22.04."""
    return refs.parse(image.split("@", 1)[0], what="base image", hub=True)


def parse_mirrors(values: list[str]) -> dict[str, str]:
    """--base-mirror REGISTRY=MIRROR (repeatable): where to look up a registry's bases instead."""
    mirrors: dict[str, str] = {}
    for value in values:
        registry, sep, mirror = value.partition("=")
        if not sep or not registry or not mirror:
            raise UserError(
                f"--base-mirror {refs.shown(value)!r}: expected REGISTRY=MIRROR, "
                "e.g. docker.io=127.0.0.1:5000"
            )
        refs.parse_registry(registry, "--base-mirror")
        refs.parse_registry(mirror, "--base-mirror")
        mirrors[registry] = mirror
    return mirrors


def lookup(image: str, mirrors: Mapping[str, str]) -> Reference:
    """The reference to ask a registry about for `image`, through a mirror when one is configured."""
    ref = canonical(image)
    mirror = mirrors.get(ref.registry)
    return ref if mirror is None else Reference(mirror, ref.repository, ref.tag, ref.digest)


# --------------------------------------------------------------------------- checking locked bases


@dataclass(frozen=True)
class BaseFinding:
    image: str
    severity: str  # "error" (cannot build from it) or "warning" (builds from the locked digest)
    message: str


def check_bases(
    registries: Registries, bases: Mapping[str, str], mirrors: Mapping[str, str]
) -> list[BaseFinding]:
    """Compare each locked base tag with what its registry serves now.

    A moved tag is a warning (the build uses the locked digest, which is the point of locking); a
    tag that no longer resolves is a warning while the locked digest is still there and an error
    once it is gone too (NVIDIA deletes end-of-life CUDA images).
    """
    findings: list[BaseFinding] = []
    for image, locked in sorted(bases.items()):
        ref = lookup(image, mirrors)
        now = registries.digest(ref)
        if now == locked:
            continue
        if now is not None:
            findings.append(
                BaseFinding(
                    image,
                    "warning",
                    f"{image} has moved since it was locked (now {now}); "
                    f"building from the locked {locked}; run `lock` to move it",
                )
            )
        elif registries.digest(ref.with_digest(locked)) is not None:
            findings.append(
                BaseFinding(
                    image,
                    "warning",
                    f"{image} no longer resolves; the locked {locked} is still there and is what builds use",
                )
            )
        else:
            findings.append(
                BaseFinding(
                    image,
                    "error",
                    f"{image}: neither the tag nor the locked {locked} resolves "
                    f"any more at {ref.registry}; choose another base in versions.yaml",
                )
            )
    return findings


# --------------------------------------------------------------------------- lock


def lock_bases(
    table: Table, images: list[str], mirrors: Mapping[str, str], transport: Transport, *, check: bool
) -> int:
    """`lock`: record each base tag's digest in the lock file, or (check) report locked tags that
    moved or vanished. 0 done; 1 a registry refused or a locked base is gone."""
    existing = read_lock(table.path, table.display)
    with transport.open() as registries:
        try:
            if check:
                return _check(registries, images, existing, mirrors)
            entries = _resolve(registries, images, existing, mirrors)
        except RegistryError as err:
            print(f"error: lock: {err}", file=sys.stderr)
            return 1
    path = write_lock(table.path, entries)
    print(f"lock: wrote {len(entries)} base(s) to {path}")
    return 0


def _check(
    registries: Registries, images: list[str], existing: dict[str, LockEntry], mirrors: Mapping[str, str]
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
    registries: Registries, images: list[str], existing: dict[str, LockEntry], mirrors: Mapping[str, str]
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

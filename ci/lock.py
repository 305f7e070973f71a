"""Base images pinned by digest: versions.lock.yaml beside versions.yaml, written by `lock`.

Why a lock file: versions.yaml names bases by tag (`ubuntu:22.04`,
`nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04`), and tags move: distributions rebuild them for
security fixes, NVIDIA rebuilds CUDA tags in place and deletes end-of-life ones (its users' most
frequent complaint). A rebuild months later could silently start from a different base, or fail
late. `lock` records each base tag's digest; builds then use `image@digest` (reproducible), `plan`
shows it, and before any build work a preflight says when a locked tag has moved (the build still
uses the locked digest) or no longer resolves at all.

Why a separate file rather than fields in versions.yaml: it is written by a tool (the table is
written by people, with comments a rewrite would lose), and reviewing a lock bump stays a small
diff of digests.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci import compat
from ci.errors import UserError
from ci.registry import Reference, Registries, parse_reference

LOCK_SCHEMA = 1
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class LockEntry:
    image: str  # the base as versions.yaml names it, e.g. "ubuntu:22.04"
    digest: str  # "sha256:..."
    locked: str  # when it was resolved (UTC, ISO 8601)


def lock_path(table_path: Path) -> Path:
    """versions.yaml -> versions.lock.yaml (a fork's table gets its own lock beside it)."""
    return table_path.with_name(f"{table_path.stem}.lock.yaml")


def read_lock(table_path: Path, shown: str) -> dict[str, LockEntry]:
    """The lock beside the table ({} when there is none); malformed content is a one-line UserError."""
    path = lock_path(table_path)
    where = shown.rsplit("/", 1)[0] + "/" + path.name if "/" in shown else path.name
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{where}: cannot read the lock file ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict) or data.get("schema") != LOCK_SCHEMA:
        raise UserError(f"{where}: not a base-image lock file (expected schema: {LOCK_SCHEMA})")
    bases = data.get("bases")
    bases = {} if bases is None else bases
    if not isinstance(bases, dict):
        raise UserError(f"{where}: field 'bases' must be a mapping of image -> {{digest, locked}}")
    entries: dict[str, LockEntry] = {}
    for image, value in bases.items():
        if not isinstance(value, dict):
            raise UserError(f"{where}: bases[{image!r}]: expected {{digest: ..., locked: ...}}")
        digest, locked = value.get("digest"), value.get("locked", "")
        if not isinstance(digest, str) or not compat.SHA256_DIGEST.match(digest):
            raise UserError(f"{where}: bases[{image!r}]: field 'digest' must be 'sha256:' and 64 hex digits")
        entries[str(image)] = LockEntry(str(image), digest, str(locked))
    return entries


def write_lock(table_path: Path, entries: Mapping[str, LockEntry]) -> Path:
    path = lock_path(table_path)
    body = {
        "schema": LOCK_SCHEMA,
        "bases": {
            image: {"digest": entry.digest, "locked": entry.locked}
            for image, entry in sorted(entries.items())
        },
    }
    header = (
        "# Base image digests, written by `python ci/main.py lock` (see ci/lock.py); do not edit by hand.\n"
        "# Builds use image@digest for every base listed here; `lock` again to move them.\n"
    )
    path.write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def canonical(image: str) -> Reference:
    """A base as Docker resolves it: `ubuntu:22.04` is docker.io/library/ubuntu:22.04."""
    name = image.split("@", 1)[0]
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        path = name if "/" in name else f"library/{name}"
        name = f"{DOCKER_HUB}/{path}"
    return parse_reference(name, what="base image")


def parse_mirrors(values: list[str]) -> dict[str, str]:
    """--base-mirror REGISTRY=MIRROR (repeatable): where to look up a registry's bases instead."""
    mirrors: dict[str, str] = {}
    for value in values:
        registry, sep, mirror = value.partition("=")
        if not sep or not registry or not mirror:
            raise UserError(
                f"--base-mirror {value!r}: expected REGISTRY=MIRROR, e.g. docker.io=127.0.0.1:5000"
            )
        parse_reference(f"{mirror}/x", what="--base-mirror")
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

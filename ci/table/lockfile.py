"""Base images pinned by digest: versions.lock.yaml beside versions.yaml, written by `lock`.

Why a lock file: versions.yaml names bases by tag (`ubuntu:22.04`,
`nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04`), and tags move: distributions rebuild them for
security fixes, NVIDIA rebuilds CUDA tags in place and deletes end-of-life ones (its users' most
frequent complaint). A rebuild months later could silently start from a different base, or fail
late. `lock` records each base tag's digest; builds then use `image@digest` (reproducible), `plan`
shows it (ci.select merges the lock into the table), and before any build work a preflight says
when a locked tag has moved (the build still uses the locked digest) or no longer resolves at all.

Why a separate file rather than fields in versions.yaml: it is written by a tool (the table is
written by people, with comments a rewrite would lose), and reviewing a lock bump stays a small
diff of digests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci.model import refs
from ci.model.errors import UserError
from ci.model.inputs import read_yaml

LOCK_SCHEMA = 1


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
        os.stat(path)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        pass  # the reader names the problem
    data: Any = read_yaml(path, "", "a base-image lock file (YAML)", shown=where)
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
        if not isinstance(digest, str) or not refs.is_digest(digest):
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
        "# Base image digests, written by `python ci/main.py lock`; do not edit by hand.\n"
        "# Builds use image@digest for every base listed here; `lock` again to move them.\n"
    )
    path.write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

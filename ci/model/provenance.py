"""Provenance of a build: which commit, of which repository, committed when.

These become the OCI labels org.opencontainers.image.revision / .source / .created (the image's
`version` label is its primary tag), and report.json and the SBOM repeat what the image carries.

Why from the commit and not from the clock: labels live in the image config, written by the last
layer function (`metadata`), so they never invalidate a layer; but a label that changes on every
run (a build time) would still make every build a new image config and digest. The commit's own
time and id are the same for every build of that commit, so two builds of one commit stay
identical, and a build outside any git checkout (an installed tool with its shipped table) gets no
such labels at all rather than made-up ones.

Where each value comes from, first match wins:

- revision: the commit of the git checkout that holds the table (ci.build.commit reads it; only
  when the table is tracked there), suffixed `-dirty` when tracked files differ from it; else
  $GITHUB_SHA.
- created: $SOURCE_DATE_EPOCH (the reproducible-builds convention), else that commit's committer
  time; RFC 3339 in UTC.
- source: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY (the repository a workflow runs in, so a fork
  labels its images with its own URL), else versions.yaml `image.source` (merged by ci.select).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ci.model.errors import UserError

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
OCI = "org.opencontainers.image"
# The labels that say where an image comes from (report.json `provenance`, the SBOM's properties).
LABEL_KEYS = ("created", "revision", "source", "version")


@dataclass(frozen=True)
class Commit:
    """The checkout a build reads its table from."""

    revision: str  # commit id, `-dirty` appended when tracked files were changed
    time: int  # committer time, seconds since 1970


@dataclass(frozen=True)
class Provenance:
    created: str | None = None  # RFC 3339, UTC
    revision: str | None = None
    source: str | None = None  # repository URL; None: versions.yaml image.source applies


NO_PROVENANCE = Provenance()  # a build from no checkout, outside any workflow


def rfc3339(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def provenance(commit: Commit | None, env: Mapping[str, str] | None = None) -> Provenance:
    """The provenance of a build of `commit` (None: not in a checkout), in this environment."""
    env = os.environ if env is None else env
    revision = commit.revision if commit else (env.get("GITHUB_SHA") or None)
    epoch = env.get(SOURCE_DATE_EPOCH, "").strip()
    if epoch and not epoch.isdigit():
        raise UserError(f"${SOURCE_DATE_EPOCH}: expected seconds since 1970-01-01, an integer; got {epoch!r}")
    created = rfc3339(int(epoch)) if epoch else (rfc3339(commit.time) if commit else None)
    server, repository = env.get("GITHUB_SERVER_URL", ""), env.get("GITHUB_REPOSITORY", "")
    source = f"{server.rstrip('/')}/{repository}" if server and repository else None
    return Provenance(created=created, revision=revision, source=source)


def provenance_of(labels: Mapping[str, str]) -> dict[str, str]:
    """An image's provenance as its labels state it: {created, revision, source, version} present."""
    return {key: labels[f"{OCI}.{key}"] for key in LABEL_KEYS if labels.get(f"{OCI}.{key}")}

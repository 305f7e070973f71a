"""The git commit a build comes from (ci.model.provenance turns it into the OCI labels).

Why git and only for a tracked table: the checkout that holds versions.yaml is what is being built
(its context/ and ci/ are the same commit). A table that git does not track there (the copy an
installed wheel ships, even in a virtualenv inside some other checkout) belongs to no commit, and
then no revision label is better than a wrong one.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from ci.model.provenance import Commit

GIT_TIMEOUT_S = 10


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # a read must not take the index lock
        )
    except (OSError, subprocess.TimeoutExpired):  # no git, or a hung filesystem: no provenance
        return None


@functools.lru_cache(maxsize=16)
def commit_of(table: Path) -> Commit | None:
    """The commit of the checkout that tracks `table` (dirty or not), or None."""
    directory = table.resolve().parent
    tracked = _git(directory, "ls-files", "--error-unmatch", "--", table.name)
    if tracked is None or tracked.returncode != 0:
        return None
    head = _git(directory, "log", "-1", "--format=%H %ct")
    if head is None or head.returncode != 0 or len(head.stdout.split()) != 2:
        return None
    sha, when = head.stdout.split()
    changed = _git(directory, "diff", "--quiet", "HEAD", "--")
    dirty = changed is not None and changed.returncode == 1
    return Commit(sha + ("-dirty" if dirty else ""), int(when))

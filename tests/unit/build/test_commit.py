"""The commit of the checkout that tracks the table, read with the real git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ci.build.commit import commit_of

GIT = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t"]


def _repo(path: Path) -> Path:
    path.mkdir()
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=path, check=True)
    (path / "versions.yaml").write_text("schema: 1\n")
    subprocess.run([*GIT, "add", "versions.yaml"], cwd=path, check=True)
    env = {"GIT_COMMITTER_DATE": "2024-05-06T07:08:09Z", "GIT_AUTHOR_DATE": "2024-05-06T07:08:09Z"}
    subprocess.run([*GIT, "commit", "-qm", "table"], cwd=path, check=True, env={**os.environ, **env})
    return path / "versions.yaml"


def test_a_tracked_table_gives_the_head_commit_and_its_time(tmp_path: Path) -> None:
    table = _repo(tmp_path / "clean")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=table.parent, capture_output=True, text=True)
    found = commit_of(table)
    assert found is not None
    assert found.revision == head.stdout.strip()
    assert found.time == 1714979289  # 2024-05-06T07:08:09Z: the commit's, not the build's


def test_changed_tracked_files_mark_the_revision_dirty(tmp_path: Path) -> None:
    table = _repo(tmp_path / "dirty")
    table.write_text("schema: 2\n")
    found = commit_of(table)
    assert found is not None
    assert found.revision.endswith("-dirty")


def test_an_untracked_table_belongs_to_no_commit(tmp_path: Path) -> None:
    table = _repo(tmp_path / "outer")
    shipped = table.parent / "venv" / "ci" / "data" / "versions.yaml"  # a venv inside a checkout
    shipped.parent.mkdir(parents=True)
    shipped.write_text("schema: 1\n")
    assert commit_of(shipped) is None
    outside = tmp_path / "nowhere" / "versions.yaml"
    outside.parent.mkdir()
    outside.write_text("schema: 1\n")
    assert commit_of(outside) is None

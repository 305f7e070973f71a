"""context/ as the image gets it: which files, with fixed modes and times, and which go into the
system_files layer."""

from __future__ import annotations

import os
from pathlib import Path

from ci.build import trees
from ci.model.paths import CONTEXT_DIR


def test_context_files_skip_dot_files_and_bytecode(tmp_path: Path) -> None:
    (tmp_path / "boot" / "__pycache__").mkdir(parents=True)
    (tmp_path / "boot" / "boot.sh").write_text("#!/bin/sh\n")
    (tmp_path / "boot" / "__pycache__" / "x.pyc").write_bytes(b"")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("")
    (tmp_path / "a.pyc").write_bytes(b"")
    (tmp_path / ".hidden").write_text("")
    (tmp_path / "README.md").write_text("")
    assert trees.context_files(tmp_path) == ["README.md", "boot/boot.sh"]
    repo_files = trees.context_files(CONTEXT_DIR)
    assert "boot/boot.sh" in repo_files
    assert "profile.d/tfimage.sh" in repo_files


def test_system_files_carry_only_what_init_build_reads(tmp_path: Path) -> None:
    """Editing boot.sh (or the supervisor / Jupyter configs) must not rebuild system_files."""
    full = trees.runtime_tree(CONTEXT_DIR, tmp_path)
    system = trees.runtime_tree(CONTEXT_DIR, tmp_path, only=trees.SYSTEM_CONTEXT)
    in_system = {p.relative_to(system).as_posix() for p in system.rglob("*") if p.is_file()}
    in_full = {p.relative_to(full).as_posix() for p in full.rglob("*") if p.is_file()}
    assert in_system < in_full
    assert "init/init/init.py" in in_system
    assert "init/boot/boot.sh" in in_full - in_system
    assert all(p.startswith(tuple(f"init/{d}" for d in trees.SYSTEM_CONTEXT)) for p in in_system)


def test_runtime_tree_has_fixed_modes_times_and_layout(tmp_path: Path) -> None:
    """The runtime layer depends on content only: not on the checkout's umask, modes or clock."""
    context = tmp_path / "context"
    (context / "boot").mkdir(parents=True)
    (context / "profile.d").mkdir()
    (context / "boot" / "boot.sh").write_text("#!/bin/sh\n")
    (context / "boot" / "boot.sh").chmod(0o664)  # a umask-002 checkout
    (context / "profile.d" / "tfimage.sh").write_text("export X=1\n")
    (context / "notes.txt").write_text("n\n")
    (context / "notes.txt").chmod(0o777)
    cache = tmp_path / "cache"
    tree = trees.runtime_tree(context, cache)
    modes = {p.relative_to(tree).as_posix(): p.stat().st_mode & 0o777 for p in tree.rglob("*")}
    assert modes == {
        "init": 0o755,
        "init/boot": 0o755,
        "init/boot/boot.sh": 0o755,
        "init/notes.txt": 0o644,
        "init/profile.d": 0o755,
        "init/profile.d/tfimage.sh": 0o755,
    }
    assert {int(p.stat().st_mtime) for p in tree.rglob("*")} == {trees.RUNTIME_MTIME}
    assert (tree / "init/profile.d/tfimage.sh").read_text() == "export X=1\n"
    (context / "notes.txt").chmod(0o600)
    assert trees.runtime_tree(context, cache) == tree  # same content: the same tree, reused
    stale = cache / "runtime-0000"
    stale.mkdir()
    os.utime(stale, (0, 0))  # unused for decades: pruned when the next new tree is made
    (context / "boot" / "boot.sh").write_text("#!/bin/sh\necho edited\n")
    edited = trees.runtime_tree(context, cache)
    assert edited != tree
    assert "edited" in (edited / "init/boot/boot.sh").read_text()
    assert sorted(p.name for p in cache.iterdir()) == sorted([tree.name, edited.name])  # no staging left

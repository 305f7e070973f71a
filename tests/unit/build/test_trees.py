"""context/ as the image gets it: which files, with fixed modes and times, and which go into the
system_files layer."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from ci.build import trees
from ci.model.errors import UserError
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


def test_generated_files_join_the_tree_with_the_same_fixed_metadata(tmp_path: Path) -> None:
    """The contract file is laid out with context/ (not written onto the image): fixed mode and time,
    part of the tree's name, so another contract makes another tree."""
    cache = tmp_path / "cache"
    plain = trees.runtime_tree(CONTEXT_DIR, cache, only=trees.SYSTEM_CONTEXT)
    one = trees.runtime_tree(
        CONTEXT_DIR, cache, only=trees.SYSTEM_CONTEXT, generated={"/etc/tfimage/contract.env": "A=1\n"}
    )
    two = trees.runtime_tree(
        CONTEXT_DIR, cache, only=trees.SYSTEM_CONTEXT, generated={"/etc/tfimage/contract.env": "A=2\n"}
    )
    assert len({plain, one, two}) == 3
    contract = one / "etc" / "tfimage" / "contract.env"
    assert contract.read_text() == "A=1\n"
    assert stat.S_IMODE(contract.stat().st_mode) == 0o644
    assert {stat.S_IMODE((one / d).stat().st_mode) for d in ("etc", "etc/tfimage")} == {0o755}
    assert {int(p.stat().st_mtime) for p in one.rglob("*")} == {trees.RUNTIME_MTIME}
    same = trees.runtime_tree(
        CONTEXT_DIR, cache, only=trees.SYSTEM_CONTEXT, generated={"/etc/tfimage/contract.env": "A=1\n"}
    )
    assert same == one  # reused: intact, with the generated file counted as expected
    contract.write_text("A=3\n")
    again = trees.runtime_tree(
        CONTEXT_DIR, cache, only=trees.SYSTEM_CONTEXT, generated={"/etc/tfimage/contract.env": "A=1\n"}
    )
    assert (again / "etc" / "tfimage" / "contract.env").read_text() == "A=1\n"  # tampered: laid out again


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "context"
    (context / "boot").mkdir(parents=True)
    (context / "boot" / "boot.sh").write_text("#!/bin/sh\necho real boot\n")
    (context / "notes.txt").write_text("n\n")
    return context


def _plant(cache: Path, name: str, boot: str) -> Path:
    planted = cache / name
    (planted / "init" / "boot").mkdir(parents=True)
    (planted / "init" / "boot" / "boot.sh").write_text(boot)
    (planted / "init" / "notes.txt").write_text("n\n")
    return planted


def test_a_planted_tree_is_never_reused(tmp_path: Path) -> None:
    """Issue 16, finding 6: an existing runtime-<digest> tree was reused with no owner or content
    check; the digest is computable from public content, so another user could plant /init."""
    context, cache = _context(tmp_path), tmp_path / "cache"
    name = trees.runtime_tree(context, cache).name
    shutil.rmtree(cache / name)
    for tamper in (
        lambda t: None,  # wrong content, right layout
        lambda t: os.chown(t / "init" / "boot" / "boot.sh", 65534, 65534),  # another user's file
        lambda t: (t / "init" / "extra.sh").write_text("x"),  # a file that does not belong
        lambda t: (t / "init" / "link").symlink_to("/etc/passwd"),
    ):
        planted = _plant(cache, name, "#!/bin/sh\necho planted\n")
        tamper(planted)
        tree = trees.runtime_tree(context, cache)
        assert tree == cache / name
        assert (tree / "init" / "boot" / "boot.sh").read_text() == "#!/bin/sh\necho real boot\n"
        assert sorted(p.name for p in (tree / "init").iterdir()) == ["boot", "notes.txt"]
        shutil.rmtree(tree)
    (cache / name).symlink_to(tmp_path)  # a link where the tree should be: replaced, not followed
    assert (
        (trees.runtime_tree(context, cache) / "init" / "boot" / "boot.sh").read_text().endswith("real boot\n")
    )
    assert (tmp_path / "context").is_dir()


def test_trees_live_in_a_private_directory_of_our_own(tmp_path: Path) -> None:
    context, cache = _context(tmp_path), tmp_path / "cache"
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    trees.runtime_tree(context, cache)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    os.chown(cache, 65534, 65534)  # the tests run as root (.ci/run): another user's directory
    with pytest.raises(UserError, match=r"owned by uid 65534, not by this user .*set \$TMPDIR"):
        trees.runtime_tree(context, cache)

"""context/ as it lands in the image (/init/...): a content-addressed host tree with fixed metadata.

Why a tree on the host: the engine copies a host directory with its modes and times, so the tree
is laid out here with fixed modes, owner and times. The layers that copy it then depend on the
content only (not on a checkout's umask or clock), and a context edit rebuilds in under a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from ci.model.contract import INIT_DIR
from ci.model.outputs import private_dir

# The parts of context/ that `init.py --build` reads (the system_files layer); the rest of context/
# (boot script, supervisor and Jupyter configs) changes more often and only reaches runtime_files.
SYSTEM_CONTEXT: tuple[str, ...] = ("init/", "profile.d/", "ssh/")
RUNTIME_MTIME = 946684800  # 2000-01-01: every file copied from context/ gets this time
RUNTIME_TREE_MAX_AGE_S = 7 * 24 * 3600


def context_files(root: Path) -> list[str]:
    """Files of context/ (relative, sorted) that go into the image: no dot files, no bytecode."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        hidden = any(part.startswith(".") or part == "__pycache__" for part in rel.parts)
        if path.is_file() and not hidden and path.suffix != ".pyc":
            files.append(rel.as_posix())
    return files


def runtime_tree(
    context_dir: Path,
    cache_root: Path | None = None,
    only: tuple[str, ...] | None = None,
    generated: Mapping[str, str] | None = None,
) -> Path:
    """context/ laid out as it lands in the image (/init/...), with deterministic metadata.

    `only`: relative path prefixes to include (default: every context file). `generated`: more
    files by their absolute path in the image and their text (0644), e.g. the contract file.
    Why generated files go into the tree rather than a `with_new_file` on the image: in Dagger
    v0.19.10 that call writes into the mounted root filesystem, so a fresh engine that restores
    the layers from a registry cache must first pull and unpack every layer below it, one by one;
    the system_files layer copies this tree inside its exec instead (ci/scripts/system-files.sh),
    whose cache key needs none of that. Directories and
    *.sh/*.py are 0755, other files 0644, every time is RUNTIME_MTIME, so
    the layer depends on the content only (not on a checkout's umask or clock). The tree is kept
    under $TMPDIR/tfimages-ci/runtime-<digest>: the engine reads it lazily, so it must outlive this
    call, and the same content is reused by later builds and concurrent ones.

    Why private and checked: the digest is computable from public content, and what the tree holds
    becomes the image's /init (its boot script runs as root in every container). So the directory
    holding the trees is ours and 0700 (ci.model.outputs.private_dir), and an existing tree is
    reused only when every entry is ours, no link, with the expected mode and content, and nothing
    else is in it; otherwise it is removed and laid out again.
    """
    contents: dict[str, tuple[bytes, int]] = {}  # target -> (content, mode)
    for rel in context_files(context_dir):
        if only is not None and not rel.startswith(only):
            continue
        mode = 0o755 if rel.endswith((".sh", ".py")) else 0o644
        contents[f"{INIT_DIR.strip('/')}/{rel}"] = ((context_dir / rel).read_bytes(), mode)
    for target, text in sorted((generated or {}).items()):
        contents[target.strip("/")] = (text.encode(), 0o644)
    entries = {t: (mode, hashlib.sha256(content).digest()) for t, (content, mode) in contents.items()}
    digest = hashlib.sha256()
    for target, (mode, sha) in entries.items():
        digest.update(f"{target}\0{mode:o}\0".encode())
        digest.update(sha)
    base = cache_root or Path(tempfile.gettempdir()) / "tfimages-ci"
    os.close(private_dir(base, "$TMPDIR"))
    root = base / f"runtime-{digest.hexdigest()[:20]}"
    if os.path.lexists(root):
        if _intact(root, entries):
            os.utime(root)  # in use: keep it out of the pruning below
            return root
        _remove(root)
    for old in base.glob("runtime-*"):  # trees no build used for a week
        if time.time() - old.lstat().st_mtime > RUNTIME_TREE_MAX_AGE_S:
            _remove(old)
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.", dir=base))
    try:
        for target, (content, mode) in contents.items():
            path = staging / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            path.chmod(mode)
        for path in sorted(staging.rglob("*"), reverse=True):  # files first, then their directories
            if path.is_dir():
                path.chmod(0o755)
            os.utime(path, (RUNTIME_MTIME, RUNTIME_MTIME))
        staging.chmod(0o755)
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not _intact(root, entries):  # another build made it meanwhile: fine; otherwise an error
            raise
    return root


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _intact(root: Path, entries: dict[str, tuple[int, bytes]]) -> bool:
    """Is `root` exactly the tree `entries` describe: ours, no links, modes and content as laid out?"""
    me = os.getuid()
    expected_dirs = {str(Path(t).parent) for t in entries}
    expected_dirs |= {str(p) for t in expected_dirs for p in Path(t).parents if str(p) != "."}
    found_files: set[str] = set()
    try:
        top = root.lstat()
        if not stat.S_ISDIR(top.st_mode) or top.st_uid != me or stat.S_IMODE(top.st_mode) != 0o755:
            return False
        for path in root.rglob("*"):
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            if info.st_uid != me or int(info.st_mtime) != RUNTIME_MTIME:
                return False
            if stat.S_ISDIR(info.st_mode):
                if rel not in expected_dirs or stat.S_IMODE(info.st_mode) != 0o755:
                    return False
            elif stat.S_ISREG(info.st_mode) and rel in entries:
                mode, sha = entries[rel]
                if stat.S_IMODE(info.st_mode) != mode or hashlib.sha256(path.read_bytes()).digest() != sha:
                    return False
                found_files.add(rel)
            else:
                return False  # a link, a device, or a file that does not belong
    except OSError:
        return False
    return found_files == set(entries)

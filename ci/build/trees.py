"""context/ as it lands in the image (/init/...): a content-addressed host tree with fixed metadata.

Why a tree on the host: the engine copies a host directory with its modes and times, so the tree
is laid out here with fixed modes, owner and times. The layers that copy it then depend on the
content only (not on a checkout's umask or clock), and a context edit rebuilds in under a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

from ci.model.contract import INIT_DIR

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
    context_dir: Path, cache_root: Path | None = None, only: tuple[str, ...] | None = None
) -> Path:
    """context/ laid out as it lands in the image (/init/...), with deterministic metadata.

    `only`: relative path prefixes to include (default: every context file). Directories and
    *.sh/*.py are 0755, other files 0644, every time is RUNTIME_MTIME, so
    the layer depends on the content only (not on a checkout's umask or clock). The tree is kept
    under $TMPDIR/tfimages-ci/runtime-<digest>: the engine reads it lazily, so it must outlive this
    call, and the same content is reused by later builds and concurrent ones.
    """
    entries: list[tuple[str, Path, int]] = []
    for rel in context_files(context_dir):
        if only is not None and not rel.startswith(only):
            continue
        entries.append(
            (
                f"{INIT_DIR.strip('/')}/{rel}",
                context_dir / rel,
                0o755 if rel.endswith((".sh", ".py")) else 0o644,
            )
        )
    digest = hashlib.sha256()
    for target, source, mode in entries:
        digest.update(f"{target}\0{mode:o}\0".encode())
        digest.update(hashlib.sha256(source.read_bytes()).digest())
    root = (cache_root or Path(tempfile.gettempdir()) / "tfimages-ci") / f"runtime-{digest.hexdigest()[:20]}"
    if root.is_dir():
        os.utime(root)  # in use: keep it out of the pruning below
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    for old in root.parent.glob("runtime-*"):  # trees no build used for a week
        if time.time() - old.stat().st_mtime > RUNTIME_TREE_MAX_AGE_S:
            shutil.rmtree(old, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{root.name}.", dir=root.parent))
    try:
        for target, source, mode in entries:
            path = staging / target
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)
            path.chmod(mode)
        for path in sorted(staging.rglob("*"), reverse=True):  # files first, then their directories
            if path.is_dir():
                path.chmod(0o755)
            os.utime(path, (RUNTIME_MTIME, RUNTIME_MTIME))
        staging.chmod(0o755)
        staging.rename(root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not root.is_dir():  # another build made it meanwhile: fine; otherwise a real error
            raise
    return root

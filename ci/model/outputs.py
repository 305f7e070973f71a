"""Files and directories a command writes: checked before any work, and private where they must be.

Why one home: `--export`, `--report-dir`, `--journal`, `index --out` and $GITHUB_STEP_SUMMARY are
all written after seconds or hours of work; a path that cannot be written (a directory given as a
file, a file as a directory, /etc/passwd/x, a name over 255 bytes) must stop the command before
that work, in one line naming the flag. The engine's progress log and the build's runtime trees
live under $TMPDIR, which other local users share: their directory must be ours and 0700, and
nothing in it may be followed through a link another user planted.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from ci.model.errors import UserError

MAX_NAME_BYTES = 255  # NAME_MAX on Linux


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _names_fit(path: Path, flag: str) -> None:
    for part in path.parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            raise UserError(f"{flag} {path}: a name in it is longer than {MAX_NAME_BYTES} bytes")


def _writable_ancestor(path: Path, flag: str) -> None:
    """The nearest existing ancestor must be a directory this user may write into."""
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{flag} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {parent} is not writable")


def check_output_file(path: Path, flag: str, *, example: str = "") -> None:
    """A file a command will write (created or replaced): not a directory, pipe or socket."""
    try:
        _names_fit(path, flag)
        if path.is_dir():
            hint = f"; give a file name such as {example}" if example else "; give a file name"
            raise UserError(f"{flag} {path}: is a directory{hint}")
        if os.path.lexists(path):
            mode = os.stat(path).st_mode
            if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                raise UserError(f"{flag} {path}: is a named pipe or socket; give a file name")
        _writable_ancestor(path, flag)
    except (OSError, ValueError) as exc:
        raise UserError(f"{flag} {path}: cannot be written ({_why(exc)})") from None


def check_output_dir(path: Path, flag: str) -> None:
    """A directory a command will create (or fill): not an existing file, under a writable parent."""
    try:
        _names_fit(path, flag)
        if os.path.lexists(path):
            if not path.is_dir():
                raise UserError(f"{flag} {path}: exists and is not a directory")
            if not os.access(path, os.W_OK | os.X_OK):
                raise UserError(f"{flag} {path}: is not writable")
            return
        _writable_ancestor(path, flag)
    except (OSError, ValueError) as exc:
        raise UserError(f"{flag} {path}: cannot be written ({_why(exc)})") from None


def private_dir(path: Path, setting: str) -> int:
    """Open `path` as a directory only this user can use, creating it 0700; return its fd.

    An existing one must be a real directory (not a link) owned by this user; it is forced to 0700.
    The caller creates files relative to the returned descriptor (dir_fd), so a directory swapped
    after the check is never written into. `setting` names what moves it (for the message).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise UserError(
            f"{path}: cannot use it as a private directory ({_why(exc)}; a link?); set {setting} elsewhere"
        ) from None
    info = os.fstat(fd)
    if info.st_uid != os.getuid():
        os.close(fd)
        raise UserError(
            f"{path}: owned by uid {info.st_uid}, not by this user (uid {os.getuid()}); "
            f"set {setting} to a directory of your own"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.fchmod(fd, 0o700)
    return fd

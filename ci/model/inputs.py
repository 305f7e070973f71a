"""Files a command reads because a flag (or the table's place) names them: one reader, one error shape.

Why one: the table, the lock, results and index files, password files, CA bundles and auth files
are all user input. Each used to be opened its own way, and each way failed differently (a
directory, a missing file, a file that is not text); here a problem is always one line naming the
flag (or file) and what was expected.
"""

from __future__ import annotations

from pathlib import Path

from ci.model.errors import UserError


def read_input(path: Path, flag: str, expected: str) -> bytes:
    """A file a flag names, read whole; a missing or unreadable one is a one-line UserError."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{flag} {path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{flag} {path}: is a directory, expected {expected}") from None
    except OSError as exc:
        raise UserError(f"{flag} {path}: cannot read ({exc.strerror})") from None


def read_ca_bundle(path: Path, flag: str) -> bytes:
    """A PEM bundle for TLS, validated up front so a wrong file is a one-line error."""
    data = read_input(path, flag, "a PEM file")
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise UserError(f"{flag} {path}: not a PEM certificate bundle (no BEGIN CERTIFICATE)")
    return data


def read_password_file(path: Path, flag: str) -> str:
    raw = read_input(path, flag, "a file holding the password")
    try:
        password = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise UserError(f"{flag} {path}: not UTF-8 text (expected the password on one line)") from None
    if not password:
        raise UserError(f"{flag} {path}: the file is empty")
    if "\n" in password:
        raise UserError(f"{flag} {path}: holds several lines; expected the password alone")
    return password

"""The one exception type that reaches the user.

Why: every refusal (bad table, bad request, bad flag) must end as a single line on stderr and exit
code 2, never a traceback. Code raises UserError with a message that already says where the problem
is and what would be valid; ci/main.py is the only place that prints it.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: bad input, not a bug. The message is one line."""

    def __init__(self, message: str) -> None:
        # Collapse newlines so a message built from YAML text or argparse usage stays one line.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self.args[0])


def table_error(file: str, where: str, field: str | None, problem: str) -> UserError:
    """Build the error for a bad versions.yaml entry: file, row, field, then what is wrong/valid."""
    location = f"{file}: {where}"
    if field is not None:
        location += f": field '{field}'"
    return UserError(f"{location}: {problem}")

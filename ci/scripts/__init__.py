"""Scripts that run inside an image (build steps and checks), kept as real files so linters read them.

Why files and not string literals: shellcheck and ruff check them like the rest of the code, a
failing step names a file a reader can open, and the build mounts each one for the exec that runs
it (its content is part of that exec's cache key). Parameters come as arguments or TFCI_*
environment variables, documented at the top of each script.
"""

from __future__ import annotations

from importlib import resources


def script_text(name: str) -> str:
    """The text of ci/scripts/NAME (read from the package, so an installed wheel has them too)."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")

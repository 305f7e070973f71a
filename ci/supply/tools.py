"""Where the external tools are: syft, osv-scanner and cosign, from $TFCI_<TOOL> or PATH.

Why one place: three stages run these binaries and each must fail the same way when one is missing,
before any work (exit 2, one line saying what needs it, where it was looked for and how to name it).
CI installs them (tests/infra/tools.sh builds the pinned versions; the workflow runs it).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ci.model.errors import UserError


@dataclass(frozen=True)
class Tool:
    name: str  # the binary's name on PATH
    env: str  # the variable that names the binary instead
    project: str  # where it comes from, for the message


SYFT = Tool("syft", "TFCI_SYFT", "github.com/anchore/syft")
OSV_SCANNER = Tool("osv-scanner", "TFCI_OSV_SCANNER", "github.com/google/osv-scanner")
COSIGN = Tool("cosign", "TFCI_COSIGN", "github.com/sigstore/cosign")


def find(tool: Tool, needed_for: str) -> Path:
    """The tool's binary: $TFCI_<TOOL> when set, else the first on PATH; else a one-line UserError."""
    named = os.environ.get(tool.env, "").strip()
    if named:
        path = Path(named)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise UserError(f"${tool.env} {named}: not an executable file ({tool.name}, {needed_for})")
        return path
    found = shutil.which(tool.name)
    if found is None:
        raise UserError(
            f"{needed_for} needs {tool.name} ({tool.project}), not found on PATH: install it "
            f"(tests/infra/tools.sh install {tool.name} builds the pinned version) or name the binary "
            f"in ${tool.env}"
        )
    return Path(found)

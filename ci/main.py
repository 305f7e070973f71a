"""`python ci/main.py COMMAND ...`: the entry point the README and the workflow use (see ci.cli.main)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `import ci` find the repository, not ci/ itself
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from ci.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

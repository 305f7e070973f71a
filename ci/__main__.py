"""`python -m ci ...`: the same CLI as `python ci/main.py ...`."""

from __future__ import annotations

import sys

from ci.cli.main import main

sys.exit(main())

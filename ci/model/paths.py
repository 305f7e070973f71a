"""Where the pipeline's own files are: the versions table, the vulnerability waivers, context/.

Why one place: commands, the build and the tests all need them, and their location must not
depend on which module asks (they used to be computed from each module's own __file__).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TABLE = REPO / "versions.yaml"
DEFAULT_WAIVERS = REPO / "vuln-waivers.yaml"  # reviewed like code: ci/table/waivers.py reads it
CONTEXT_DIR = REPO / "context"

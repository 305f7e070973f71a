"""Where the pipeline's own files are: the versions table and the image's context/.

Why one place: commands, the build and the tests all need them, and their location must not
depend on which module asks (they used to be computed from each module's own __file__).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TABLE = REPO / "versions.yaml"
CONTEXT_DIR = REPO / "context"

"""Where the pipeline's own files are: the versions table, the vulnerability waivers, context/.

Why one place: commands, the build and the tests all need them, and their location must not
depend on which module asks (they used to be computed from each module's own __file__), nor on
how the tool was installed. Two layouts exist:

- a checkout (also `pip install -e .`): versions.yaml and context/ at the repository root, next to
  the ci/ package;
- an installed wheel (`pip install .`, `pipx install .`): the build copies both into the package as
  ci/data/ (setup.py), because site-packages has no repository root.

The installed copy wins when it exists: a checkout never has ci/data/ (the build writes it into
build/, not into the source tree). Users who keep their own table or context pass `--table` /
`--context`; those flags default to the values here.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # ci/
INSTALLED_DATA = PACKAGE / "data"  # what setup.py ships in a wheel
CHECKOUT = PACKAGE.parent  # the repository root when running from a checkout


def data_root(installed: Path = INSTALLED_DATA, checkout: Path = CHECKOUT) -> Path:
    """The directory that holds versions.yaml and context/ for this installation."""
    return installed if (installed / "versions.yaml").is_file() else checkout


DATA_ROOT = data_root()
DEFAULT_TABLE = DATA_ROOT / "versions.yaml"
DEFAULT_WAIVERS = DATA_ROOT / "vuln-waivers.yaml"  # reviewed like code: ci/table/waivers.py reads it
CONTEXT_DIR = DATA_ROOT / "context"

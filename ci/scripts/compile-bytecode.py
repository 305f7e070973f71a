"""Byte-compile the .py files of SITE that have no up-to-date .pyc, as pip does after an install.

Run by the engine's native Python of the image's release (ci/build/cross.py): pip compiles every
installed .py with compileall.compile_file (timestamp-based .pyc in __pycache__, optimisation
level 0) and ignores files that do not compile (test data in some wheels); so does this.
Already compiled files are left alone, so only what the install added gets a .pyc.
"""

import compileall
import os
import sys


def main() -> int:
    site = sys.argv[1]
    os.environ.pop("SOURCE_DATE_EPOCH", None)  # pip's .pyc are timestamp-based; keep that
    before = sum(len([f for f in files if f.endswith(".pyc")]) for _, _, files in os.walk(site))
    compileall.compile_dir(site, quiet=2, workers=0)
    after = sum(len([f for f in files if f.endswith(".pyc")]) for _, _, files in os.walk(site))
    print(f"[tfci-cross] compiled {after - before} files with Python {sys.version.split()[0]} natively")
    return 0


if __name__ == "__main__":
    sys.exit(main())

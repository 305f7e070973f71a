"""Build hook: ship versions.yaml, the waivers and context/ inside the package, as ci/data/.

Why: `tf-images` installed from a wheel (`pip install .`, `pipx install .`) runs from site-packages,
where there is no repository root to find the table and the image's context/ in. The wheel carries
a copy under ci/data/; ci/model/paths.py picks it when present. Editable installs use the
checkout's own files, so nothing is copied for them. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# relative to the repository root
SHIPPED = ("versions.yaml", "versions.lock.yaml", "vuln-waivers.yaml", "context")


class BuildPyWithData(build_py):
    """build_py, plus the table and context/ copied to <build_lib>/ci/data/."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "ci" / "data"
        shutil.rmtree(target, ignore_errors=True)  # a file deleted from context/ must not linger
        for name in SHIPPED:
            source = HERE / name
            if source.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
                shutil.copytree(source, target / name, ignore=ignore, dirs_exist_ok=True)
            elif source.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildPyWithData})

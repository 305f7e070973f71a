"""The in-image scripts: every file in ci/scripts is readable through the package, is valid for the
shell or the oldest Python it runs on, and is used by the pipeline (no orphan, no missing file)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ci.model.paths import CHECKOUT as REPO
from ci.scripts import script_text

SCRIPTS = REPO / "ci" / "scripts"
FILES = sorted(p for p in SCRIPTS.iterdir() if p.is_file() and p.name != "__init__.py")
SHELL = [p for p in FILES if p.suffix == ".sh"]
PYTHON = [p for p in FILES if p.suffix == ".py"]
# In-image Python scripts run on the image's own interpreter, 3.7 and up (pyproject.toml).
OLDEST_PYTHON = (3, 7)


def test_every_script_is_a_shell_or_python_file_the_package_ships() -> None:
    assert FILES, "ci/scripts holds no scripts"
    assert set(FILES) == set(SHELL) | set(PYTHON)
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"ci.scripts" = ["*.sh", "*.py"]' in pyproject  # so an installed wheel carries them


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_script_text_reads_each_file_as_it_is(path: Path) -> None:
    assert script_text(path.name) == path.read_text(encoding="utf-8")


def test_a_missing_script_is_an_error() -> None:
    with pytest.raises(FileNotFoundError):
        script_text("no-such-script.sh")


@pytest.mark.parametrize("path", SHELL, ids=lambda p: p.name)
def test_shell_scripts_parse(path: Path) -> None:
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", SHELL, ids=lambda p: p.name)
def test_shell_scripts_pass_shellcheck(path: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run(
        ["shellcheck", "-x", str(path)], text=True, capture_output=True, check=False, cwd=path.parent
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", PYTHON, ids=lambda p: p.name)
def test_python_scripts_parse_for_the_oldest_image_python(path: Path) -> None:
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=OLDEST_PYTHON)


# The functions ci/ reads or runs a script with, by name (a literal argument).
RUNNERS = {"script_text", "script_file", "run_script", "script", "_script", "_python"}
SCRIPT_NAME = re.compile(r"(?:^|/)([a-z][a-z0-9-]*\.(?:sh|py))$")


def _pipeline_code() -> list[ast.AST]:
    return [
        ast.parse(path.read_text(encoding="utf-8"))
        for path in (REPO / "ci").rglob("*.py")
        if SCRIPTS not in path.parents
    ]


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def test_every_script_the_pipeline_runs_by_name_exists() -> None:
    run = {
        arg.value
        for tree in _pipeline_code()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _call_name(node) in RUNNERS
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and SCRIPT_NAME.match(arg.value)
    }
    assert {
        "apt-install.sh",
        "check-versions.py",
        "manifest-versions.py",
        "tarpit.py",
    } <= run  # it finds calls
    assert run <= {p.name for p in FILES}, "the pipeline runs a script that is not in ci/scripts"


def test_every_script_is_named_by_the_pipeline() -> None:
    named = {
        match[1]
        for tree in _pipeline_code()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for match in [SCRIPT_NAME.search(node.value)]
        if match is not None
    }
    assert {p.name for p in FILES} <= named, "a script in ci/scripts that nothing in ci/ names"

"""The package layout's rules, read from the code's own imports (README: Architecture).

Why a test: a rule written only in a README is broken by the first hurried fix. These read every
module of ci/ with `ast` and fail on the change that breaks a rule: the data layer importing a
registry or engine client, a command module importing another, an import cycle, a module over 450
lines, or a second reference parser or digest pattern.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "ci"
MAX_LINES = 450
DATA_LAYER = ("ci.model", "ci.table", "ci.select")
NETWORK_OR_ENGINE = (
    "dagger", "subprocess", "requests", "pypi_simple", "ci.registry", "ci.engine", "ci.build",
)  # fmt: skip


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(CI.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        if "scripts" in rel.parts and rel.name != "__init__":
            continue  # in-image scripts run on the image's Python, not part of the package graph
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, path


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = dict(modules())


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(f"{p}.") for p in prefixes)


@pytest.mark.parametrize("name", [n for n in MODULES if _in(n, DATA_LAYER)])
def test_the_data_layer_talks_to_no_registry_or_engine(name: str) -> None:
    bad = sorted(i for i in imports(MODULES[name]) if _in(i, NETWORK_OR_ENGINE))
    assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("ci.cli.") and n != "ci.cli.main"])
def test_command_modules_never_import_each_other(name: str) -> None:
    others = {n for n in MODULES if n.startswith("ci.cli.") and n not in (name, "ci.cli.flags")}
    bad = sorted(i for i in imports(MODULES[name]) if i in others or i == "ci.cli.main")
    assert not bad, f"{name} imports {bad}"


@pytest.mark.parametrize("name", list(MODULES))
def test_no_module_is_two_concepts(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines"


def test_no_import_cycle() -> None:
    graph = {name: {i for i in imports(path) if i in MODULES and i != name} for name, path in MODULES.items()}
    # a package's __init__ importing its own submodules is how packages work, not a cycle
    graph = {n: {d for d in deps if not n.startswith(f"{d}.")} for n, deps in graph.items()}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join([*path[path.index(node) :], node]))
        if node in done:
            return
        for dep in sorted(graph[node]):
            visit(dep, [*path, node])
        done.add(node)

    for name in graph:
        visit(name, [])


def test_one_reference_parser_and_one_digest_pattern() -> None:
    digest = re.compile(r"sha256:\[0-9a-f\]\{64\}")
    where = [name for name, path in MODULES.items() if digest.search(path.read_text(encoding="utf-8"))]
    assert where == ["ci.model.refs"]
    # A reference parser needs the tag grammar (distribution/reference): it is written in refs only.
    tag = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
    parsers = [name for name, path in MODULES.items() if tag in path.read_text(encoding="utf-8")]
    assert parsers == ["ci.model.refs"], f"reference grammar outside ci.model.refs: {parsers}"

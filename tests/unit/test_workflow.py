"""The GitHub Actions workflow calls the CLI with flags that exist.

Why: the workflow only runs on GitHub, so a renamed flag would first fail there, after merge.
Here every `ci/main.py` command line in it is expanded (matrix args from `matrix`, secrets and
inputs as placeholders) and parsed by the real argument parser.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci import main
from ci.resolve import resolve_targets
from ci.table import load_table

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "images.yml"


def _cli_lines() -> list[str]:
    flow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    lines = []
    for job in flow["jobs"].values():
        for step in job["steps"]:
            run = " ".join(str(step.get("run", "")).split())
            if "ci/main.py" in run:
                lines.append(run.split("ci/main.py", 1)[1].split(')"', 1)[0])  # $(... matrix)
    return lines


def _expand(line: str, matrix_args: str) -> list[str]:
    line = line.replace("$ARGS", matrix_args).replace("$SELECTORS", "--tf 2.15.0 --python 3.10")
    line = re.sub(r"\$\{\{[^}]*\}\}", "someone", line)
    line = line.replace('"$STAGING"', "ghcr.io/o/tensorflow-staging").replace(
        '"$RELEASE"', "ghcr.io/o/tensorflow"
    )
    line = line.split(">>", 1)[0]
    return shlex.split(line)


def test_workflow_has_plan_build_publish_and_promote() -> None:
    commands = [_expand(line, "")[0] for line in _cli_lines()]
    assert {"plan", "matrix", "build", "promote"} <= set(commands)


@pytest.mark.parametrize("line", _cli_lines())
def test_every_cli_call_parses(line: str) -> None:
    rows = json.loads(_matrix())["include"]
    assert rows, "the matrix is empty"
    for row in rows:
        argv = _expand(line, row["args"])
        args = main.build_parser().parse_args(argv)
        assert args.command == argv[0]


def test_matrix_args_reproduce_the_tags() -> None:
    targets = {spec.tag for spec in resolve_targets(load_table())}
    for row in json.loads(_matrix())["include"]:
        assert row["tag"] in targets


def _matrix() -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main.main(["matrix"]) == 0
    return out.getvalue()

"""The command line's parser: every command has help, and --table works after the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci.cli.main import COMMANDS, build_parser
from tests.unit.conftest import RunCli

REPO = Path(__file__).resolve().parents[3]


def test_table_flag_after_the_subcommand(run_cli: RunCli) -> None:
    code, out, _ = run_cli("plan", "--table", str(REPO / "versions.yaml"), "--format", "json")
    assert code == 0
    assert json.loads(out)


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_help_on_every_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    assert command in capsys.readouterr().out


def test_top_level_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert all(c.name in out for c in COMMANDS)

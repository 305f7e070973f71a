"""The CLI, in-process and as `python ci/main.py` / `python -m ci` subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ci.cli.main import COMMANDS, build_parser

REPO = Path(__file__).resolve().parents[2]
SEED_TAG = "2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04"
RunCli = Callable[..., tuple[int, str, str]]


def _script(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_script_plan_from_the_repo_root() -> None:
    result = _script("plan")
    assert result.returncode == 0, result.stderr
    assert SEED_TAG in result.stdout
    assert "tested with CUDA 12.2 / cuDNN 8.9" in result.stderr


def test_script_finds_the_table_from_any_cwd(tmp_path: Path) -> None:
    result = _script("plan", "--all", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert any(item["tag"] == SEED_TAG for item in json.loads(result.stdout))


def test_python_dash_m_ci() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ci", "matrix"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["include"]


def test_plan_is_fast_and_never_imports_dagger() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); from ci.main import main; "
        "rc = main(['plan', '--all', '--format', 'json']); "
        "assert 'dagger' not in sys.modules, 'dagger imported'; "
        "sys.stderr.write(f'ELAPSED {time.perf_counter() - t}\\n'); sys.exit(rc)"
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    inner = float(result.stderr.split("ELAPSED ")[1].split()[0])
    assert inner < 1.0
    assert wall < 5.0


def test_seed_plan_in_process(run_cli: RunCli) -> None:
    code, out, err = run_cli(
        "plan",
        "--tf",
        "2.15.0",
        "--python",
        "3.10",
        "--gpu-base",
        "nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04",
    )
    assert code == 0
    assert out.splitlines()[1].startswith(SEED_TAG)
    assert "2.15.0-gpu" in out, "the seed request is a target, so it carries its aliases"
    assert "warning:" in err


def test_plan_json_fields(run_cli: RunCli) -> None:
    code, out, _ = run_cli("plan", "--tf", "2.21.0", "--variant", "cpu", "--format", "json")
    assert code == 0
    [item] = json.loads(out)
    assert item["tag"] == "2.21.0-python3.12-cpu-ubuntu22.04"
    assert item["labels"]["io.tfimages.variant"] == "cpu"
    assert item["buildable"] is True
    assert item["all_tags"][0] == item["tag"]


def test_plan_shows_build_refusal(run_cli: RunCli) -> None:
    code, out, err = run_cli("plan", "--tf", "2.21.0", "--python", "3.13", "--variant", "cpu")
    assert code == 0
    assert "refused" in out
    assert "not verified" in err


def test_table_flag_after_the_subcommand(run_cli: RunCli) -> None:
    code, out, _ = run_cli("plan", "--table", str(REPO / "versions.yaml"), "--format", "json")
    assert code == 0
    assert json.loads(out)


def test_matrix_shape(run_cli: RunCli) -> None:
    code, out, _ = run_cli("matrix")
    assert code == 0
    assert "\n" not in out.strip(), "GITHUB_OUTPUT needs a single line"
    matrix = json.loads(out)
    assert set(matrix) == {"include"}
    keys = {
        "tf",
        "python",
        "variant",
        "cuda_source",
        "os",
        "gpu_base",
        "python_source",
        "gpu",
        "tag",
        "aliases",
        "args",
    }
    for row in matrix["include"]:
        assert keys <= set(row)
        assert row["variant"] in ("cpu", "gpu")
        assert isinstance(row["gpu"], bool)
    seed = next(row for row in matrix["include"] if row["tag"] == SEED_TAG)
    assert seed["gpu_base"] == "nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04"


def test_matrix_args_reproduce_each_tag(run_cli: RunCli) -> None:
    _, out, _ = run_cli("matrix")
    for row in json.loads(out)["include"]:
        code, plan, _ = run_cli("plan", "--format", "json", *row["args"].split())
        assert code == 0
        assert json.loads(plan)[0]["tag"] == row["tag"]


def test_matrix_variant_filter(run_cli: RunCli) -> None:
    _, out, _ = run_cli("matrix", "--variant", "cpu")
    assert {row["variant"] for row in json.loads(out)["include"]} == {"cpu"}


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


def test_plan_json_shows_the_nvidia_wheel_pins_of_a_pip_cuda_target(run_cli: RunCli) -> None:
    code, out, _ = run_cli(
        "plan", "--tf", "2.20.0", "--variant", "gpu", "--cuda-source", "pip", "--format", "json"
    )
    assert code == 0
    (spec,) = json.loads(out)
    pins = {w["dist"]: w["version"] for w in spec["nvidia_wheels"]}
    assert pins["nvidia-cuda-runtime-cu12"] == "12.5.82"
    assert pins["nvidia-cudnn-cu12"] == "9.3.0.75"
    assert pins["nvidia-nccl-cu12"] == "2.25.1"
    assert "nvidia-cudnn-cu12==9.3.0.75" in spec["constraints"]
    assert spec["labels"]["io.tfimages.pip.nvidia-cuda-nvcc-cu12"] == "12.5.82"

"""`plan` and `matrix`: what they print for the table, for selectors (a workflow_dispatch's `selectors`
input narrows the build matrix) and with a lock file."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ci.table.lockfile import LockEntry, write_lock
from tests.unit import hostile
from tests.unit.conftest import SEED_TAG, RunCli

DIGEST = "sha256:" + "c" * 64

SEED_ARGS = (
    "--tf 2.15.0 --python 3.10 --variant gpu --cuda-source base "
    "--gpu-base nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04 --python-source miniconda"
)


def rows(run_cli: RunCli, *argv: str) -> list[dict[str, object]]:
    code, out, err = run_cli("matrix", *argv)
    assert code == 0, err
    include = json.loads(out)["include"]
    assert isinstance(include, list)
    return include


def test_selectors_give_exactly_that_image_with_its_targets_tags(run_cli: RunCli) -> None:
    every = {row["tag"]: row for row in rows(run_cli)}
    (seed,) = rows(run_cli, *SEED_ARGS.split())
    assert seed == every[str(seed["tag"])]  # same row as the full matrix: aliases, gpu_base, args
    # each row builds its platform alone, so a target's narrowed platforms survive in the job
    assert seed["args"] == SEED_ARGS + " --platform linux/amd64"


def test_a_selected_image_outside_the_targets_still_builds(run_cli: RunCli) -> None:
    amd64, arm64 = rows(run_cli, "--tf", "2.15.0", "--python", "3.11", "--variant", "cpu", "--os", "debian12",
                        "--python-source", "system")  # fmt: skip
    assert amd64["tag"] == arm64["tag"] == "2.15.0-python3.11-cpu-debian12"
    assert amd64["aliases"] == []
    assert [amd64["platform"], arm64["platform"]] == ["linux/amd64", "linux/arm64"]
    (only,) = rows(run_cli, "--tf", "2.15.0", "--python", "3.11", "--variant", "cpu", "--os", "debian12",
                   "--python-source", "system", "--platform", "linux/amd64")  # fmt: skip
    assert only["platforms"] == ["linux/amd64"]
    assert only["publish_tag"] == only["tag"]


def test_every_cpu_target_builds_on_arm64_and_no_gpu_one_does(run_cli: RunCli) -> None:
    by_kind: dict[str, set[str]] = {}
    for row in rows(run_cli):
        by_kind.setdefault(f"{row['variant']}/{row['cuda_source']}", set()).add(str(row["platform"]))
    assert by_kind == {
        "cpu/none": {"linux/amd64", "linux/arm64"},
        "gpu/base": {"linux/amd64"},
        "gpu/pip": {"linux/amd64"},
    }


def test_variant_alone_still_filters_every_target(run_cli: RunCli) -> None:
    assert {row["variant"] for row in rows(run_cli, "--variant", "gpu")} == {"gpu"}
    assert len(rows(run_cli, "--variant", "gpu")) + len(rows(run_cli, "--variant", "cpu")) == len(
        rows(run_cli)
    )


def test_selectors_without_tf_are_exit_2(run_cli: RunCli) -> None:
    code, _, err = run_cli("matrix", "--python", "3.10")
    assert code == 2
    assert (
        err.strip()
        == "error: --tf is required when selecting an image (or give no selectors for every target)"
    )


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


def test_plan_shows_the_locked_digest(table_copy: Path, run_cli: RunCli) -> None:
    write_lock(table_copy, {"debian:bookworm": LockEntry("debian:bookworm", DIGEST, "t")})
    selectors = ("--tf", "2.15.0", "--python", "3.11", "--variant", "cpu", "--os", "debian12")
    code, out, _ = run_cli("plan", "--table", str(table_copy), *selectors)
    assert code == 0
    assert f"debian:bookworm@{DIGEST}" in out
    code, out, _ = run_cli("plan", "--table", str(table_copy), *selectors, "--format", "json")
    assert json.loads(out)[0]["base_digest"] == DIGEST


# --------------------------------------------------------------------------- property (issue 16)


def _selectors_and_table(command: str) -> hostile.Flags:
    flags: dict[str, st.SearchStrategy[str] | None] = {**hostile.SELECTORS, "--table": hostile.text}
    if command == "plan":
        flags["--format"] = st.sampled_from(["table", "json", "x"])
    return flags


@settings(hostile.PROPERTY, max_examples=25)
@given(data=st.data())
def test_plan_on_hostile_command_lines(data: st.DataObject, tmp_path: Path) -> None:
    files = hostile.hostile_files(tmp_path / "files")
    argv = data.draw(
        hostile.command_lines("plan", _selectors_and_table("plan"), paths=files, base=hostile.CPU_IMAGE[:2])
    )
    hostile.assert_contained(*hostile.run(argv), argv)


@settings(hostile.PROPERTY, max_examples=25)
@given(data=st.data())
def test_matrix_on_hostile_command_lines(data: st.DataObject, tmp_path: Path) -> None:
    files = hostile.hostile_files(tmp_path / "files")
    argv = data.draw(
        hostile.command_lines(
            "matrix", _selectors_and_table("matrix"), paths=files, base=hostile.CPU_IMAGE[:2]
        )
    )
    hostile.assert_contained(*hostile.run(argv), argv)

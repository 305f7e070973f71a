"""`matrix` with selectors: a workflow_dispatch's `selectors` input narrows the build matrix."""

from __future__ import annotations

import json

from tests.unit.conftest import RunCli

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
    assert seed["args"] == SEED_ARGS


def test_a_selected_image_outside_the_targets_still_builds(run_cli: RunCli) -> None:
    (row,) = rows(run_cli, "--tf", "2.15.0", "--python", "3.11", "--variant", "cpu", "--os", "debian12",
                  "--python-source", "system")  # fmt: skip
    assert row["tag"] == "2.15.0-python3.11-cpu-debian12"
    assert row["aliases"] == []


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

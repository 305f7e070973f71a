"""Attributing exported layers to the layer functions that made them (the counting rules)."""

from __future__ import annotations

from ci.report.layers import attribute
from ci.report.model import LayerFacts, StepTiming
from tests.unit.report_samples import layer

BASE = layer(1, "", 10, "pulled from docker.io/library/debian:bookworm")
BASE2 = layer(2, "", 10, "pulled from docker.io/library/debian:bookworm")
EXEC = layer(3, "", 10, "mount / from exec bash -euo pipefail -c apt-get install")
DIRECTORY = layer(4, "", 10, "Directory.withDirectory source")
EXEC2 = layer(5, "", 10, "mount / from exec bash -euo pipefail -c find /init")

STEPS = [
    StepTiming("base", 0.1, None),
    StepTiming("os_packages", 10.0, 1, ("with_exec",)),
    StepTiming("ca_trust", 0.0, 0),
    StepTiming("runtime_files", 0.5, 2, ("with_directory", "with_exec")),
    StepTiming("metadata", 0.1, 0),
]


def steps_of(layers: list[LayerFacts]) -> list[str | None]:
    return [x.step for x in layers]


def test_base_takes_the_pulled_layers_and_each_step_its_own() -> None:
    layers, why = attribute([BASE, BASE2, EXEC, DIRECTORY, EXEC2], STEPS)
    assert why is None
    assert steps_of(layers) == ["base", "base", "os_packages", "runtime_files", "runtime_files"]


def test_an_exec_that_meets_a_non_exec_layer_attributes_nothing() -> None:
    layers, why = attribute([BASE, DIRECTORY, EXEC, EXEC2], STEPS)
    assert why is not None
    assert "does not match the recorded operation" in why
    assert steps_of(layers) == ["", "", "", ""]  # unchanged, never a wrong attribution


def test_more_operations_than_layers_attributes_nothing() -> None:
    layers, why = attribute([EXEC, EXEC2], STEPS)
    assert why == "the build made 3 layer operations but the image has 2 layers"
    assert steps_of(layers) == ["", ""]


def test_without_a_base_step_the_counts_must_cover_every_layer() -> None:
    _, why = attribute([BASE, EXEC], STEPS[1:2])
    assert why == "the steps account for 1 of 2 layers"

"""plan's table and JSON and the GitHub matrix: pure functions of specs, compared as strings."""

from __future__ import annotations

import dataclasses
import json
import re

from ci.model.spec import ImageSpec
from ci.report.plan import matrix_json, matrix_row, notes, plan_json, plan_table, selector_args, spec_to_dict
from ci.select import Selection, selected_specs
from ci.table.resolve import BuildRequest


def test_the_table_has_one_aligned_line_per_image(cpu_spec: ImageSpec) -> None:
    other = dataclasses.replace(
        cpu_spec,
        tag="x",
        base_digest="sha256:" + "d" * 64,
        aliases=("a1", "a2"),
        refusals=("installer not verified",),
    )
    header, first, second = plan_table([cpu_spec, other]).splitlines()
    assert header.split() == ["TAG", "BASE", "PYTHON", "TENSORFLOW", "ALIASES", "BUILD"]
    assert re.split(r"\s{2,}", first) == [
        cpu_spec.tag,
        "debian:bookworm",
        "3.11 (system)",
        "tensorflow-cpu==2.15.0",
        "-",
        "ok",
    ]
    assert re.split(r"\s{2,}", second)[1:] == [
        "debian:bookworm@sha256:" + "d" * 64,
        "3.11 (system)",
        "tensorflow-cpu==2.15.0",
        "a1, a2",
        "refused",
    ]
    assert first.index("debian:bookworm") == header.index("BASE") == second.index("debian:bookworm@")


def test_notes_carry_warnings_and_refusals_for_stderr(cpu_spec: ImageSpec) -> None:
    assert notes([cpu_spec]) == []
    noisy = dataclasses.replace(cpu_spec, warnings=("old CUDA",), refusals=("no sha256",))
    assert notes([noisy]) == [
        f"warning: {cpu_spec.tag}: old CUDA",
        f"warning: {cpu_spec.tag}: a build refuses this image: no sha256",
    ]


def test_json_has_every_field_plus_the_derived_ones(cpu_spec: ImageSpec) -> None:
    (item,) = json.loads(plan_json([cpu_spec]))
    assert item == spec_to_dict(cpu_spec)
    assert set(item) >= {f.name for f in dataclasses.fields(cpu_spec)} | {"all_tags", "buildable"}
    assert item["labels"] == dict(cpu_spec.labels)
    assert item["constraints"] == list(cpu_spec.constraints)
    assert item["buildable"] is True


def test_selector_args_reproduce_the_spec_whatever_the_defaults() -> None:
    for spec in selected_specs(Selection()):
        gpu_base = spec.base_image if spec.cuda_source == "base" else None
        args = selector_args(spec, gpu_base)
        fields = dict(zip(args[::2], args[1::2], strict=True))
        request = BuildRequest(
            tf=fields["--tf"],
            python=fields["--python"],
            variant=fields["--variant"],
            cuda_source=fields.get("--cuda-source"),
            os=fields.get("--os"),
            gpu_base=fields.get("--gpu-base"),
            python_source=fields["--python-source"],
        )
        (again,) = selected_specs(Selection(fields=dataclasses.asdict(request)))
        assert again.tag == spec.tag


def test_a_cpu_spec_names_its_os_and_no_cuda_source(cpu_spec: ImageSpec) -> None:
    args = selector_args(cpu_spec, None)
    assert args == [
        "--tf",
        "2.15.0",
        "--python",
        "3.11",
        "--variant",
        "cpu",
        "--os",
        "debian12",
        "--python-source",
        "system",
    ]


def test_the_matrix_is_one_line_of_rows(cpu_spec: ImageSpec) -> None:
    row = matrix_row(cpu_spec, None)
    assert row["gpu_base"] == ""
    assert row["gpu"] is False
    assert row["args"] == " ".join(selector_args(cpu_spec, None))
    text = matrix_json([row, row])
    assert "\n" not in text
    assert json.loads(text) == {"include": [row, row]}

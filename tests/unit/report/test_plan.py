"""plan's table and JSON and the GitHub matrix: pure functions of specs, compared as strings."""

from __future__ import annotations

import dataclasses
import json
import re

from ci.model.spec import ImageSpec
from ci.report.plan import (
    matrix_json,
    matrix_row,
    matrix_rows,
    notes,
    plan_json,
    plan_table,
    selector_args,
    spec_to_dict,
)
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
    assert header.split() == ["TAG", "PLATFORMS", "BASE", "PYTHON", "TENSORFLOW", "ALIASES", "BUILD"]
    assert re.split(r"\s{2,}", first) == [
        cpu_spec.tag,
        "linux/amd64",
        "debian:bookworm",
        "3.11 (system)",
        "tensorflow-cpu==2.15.0",
        "-",
        "ok",
    ]
    assert re.split(r"\s{2,}", second)[1:] == [
        "linux/amd64",
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


def test_a_multi_platform_image_shows_its_platforms_and_each_package(multi_spec: ImageSpec) -> None:
    _, row = plan_table([multi_spec]).splitlines()
    assert re.split(r"\s{2,}", row)[1] == "linux/amd64,linux/arm64"
    assert re.split(r"\s{2,}", row)[4] == "tensorflow-cpu==2.21.0, tensorflow==2.21.0 (linux/arm64)"
    (item,) = json.loads(plan_json([multi_spec]))
    assert item["platforms"] == ["linux/amd64", "linux/arm64"]
    arm64 = item["builds"][1]
    assert (arm64["platform"], arm64["machine"], arm64["tensorflow_requirement"]) == (
        "linux/arm64", "aarch64", "tensorflow==2.21.0",
    )  # fmt: skip
    assert arm64["labels"]["io.tfimages.tensorflow.requirement"] == "tensorflow==2.21.0"
    assert arm64["labels"]["io.tfimages.platforms"] == "linux/amd64,linux/arm64"


def test_json_has_every_field_plus_the_derived_ones(cpu_spec: ImageSpec) -> None:
    (item,) = json.loads(plan_json([cpu_spec]))
    assert item == spec_to_dict(cpu_spec)
    assert set(item) >= {f.name for f in dataclasses.fields(cpu_spec)} | {
        "all_tags",
        "buildable",
        "platforms",
    }
    assert item["platforms"] == ["linux/amd64"]
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


def test_the_matrix_has_one_row_per_platform_each_pushed_under_its_own_tag(
    cpu_spec: ImageSpec, multi_spec: ImageSpec
) -> None:
    """Each platform builds on a runner of its architecture; `assemble` tags the index later."""
    amd64, arm64 = matrix_rows(multi_spec, None)
    assert (amd64["platform"], amd64["arch"], arm64["platform"], arm64["arch"]) == (
        "linux/amd64", "amd64", "linux/arm64", "arm64",
    )  # fmt: skip
    assert amd64["platforms"] == arm64["platforms"] == ["linux/amd64", "linux/arm64"]
    assert arm64["args"] == " ".join([*selector_args(multi_spec, None), "--platform", "linux/arm64"])
    assert arm64["publish_tag"] == f"{multi_spec.tag}-linux-arm64"
    assert amd64["tag"] == arm64["tag"] == multi_spec.tag
    (single,) = matrix_rows(cpu_spec, None)
    assert single["publish_tag"] == cpu_spec.tag
    # its one platform too: a target may narrow the platforms its selectors alone would give
    assert single["args"].endswith(" --platform linux/amd64")


def test_the_matrix_is_one_line_of_rows(cpu_spec: ImageSpec) -> None:
    row = matrix_row(cpu_spec, None)
    assert row["gpu_base"] == ""
    assert row["gpu"] is False
    assert row["args"] == " ".join(selector_args(cpu_spec, None))
    text = matrix_json([row, row])
    assert "\n" not in text
    assert json.loads(text) == {"include": [row, row]}

"""The image kinds and the ImageSpec's derived fields (kind, PATH, site-packages, package name)."""

from __future__ import annotations

import dataclasses

import pytest

from ci.model.spec import KINDS, ImageSpec, NvidiaWheel, kind_of
from ci.table.resolve import BuildRequest, resolve
from ci.table.rows import Table
from tests.e2e.specs import GPU_REQUEST


def test_every_kind_is_named_by_its_own_variant_and_cuda_source() -> None:
    assert set(KINDS) == {"cpu", "gpu", "pip"}
    for name, kind in KINDS.items():
        assert kind.name == name
        assert kind_of(kind.variant, kind.cuda_source) is kind
    assert len({kind.alias_family for kind in KINDS.values()}) == len(KINDS)
    assert KINDS["pip"].alias_family == "gpu-pip"


def test_a_cpu_image_is_cpu_whatever_cuda_source_is_given() -> None:
    assert kind_of("cpu", "none") is KINDS["cpu"]
    assert kind_of("cpu", "pip") is KINDS["cpu"]
    assert kind_of("gpu", "base") is KINDS["gpu"]
    assert kind_of("gpu", "pip") is KINDS["pip"]


@pytest.mark.parametrize(("variant", "cuda_source"), [("gpu", "none"), ("gpu", "conda"), ("tpu", "base")])
def test_no_kind_for_an_unknown_pair(variant: str, cuda_source: str) -> None:
    with pytest.raises(ValueError, match=f"no image kind for variant '{variant}'"):
        kind_of(variant, cuda_source)


def test_a_resolved_spec_knows_its_kind(table: Table, cpu_spec: ImageSpec) -> None:
    assert cpu_spec.kind is KINDS["cpu"]
    assert resolve(table, GPU_REQUEST).kind is KINDS["pip"]
    assert resolve(table, BuildRequest(tf="2.15.0", variant="gpu", cuda_source="base")).kind is KINDS["gpu"]


def test_paths_follow_the_python_prefix_and_version(cpu_spec: ImageSpec) -> None:
    assert (cpu_spec.python_prefix, cpu_spec.python_version) == ("/opt/python", "3.11")
    assert cpu_spec.python == "/opt/python/bin/python"
    assert cpu_spec.site_packages == "/opt/python/lib/python3.11/site-packages"
    assert cpu_spec.path == "/opt/python/bin"
    conda = dataclasses.replace(cpu_spec, python_prefix="/root/miniconda3", python_version="3.10")
    assert conda.site_packages == "/root/miniconda3/lib/python3.10/site-packages"
    assert conda.path == "/root/miniconda3/bin"


def test_only_a_pip_cuda_image_puts_nvcc_on_path(table: Table) -> None:
    spec = resolve(table, GPU_REQUEST)
    assert spec.path.split(":") == [
        "/opt/python/bin",
        "/opt/python/lib/python3.11/site-packages/nvidia/cuda_nvcc/bin",
    ]
    base = resolve(table, BuildRequest(tf="2.15.0", variant="gpu", cuda_source="base"))
    assert ":" not in base.path


@pytest.mark.parametrize(
    ("requirement", "package"),
    [
        ("tensorflow-cpu==2.15.0", "tensorflow-cpu"),
        ("tensorflow[and-cuda]==2.15.1", "tensorflow"),
        ("tensorflow-gpu==1.15.5", "tensorflow-gpu"),
        ("tensorflow==2.21.0", "tensorflow"),
    ],
)
def test_tensorflow_package_is_the_distribution_name(
    cpu_spec: ImageSpec, requirement: str, package: str
) -> None:
    assert dataclasses.replace(cpu_spec, tensorflow_requirement=requirement).tensorflow_package == package


def test_refusals_make_a_spec_unbuildable_and_aliases_follow_the_tag(cpu_spec: ImageSpec) -> None:
    assert cpu_spec.buildable
    assert not dataclasses.replace(cpu_spec, refusals=("no installer",)).buildable
    tagged = dataclasses.replace(cpu_spec, aliases=("2.15-cpu", "latest"))
    assert tagged.all_tags == (cpu_spec.tag, "2.15-cpu", "latest")


def test_nvidia_wheels_by_component(table: Table, cpu_spec: ImageSpec) -> None:
    spec = resolve(table, GPU_REQUEST)
    cudnn = spec.nvidia_wheel("cudnn")
    assert cudnn == NvidiaWheel("cudnn", "nvidia-cudnn-cu12", "8.9.4.25")
    assert cudnn.constraint == "nvidia-cudnn-cu12==8.9.4.25"
    assert spec.nvidia_wheel("no-such-component") is None
    assert cpu_spec.nvidia_wheel("cudnn") is None

"""The resolver: every row resolves or is refused with its reason, and the seed image comes out exactly."""

from __future__ import annotations

import pytest

from ci.build.pip import constraints_text
from ci.table.resolve import BuildRequest, RequestError, resolve, resolve_targets
from ci.table.rows import Table

SEED_BASE = "nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04"
SEED_TAG = "2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04"


def _every_request(table: Table) -> list[BuildRequest]:
    out: list[BuildRequest] = []
    for row in table.releases:
        for py in row.python:
            out.append(BuildRequest(tf=row.tf, python=py, variant="cpu"))
            out.append(BuildRequest(tf=row.tf, python=py, variant="gpu", cuda_source="base"))
            out.append(BuildRequest(tf=row.tf, python=py, variant="gpu", cuda_source="pip"))
    return out


def test_every_release_python_variant_resolves_or_is_refused_with_its_reason(table: Table) -> None:
    resolved = 0
    for request in _every_request(table):
        row = table.release(request.tf)
        assert row is not None
        if request.cuda_source == "pip" and row.pip_cuda is None:
            with pytest.raises(RequestError, match="and-cuda"):
                resolve(table, request)
            continue
        pip_pythons = row.pip_cuda.python if row.pip_cuda is not None else None
        if request.cuda_source == "pip" and pip_pythons is not None and request.python not in pip_pythons:
            with pytest.raises(RequestError, match="installs for Python"):
                resolve(table, request)
            continue
        if request.cuda_source == "base" and row.gpu_unavailable is not None:
            with pytest.raises(RequestError) as info:
                resolve(table, request)
            assert row.gpu_unavailable in info.value.problem
            continue
        spec = resolve(table, request)
        resolved += 1
        assert spec.tf_version == row.tf
        assert spec.python_version == request.python
        assert spec.tensorflow_requirement.endswith(f"=={row.tf}")
        assert spec.tag.startswith(f"{row.tf}-python{request.python}-")
        pins = tuple(f"{w.dist}=={w.version}" for w in spec.nvidia_wheels)
        assert spec.constraints == (f"numpy{spec.numpy_specifier}", *pins)
        assert bool(pins) == (spec.cuda_source == "pip")
        assert spec.tensorboard_requirement == f"tensorboard{row.tensorboard}"
        assert spec.jupyter_requirements == table.pythons[request.python].jupyter
        if spec.is_gpu:
            assert spec.cuda_version
            assert spec.cudnn_version
        else:
            assert spec.cuda_version is None
            assert spec.cuda_source == "none"
    assert resolved > 100


def test_seed_override_gives_the_seed_tag_and_a_warning(table: Table) -> None:
    spec = resolve(table, BuildRequest(tf="2.15.0", python="3.10", variant="gpu", gpu_base=SEED_BASE))
    assert spec.tag == SEED_TAG
    assert spec.base_image == SEED_BASE
    assert spec.cuda_version == "12.1.0"
    assert spec.cudnn_version == "8.9"
    assert spec.tensorflow_requirement == "tensorflow==2.15.0"
    assert any("tested with CUDA 12.2 / cuDNN 8.9" in w for w in spec.warnings)
    assert spec.python_prefix == "/root/miniconda3"
    assert spec.miniconda is not None
    assert spec.buildable


def test_seed_target_is_in_the_target_set(table: Table) -> None:
    specs = resolve_targets(table)
    seed = [s for s in specs if s.tag == SEED_TAG]
    assert len(seed) == 1
    assert "2.15.0-gpu" in seed[0].aliases


def test_default_gpu_base_for_2_15_is_the_tested_cuda(table: Table) -> None:
    spec = resolve(table, BuildRequest(tf="2.15.0", variant="gpu"))
    assert spec.tag == "2.15.0-python3.10-cuda12.2.2-cudnn8-devel-ubuntu22.04"
    assert spec.warnings == ()


def test_pip_flavour_on_debian_with_system_python(table: Table) -> None:
    request = BuildRequest(
        tf="2.15.0", python="3.11", variant="gpu", cuda_source="pip", os="debian12", python_source="system"
    )
    spec = resolve(table, request)
    assert spec.tag == "2.15.0-python3.11-cuda12.2-cudnn8-pip-debian12"
    assert spec.base_image == "debian:bookworm"
    assert spec.tensorflow_requirement == "tensorflow[and-cuda]==2.15.0"
    assert spec.python_prefix == "/opt/python"
    assert spec.miniconda is None
    assert spec.buildable


def test_cpu_os_override(table: Table) -> None:
    spec = resolve(table, BuildRequest(tf="2.21.0", variant="cpu", os="debian12"))
    assert spec.tag == "2.21.0-python3.12-cpu-debian12"
    assert spec.base_image == "debian:bookworm"


def test_unverified_installer_resolves_but_refuses_to_build(table: Table) -> None:
    spec = resolve(table, BuildRequest(tf="2.21.0", python="3.13", variant="cpu"))
    assert spec.miniconda is not None
    assert not spec.buildable
    assert "not verified" in spec.refusals[0]
    system = resolve(table, BuildRequest(tf="2.21.0", python="3.13", variant="cpu", python_source="system"))
    assert system.buildable


def test_python_without_any_installer_refuses_to_build(table: Table) -> None:
    spec = resolve(table, BuildRequest(tf="2.4.4", python="3.6", variant="cpu"))
    assert spec.miniconda is None
    assert not spec.buildable


@pytest.mark.parametrize(
    ("request_", "field", "fragment"),
    [
        (BuildRequest(tf="9.9.9"), "tf", "valid: 1.15.5"),
        (BuildRequest(tf="2.15.0", python="3.12"), "python", "3.9, 3.10, 3.11; got 3.12"),
        (BuildRequest(tf="2.15.0", variant="tpu"), "variant", "cpu, gpu"),
        (BuildRequest(tf="2.15.0", variant="cpu", os="windows11"), "os", "valid: ubuntu18.04"),
        (BuildRequest(tf="2.1.4", variant="gpu"), "variant", "CUDA 10"),
        (BuildRequest(tf="2.13.1", variant="gpu", cuda_source="pip"), "cuda_source", "and-cuda"),
        (
            BuildRequest(tf="2.14.1", python="3.11", variant="gpu", cuda_source="pip"),
            "python",
            "installs for Python 3.9, 3.10 only",
        ),
        (
            BuildRequest(tf="2.15.0", variant="gpu", gpu_base="not an image"),
            "gpu_base",
            "not an image reference",
        ),
        (
            BuildRequest(tf="2.18.1", variant="gpu", gpu_base="nvidia/cuda:12.5.1-cudnn-devel-ubuntu22.04"),
            "gpu_base",
            "9.2.1",
        ),
        (
            BuildRequest(tf="2.16.2", variant="gpu", gpu_base="nvidia/cuda:12.3.2-cudnn9-devel-ubuntu22.04"),
            "gpu_base",
            "cuDNN 9.0",
        ),
        (
            BuildRequest(tf="2.15.0", variant="gpu", gpu_base="nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04"),
            "gpu_base",
            "same major",
        ),
        (BuildRequest(tf="2.15.0", variant="cpu", gpu_base=SEED_BASE), "gpu_base", "GPU images only"),
        (BuildRequest(tf="2.15.0", variant="gpu", os="debian12"), "os", "fixes the OS"),
    ],
)
def test_bad_requests_name_the_field(table: Table, request_: BuildRequest, field: str, fragment: str) -> None:
    with pytest.raises(RequestError) as info:
        resolve(table, request_)
    assert info.value.field == field
    assert fragment in info.value.problem


def test_local_mirror_of_a_known_tag_is_accepted(table: Table) -> None:
    ref = "localhost:5000/nvidia/cuda:12.2.2-cudnn8-devel-ubuntu22.04"
    spec = resolve(table, BuildRequest(tf="2.15.1", variant="gpu", gpu_base=ref))
    assert spec.base_image == ref
    assert spec.tag == "2.15.1-python3.11-cuda12.2.2-cudnn8-devel-ubuntu22.04"


def test_pip_cuda_specs_pin_every_nvidia_wheel_as_a_constraint(table: Table) -> None:
    """Issue 10: 2.20/2.21's extra takes ranges; the pins keep pip on the tag's CUDA 12.5 / cuDNN 9.3."""
    spec = resolve(table, BuildRequest(tf="2.21.0", variant="gpu", cuda_source="pip"))
    assert spec.tag == "2.21.0-python3.12-cuda12.5-cudnn9-pip-ubuntu22.04"
    assert "nvidia-cuda-runtime-cu12==12.5.82" in spec.constraints
    assert "nvidia-cudnn-cu12==9.3.0.75" in spec.constraints
    assert "nvidia-cuda-nvcc-cu12==12.5.82" in spec.constraints
    assert len(spec.nvidia_wheels) == 12
    # ci.layers mounts exactly these lines as the constraints file of every pip layer.
    assert "nvidia-cudnn-cu12==9.3.0.75\n" in constraints_text(spec.constraints)
    labels = dict(spec.labels)
    assert labels["io.tfimages.pip.nvidia-cudnn-cu12"] == "9.3.0.75"
    assert "CUDA runtime 12.5.82, cuDNN 9.3.0.75" in labels["org.opencontainers.image.description"]
    cu11 = resolve(table, BuildRequest(tf="2.14.1", python="3.10", variant="gpu", cuda_source="pip"))
    assert "nvidia-cudnn-cu11==8.7.0.84" in cu11.constraints
    assert cu11.tag == "2.14.1-python3.10-cuda11.8-cudnn8-pip-ubuntu22.04"


def test_each_platform_has_its_package_installer_and_labels(table: Table) -> None:
    spec = resolve(table, BuildRequest(tf="2.15.0", python="3.11", variant="cpu"))
    assert spec.platforms == ("linux/amd64", "linux/arm64")
    arm64 = spec.on("linux/arm64")
    assert (spec.tensorflow_requirement, arm64.tensorflow_requirement) == (
        "tensorflow-cpu==2.15.0",
        "tensorflow==2.15.0",
    )
    assert arm64.build_for("linux/arm64").tensorflow_via == "tensorflow-cpu-aws==2.15.0"
    assert spec.miniconda is not None
    assert arm64.miniconda is not None
    assert (spec.miniconda.filename, arm64.miniconda.filename) == (
        "Miniconda3-py311_24.11.1-0-Linux-x86_64.sh",
        "Miniconda3-py311_24.11.1-0-Linux-aarch64.sh",
    )
    assert arm64.machine == "aarch64"
    assert dict(arm64.labels)["io.tfimages.tensorflow.requirement"] == "tensorflow==2.15.0"
    assert dict(spec.labels)["io.tfimages.platforms"] == dict(arm64.labels)["io.tfimages.platforms"]
    assert arm64.tag == spec.tag  # one tag for every platform
    assert arm64.on("linux/amd64") == spec


def test_platforms_narrow_an_image_and_a_missing_installer_refuses_only_there(table: Table) -> None:
    only = resolve(table, BuildRequest(tf="2.21.0", variant="cpu", platforms=("linux/arm64",)))
    assert only.platforms == ("linux/arm64",)
    assert only.platform == "linux/arm64"
    assert only.tensorflow_requirement == "tensorflow==2.21.0"
    # Python 3.13's Miniconda: no aarch64 installer in the table (and the x86_64 one is unverified).
    both = resolve(table, BuildRequest(tf="2.21.0", python="3.13", variant="cpu"))
    assert any(r.startswith("linux/arm64: no Miniconda installer for Python 3.13") for r in both.refusals)
    system = resolve(table, BuildRequest(tf="2.21.0", python="3.13", variant="cpu", python_source="system"))
    assert system.refusals == ()
    assert resolve(table, BuildRequest(tf="2.9.3", variant="cpu")).platforms == ("linux/amd64",)
    assert resolve(table, BuildRequest(tf="2.21.0", variant="gpu")).platforms == ("linux/amd64",)

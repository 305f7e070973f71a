"""Check rules on canned outputs: the parts of a check that decide pass/fail, without an engine."""

from __future__ import annotations

import pytest

from ci.model import contract
from ci.model.spec import ImageSpec
from ci.model.tags import wheel_label
from ci.probe.rules import (
    CUDA_LABEL,
    CUDNN_LABEL,
    command_mode_problems,
    compare_nvidia_wheels,
    compare_versions,
    parse_cudnn_header,
    parse_cudnn_probe,
    parse_nvcc_release,
    root_password_locked,
    sshd_effective_problems,
)

NVCC_12_2 = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2023 NVIDIA Corporation
Built on Tue_Aug_15_22:02:13_PDT_2023
Cuda compilation tools, release 12.2, V12.2.140
Build cuda_12.2.r12.2/compiler.33191640_0
"""

CUDNN_HEADER = """#ifndef CUDNN_VERSION_H_
#define CUDNN_VERSION_H_
#define CUDNN_MAJOR 8
#define CUDNN_MINOR 9
#define CUDNN_PATCHLEVEL 4
#define CUDNN_VERSION (CUDNN_MAJOR * 1000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)
#endif
"""


@pytest.fixture
def spec(cpu_spec: ImageSpec) -> ImageSpec:
    return cpu_spec


def test_nvcc_release_parsing() -> None:
    assert parse_nvcc_release(NVCC_12_2) == "12.2"
    assert parse_nvcc_release("Cuda compilation tools, release 11.8, V11.8.89") == "11.8"
    assert parse_nvcc_release("bash: nvcc: command not found") is None


def test_cudnn_header_and_probe_parsing() -> None:
    assert parse_cudnn_header(CUDNN_HEADER) == "8.9.4"
    assert parse_cudnn_header("#define CUDNN_MAJOR 8\n") is None
    assert parse_cudnn_probe("header /usr/include/cudnn_version.h\n" + CUDNN_HEADER) == (
        "8.9.4",
        "/usr/include/cudnn_version.h",
    )
    assert parse_cudnn_probe("pip 8.9.4.25 nvidia-cudnn-cu12\n") == (
        "8.9.4.25",
        "pip package nvidia-cudnn-cu12",
    )
    # The probe resolves the soname link, so the file name carries the full version.
    assert parse_cudnn_probe("lib /usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.4\n") == (
        "8.9.4",
        "/usr/lib/x86_64-linux-gnu/libcudnn.so.8.9.4",
    )
    assert parse_cudnn_probe("lib /usr/lib/x86_64-linux-gnu/libcudnn.so.8\n") == (
        "8",
        "/usr/lib/x86_64-linux-gnu/libcudnn.so.8",
    )
    assert parse_cudnn_probe("") is None


def _as_built(spec: ImageSpec) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """What a correctly built image reports: the pinned wheels installed, the spec's labels set."""
    installed: dict[str, str | None] = {w.dist: w.version for w in spec.nvidia_wheels}
    labels: dict[str, str | None] = dict(spec.labels)
    return installed, labels


def test_nvidia_wheels_agree_with_pins_tag_and_labels(pip_spec: ImageSpec) -> None:
    installed, labels = _as_built(pip_spec)
    assert compare_nvidia_wheels(pip_spec, installed, labels) == []
    assert labels[wheel_label("nvidia-cudnn-cu12")] == "8.9.4.25"
    assert labels[CUDA_LABEL] == "12.2"
    assert labels[CUDNN_LABEL] == "8.9"


def test_drifted_nvidia_wheels_are_named(pip_spec: ImageSpec) -> None:
    """What issue 10 saw on 2.21.0: pip installed CUDA 12.9 and cuDNN 9.28 under a 12.5/9.3 tag."""
    installed, labels = _as_built(pip_spec)
    installed["nvidia-cuda-runtime-cu12"] = "12.9.79"
    installed["nvidia-cudnn-cu12"] = "9.28.0.1"
    installed["nvidia-cuda-nvcc-cu12"] = None
    problems = compare_nvidia_wheels(pip_spec, installed, labels)
    assert "nvidia-cuda-runtime-cu12 is 12.9.79, pinned 12.2.140" in problems
    assert "nvidia-cuda-runtime-cu12 12.9.79 is CUDA 12.9, the tag says 12.2" in problems
    assert "nvidia-cudnn-cu12 9.28.0.1 is cuDNN 9.28, the tag says 8.9" in problems
    assert "nvidia-cuda-nvcc-cu12 is not installed (pinned 12.2.140)" in problems
    assert any(p.startswith("label io.tfimages.pip.nvidia-cudnn-cu12 says 8.9.4.25") for p in problems)


def test_labels_that_disagree_with_the_image_are_named(pip_spec: ImageSpec) -> None:
    installed, labels = _as_built(pip_spec)
    labels[wheel_label("nvidia-nccl-cu12")] = None
    labels[CUDNN_LABEL] = "8.6"
    problems = compare_nvidia_wheels(pip_spec, installed, labels)
    assert problems == [
        "label io.tfimages.pip.nvidia-nccl-cu12 says nothing, nvidia-nccl-cu12 is 2.16.5",
        "label io.tfimages.cudnn.version says 8.6, the tag says 8.9",
    ]


@pytest.mark.parametrize(
    ("line", "ok"),
    [
        ("root:*:19000:0:99999:7:::", True),
        ("root:!:19000:0:99999:7:::", True),
        ("root:!*:19000::::::", True),
        ("root::19000:0:99999:7:::", False),
        ("root:$6$salt$hash:19000:0:99999:7:::", False),
        ("daemon:*:19000::::::", False),
    ],
)
def test_root_password_field(line: str, ok: bool) -> None:
    assert root_password_locked(line)[0] is ok


def test_versions_must_match_the_tag(spec: ImageSpec) -> None:
    assert compare_versions(spec, {"python": "3.11.2", "tensorflow": "2.15.0", "numpy": "1.26.4"}) == []
    problems = compare_versions(spec, {"python": "3.10.12", "tensorflow": "2.15.1", "numpy": "2.0.1"})
    assert problems == [
        "Python is 3.10.12, the tag says 3.11",
        "TensorFlow is 2.15.1, the tag says 2.15.0",
        "numpy is 2.0.1, outside >=1.23.5,<2.0.0",
    ]
    assert "TensorFlow is not importable" in compare_versions(spec, {"python": "3.11.2", "numpy": "1.26.4"})


SSHD_T = """port 22
addressfamily any
permitrootlogin yes
pubkeyauthentication yes
passwordauthentication yes
permitemptypasswords no
"""


def test_sshd_effective_settings_rule() -> None:
    assert sshd_effective_problems(SSHD_T) == []
    # Debian's default (the drop-in lost) and a second port both fail.
    assert sshd_effective_problems(
        SSHD_T.replace("permitrootlogin yes", "permitrootlogin without-password")
    ) == ["permitrootlogin is without-password, expected yes"]
    assert sshd_effective_problems(SSHD_T + "port 2222\n") == ["port is 22 2222, expected 22"]


def _command_mode_output(spec: ImageSpec, **override: str) -> str:
    values = {
        "PATH": f"{spec.python_prefix}/bin:/usr/local/bin:/usr/bin:/bin",
        "LANG": contract.LOCALE,
        "LC_ALL": contract.LOCALE,
        "TZ": contract.TIMEZONE,
        "PYTHON_PREFIX": spec.python_prefix,
        "PYTHON": f"{spec.python_prefix}/bin/python",
        **override,
    }
    return "".join(f"TFCI_{k}={v}\n" for k, v in values.items())


def test_command_mode_rule(cpu_spec: ImageSpec) -> None:
    assert command_mode_problems(cpu_spec, _command_mode_output(cpu_spec)) == []
    # The case: sshd's bare PATH, no locale, no Python.
    bare = _command_mode_output(
        cpu_spec, PATH="/usr/local/bin:/usr/bin:/bin", LANG="", LC_ALL="", TZ="", PYTHON_PREFIX="", PYTHON=""
    )
    assert len(command_mode_problems(cpu_spec, bare)) == 6
    # A banner printed into the command's output breaks scp/rsync even when the values are right.
    noisy = "+------+\n" + _command_mode_output(cpu_spec)
    assert command_mode_problems(cpu_spec, noisy) == ["extra output (breaks scp/sftp/rsync): '+------+'"]

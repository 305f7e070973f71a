"""The pip layers: constraints, extra indexes, the TensorFlow layer's requirements, and the wheel
report lines."""

from __future__ import annotations

import dataclasses

from ci.build import execs as execs_mod
from ci.build import pip
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec
from ci.table.resolve import BuildRequest, resolve
from ci.table.rows import Table
from tests.unit.build.conftest import record


def test_pip_layers_use_constraints_and_apt_uses_no_recommends(
    cpu_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    execs = record(cpu_spec, ca_options).execs()
    pip_execs = [e for e in execs if " -m pip install " in e]
    assert len(pip_execs) == 2
    assert all('--constraint "$TFCI_CONSTRAINTS"' in e for e in pip_execs)
    env = [a for n, a, _ in record(cpu_spec, ca_options).calls if n == "with_env_variable"]
    assert env.count(("TFCI_CONSTRAINTS", pip.CONSTRAINTS)) == 2
    # Both resolve through the wheelhouse in the pip cache volume and install offline from it.
    assert all("pip wheel --wheel-dir" in e and "pip install --no-index" in e for e in pip_execs)
    apt = next(e for e in execs if "apt-get" in e)
    assert "--no-install-recommends" in apt
    assert "python3-venv" in apt
    assert "openssh-server" in apt


def test_gpu_pip_image_puts_nvcc_on_path(table: Table) -> None:
    spec = resolve(
        table,
        BuildRequest(
            tf="2.15.0",
            python="3.11",
            variant="gpu",
            cuda_source="pip",
            os="debian12",
            python_source="system",
        ),
    )
    assert spec.path.endswith("site-packages/nvidia/cuda_nvcc/bin")
    execs = record(spec, BuildOptions()).execs()
    tf_exec = next(e for e in execs if "tensorflow[and-cuda]==2.15.0" in e)
    # 2.15.0's extra pins TensorRT wheels only NVIDIA's index serves; only the TF layer uses it.
    assert tf_exec.startswith(
        f"bash -euo pipefail {execs_mod.BUILD_DIR}/pip-install.sh tensorflow[and-cuda]==2.15.0 "
    )
    assert "pip wheel --wheel-dir" in tf_exec
    assert '--extra-index-url "$index"' in tf_exec
    env = [a for n, a, _ in record(spec, BuildOptions()).calls if n == "with_env_variable"]
    assert [v for k, v in env if k == "TFCI_EXTRA_INDEXES"] == ["https://pypi.nvidia.com"]
    newer = resolve(table, dataclasses.replace(BuildRequest(tf="2.15.1", variant="gpu", cuda_source="pip")))
    assert newer.pip_extra_indexes == ()


def test_tensorflow_layer_names_tensorboard_and_every_constrained_package(table: Table) -> None:
    spec = resolve(table, BuildRequest(tf="2.15.0", python="3.11", variant="cpu", os="debian12"))
    assert pip.tensorflow_requirements(spec) == [
        spec.tensorflow_requirement,
        "tensorboard>=2.15,<2.16",
        "numpy",
    ]
    odd = dataclasses.replace(
        spec, constraints=("numpy<2", "protobuf [x] >=3; python_version<'4'", "numpy>1")
    )
    assert pip.tensorflow_requirements(odd)[2:] == ["numpy", "protobuf"]


def test_pip_report_lines_are_parsed() -> None:
    log = (
        "12 : | [tfci-pip] wheels: 37 reused, 2 new (1234 bytes)\n"
        "junk\n"
        "13 : | [tfci-pip] wheels: 0 reused, 40 new (99 bytes)\n"
    )
    assert pip.parse_pip_reports(log) == [(37, 2, 1234), (0, 40, 99)]

"""The images the e2e tests build, resolved from versions.yaml exactly as `ci build` would.

Why Debian 12 + system Python: the offline test stack mirrors only debian:bookworm and cannot reach
repo.anaconda.com, so the CPU and GPU test images use the base's Python 3.11 in a venv. TensorFlow
2.15.x is the seed guide's release; the GPU (pip CUDA) image uses 2.15.1 because
tensorflow[and-cuda]==2.15.0 pins tensorrt-libs==8.6.1, which PyPI does not serve. The CPU image is
built for linux/amd64 only (the table also builds 2.15.0 for arm64): one emulated build, the
multi-platform image below, is enough for the suite. That one is the newest release whose arm64
package is TensorFlow's own wheel (2.10-2.15 install AWS's tensorflow-cpu-aws there).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec, MinicondaInstaller
from ci.table.load import load_table
from ci.table.resolve import BuildRequest, resolve

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")  # holds the TLS-intercepting proxy's CA
CPU_REQUEST = BuildRequest(
    tf="2.15.0",
    python="3.11",
    variant="cpu",
    os="debian12",
    python_source="system",
    platforms=("linux/amd64",),
)
MULTI_REQUEST = BuildRequest(tf="2.21.0", python="3.11", variant="cpu", os="debian12", python_source="system")
GPU_REQUEST = BuildRequest(
    tf="2.15.1", python="3.11", variant="gpu", cuda_source="pip", os="debian12", python_source="system"
)
CPU_CLI_ARGS: tuple[str, ...] = ("--tf", "2.15.0", "--python", "3.11", "--variant", "cpu", "--os", "debian12")
CPU_CLI_ARGS += ("--python-source", "system", "--platform", "linux/amd64")
MULTI_CLI_ARGS: tuple[str, ...] = (
    "--tf",
    "2.21.0",
    "--python",
    "3.11",
    "--variant",
    "cpu",
    "--os",
    "debian12",
)
MULTI_CLI_ARGS += ("--python-source", "system")


def cpu_spec() -> ImageSpec:
    return resolve(load_table(), CPU_REQUEST)


def multi_spec() -> ImageSpec:
    return resolve(load_table(), MULTI_REQUEST)


def gpu_spec() -> ImageSpec:
    return resolve(load_table(), GPU_REQUEST)


def miniconda_spec() -> ImageSpec:
    """The CPU spec switched to Miniconda with the table's pinned py311 installer."""
    row = load_table().pythons["3.11"].miniconda
    assert row is not None
    return dataclasses.replace(
        cpu_spec(),
        python_source="miniconda",
        python_prefix="/root/miniconda3",
        miniconda=MinicondaInstaller(row.filename, row.sha256),
    )


def options(**overrides: object) -> BuildOptions:
    return BuildOptions(**{"ca_bundle": HOST_CA, **overrides})  # type: ignore[arg-type]

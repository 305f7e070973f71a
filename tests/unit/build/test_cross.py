"""An emulated platform's Python layers: native tools, the same requirements, nothing left behind.

Recorded on the fake container (conftest.py): which script each pip layer runs, with which
requirements and mounts, per platform and engine."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ci.build import cross, execs
from ci.build.layers import Layers
from ci.build.options import BuildOptions
from ci.model.errors import UserError
from ci.model.spec import ImageSpec
from ci.table.resolve import resolve
from ci.table.rows import Table
from tests.e2e.specs import MULTI_REQUEST
from tests.unit.build.conftest import Recorder


def record_on(spec: ImageSpec, options: BuildOptions, engine: str | None) -> Recorder:
    rec = Recorder()
    ctr: Any = rec
    for _name, layer in Layers(options, engine_platform=engine).ordered():
        ctr = layer(ctr, spec)
    return rec


def pip_layers(rec: Recorder) -> list[str]:
    scripts = ("pip-install.sh", "cross-install.sh")
    return [
        e.splitlines()[0]
        for e in rec.execs()
        if e.splitlines()[0].endswith(scripts) or any(f"/{s} " in e.splitlines()[0] for s in scripts)
    ]


def test_the_engines_own_platform_installs_with_pip(multi_spec: ImageSpec, ca_options: BuildOptions) -> None:
    layers = pip_layers(record_on(multi_spec.on("linux/amd64"), ca_options, "linux/amd64"))
    assert [line.split()[3] for line in layers] == [f"{execs.BUILD_DIR}/pip-install.sh"] * 2
    arm64_native = pip_layers(record_on(multi_spec.on("linux/arm64"), ca_options, "linux/arm64"))
    assert [line.split()[3] for line in arm64_native] == [f"{execs.BUILD_DIR}/pip-install.sh"] * 2
    assert "tensorflow==2.21.0" in arm64_native[1]  # the arm64 package, natively (a workflow runner)


def test_an_emulated_platform_installs_the_same_requirements_with_native_tools(
    multi_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    arm64 = multi_spec.on("linux/arm64")
    rec = record_on(arm64, ca_options, "linux/amd64")
    jupyter, tensorflow = pip_layers(rec)
    assert jupyter.split()[3:] == [f"{execs.BUILD_DIR}/cross-install.sh", *arm64.jupyter_requirements]
    assert "tensorflow==2.21.0 tensorboard~=2.21.0 numpy" in tensorflow
    env = [(a[0], a[1]) for n, a, _ in rec.calls if n == "with_env_variable"]
    assert ("TFCI_NATIVE_LOADER", f"{cross.NATIVE_ROOT}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2") in env
    assert ("TFCI_NATIVE_PYTHON", f"{cross.NATIVE_ROOT}/usr/bin/python3.11") in env
    assert ("TFCI_PYTHON", "/opt/python/bin/python") in env
    mounted = [a[0] for n, a, _ in rec.calls if n in ("with_mounted_directory", "with_mounted_file")]
    assert mounted.count(cross.NATIVE_ROOT) == 2
    assert mounted.count(cross.UV) == 2
    # Every build-only mount and variable is gone again once a layer is done.
    removed = [a[0] for n, a, _ in rec.calls if n == "without_mount"]
    assert removed.count(cross.NATIVE_ROOT) == removed.count(cross.UV) == 2
    assert removed.count(cross.UV_CACHE) == 2
    names = {name for name, _ in env if name.startswith(("TFCI_", "UV_"))}
    assert {"UV_CACHE_DIR", "UV_LINK_MODE", "TFCI_UV", "TFCI_COMPILE"} <= names
    unset = {a[0] for n, a, _ in rec.calls if n == "without_env_variable"}
    assert names <= unset


def test_the_native_python_of_a_miniconda_image_is_its_own_prefix(
    table: Table, multi_spec: ImageSpec
) -> None:
    request = dataclasses.replace(MULTI_REQUEST, python_source="miniconda")
    conda = resolve(table, request).on("linux/arm64")
    host = conda.host("linux/amd64")
    assert host is not None
    assert host.miniconda is not None
    assert host.miniconda.filename.endswith("-Linux-x86_64.sh")  # the engine's own installer
    assert cross.native_spec(conda, "linux/amd64").miniconda == host.miniconda
    env = dict(cross.native_python(conda, "linux/amd64"))
    assert env["TFCI_NATIVE_PYTHON"] == f"{cross.NATIVE_ROOT}/root/miniconda3/bin/python3.11"
    assert env["TFCI_NATIVE_HOME"] == f"{cross.NATIVE_ROOT}/root/miniconda3"
    assert env["TFCI_NATIVE_LIBS"].startswith(f"{cross.NATIVE_ROOT}/root/miniconda3/lib:")
    on_arm_engine = dict(cross.native_python(multi_spec.on("linux/amd64"), "linux/arm64"))
    assert on_arm_engine["TFCI_NATIVE_LOADER"].endswith("/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1")


def test_an_engine_platform_the_table_does_not_know_is_refused(multi_spec: ImageSpec) -> None:
    with pytest.raises(
        UserError, match=r"the engine runs on linux/s390x, which versions\.yaml compat\.platforms"
    ):
        cross.native_python(multi_spec.on("linux/arm64"), "linux/s390x")
    assert cross.emulated(multi_spec.on("linux/arm64"), "linux/amd64")
    assert not cross.emulated(multi_spec.on("linux/arm64"), None)

"""An emulated platform's Python layers: native tools, the same requirements, nothing left behind.

Recorded on the fake container (conftest.py): which script each pip layer runs, with which
requirements and mounts, per platform and engine."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ci.build import cross, execs, pip
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
    scripts = ("uv-install.sh", "cross-install.sh")
    return [
        e.splitlines()[0]
        for e in rec.execs()
        if e.splitlines()[0].endswith(scripts) or any(f"/{s} " in e.splitlines()[0] for s in scripts)
    ]


def test_the_engines_own_platform_installs_with_pip(multi_spec: ImageSpec, ca_options: BuildOptions) -> None:
    layers = pip_layers(record_on(multi_spec.on("linux/amd64"), ca_options, "linux/amd64"))
    assert [line.split()[3] for line in layers] == [f"{execs.BUILD_DIR}/uv-install.sh"] * 2
    arm64_native = pip_layers(record_on(multi_spec.on("linux/arm64"), ca_options, "linux/arm64"))
    assert [line.split()[3] for line in arm64_native] == [f"{execs.BUILD_DIR}/uv-install.sh"] * 2
    assert "tensorflow==2.21.0" in arm64_native[1]  # the arm64 package, natively (a workflow runner)


def test_an_emulated_platform_installs_the_same_requirements_with_native_tools(
    multi_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    arm64 = multi_spec.on("linux/arm64")
    rec = record_on(arm64, ca_options, "linux/amd64")
    jupyter, tensorflow = pip_layers(rec)
    assert jupyter.split()[3:] == [f"{execs.BUILD_DIR}/cross-install.sh", *arm64.jupyter_requirements]
    assert "tensorflow==2.21.0 tensorboard~=2.21.0 numpy" in tensorflow
    runs = [
        (env, mounts)
        for text, (env, mounts) in zip(rec.execs(), rec.exec_inputs(), strict=True)
        if "cross-install.sh" in text.splitlines()[0]
    ]
    assert len(runs) == 2
    for env, mounts in runs:
        assert (
            env["TFCI_NATIVE_LOADER"] == f"{cross.NATIVE_ROOT}/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
        )
        assert env["TFCI_NATIVE_PYTHON"] == f"{cross.NATIVE_ROOT}/usr/bin/python3.11"
        assert env["TFCI_PYTHON"] == "/opt/python/bin/python"
        # uv as the native layers run it: the pinned binary (the engine's), uv.toml, the cache volume
        assert env["TFCI_UV"] == pip.UV_BINARY
        assert env["UV_CONFIG_FILE"] == pip.UV_CONFIG
        assert env["UV_CACHE_DIR"] == pip.UV_CACHE_DIR
        assert {pip.UV_BINARY, pip.UV_CONFIG, cross.NATIVE_ROOT, cross.UV_CACHE} <= set(mounts)
    # The native root and the uv cache are gone again once a layer is done.
    removed = [a[0] for n, a, _ in rec.calls if n == "without_mount"]
    assert removed.count(cross.NATIVE_ROOT) == removed.count(cross.UV_CACHE) == 2


def test_an_emulated_platform_runs_the_engines_uv_and_a_native_one_its_own(
    multi_spec: ImageSpec, ca_options: BuildOptions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tools.uv has one wheel per platform; the binary is the one of the machine that runs it."""
    from ci.build import installer

    asked: list[str] = []

    def binary(pin: object, ca_bundle: object = None, *, platform: str = installer.PLATFORM) -> Path:
        asked.append(platform)
        return Path("/nonexistent/uv")

    monkeypatch.setattr(installer, "binary", binary)
    record_on(multi_spec.on("linux/arm64"), ca_options, "linux/amd64")
    assert set(asked) == {"linux/amd64"}  # emulated arm64 on an amd64 engine: amd64's uv
    asked.clear()
    record_on(multi_spec.on("linux/arm64"), ca_options, "linux/arm64")
    assert set(asked) == {"linux/arm64"}  # natively on an arm64 runner: arm64's uv


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

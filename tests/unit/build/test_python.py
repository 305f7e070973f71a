"""The interpreter layer: a Miniconda installer runs only when its sha256 is verified, and a refused
spec never reaches the engine."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from ci.build.layers import Layers, build_image
from ci.build.options import BuildOptions
from ci.build.python import BuildRefused
from ci.model.spec import ImageSpec, MinicondaInstaller
from tests.unit.build.conftest import Recorder


def _miniconda_spec(cpu_spec: ImageSpec, sha256: str) -> ImageSpec:
    return dataclasses.replace(
        cpu_spec,
        python_source="miniconda",
        python_prefix="/root/miniconda3",
        miniconda=MinicondaInstaller("Miniconda3-py311_24.1.2-0-Linux-x86_64.sh", sha256),
    )


def test_miniconda_refusals(cpu_spec: ImageSpec, tmp_path: Path) -> None:
    no_installer = dataclasses.replace(cpu_spec, python_source="miniconda", miniconda=None)
    with pytest.raises(BuildRefused, match="names no installer"):
        build_image(no_installer, BuildOptions())
    with pytest.raises(BuildRefused, match="no verified sha256"):
        build_image(_miniconda_spec(cpu_spec, ""), BuildOptions())
    installer = tmp_path / "miniconda.sh"
    installer.write_text("#!/bin/sh\ntouch /tmp/ran\n")
    good = hashlib.sha256(installer.read_bytes()).hexdigest()
    with pytest.raises(BuildRefused, match="does not match"):
        build_image(_miniconda_spec(cpu_spec, "0" * 64), BuildOptions(miniconda_file=installer))
    # The matching file passes the early check, and the layer still runs sha256sum -c before bash.
    rec = Recorder()
    Layers(BuildOptions(miniconda_file=installer)).python(rec, _miniconda_spec(cpu_spec, good))  # type: ignore[arg-type]
    script = rec.execs()[0]
    filename = "Miniconda3-py311_24.1.2-0-Linux-x86_64.sh"
    assert script.split("\n", 1)[0].endswith(f"miniconda.sh {filename} {good} /root/miniconda3 3.11")
    assert script.index("sha256sum -c") < script.index('bash /tmp/miniconda.sh -b -p "$prefix"')
    env = [a for n, a, _ in rec.calls if n == "with_env_variable"]
    assert ("CONDA_PLUGINS_AUTO_ACCEPT_TOS", "yes") in env


def test_miniconda_download_is_cached_outside_the_layer_and_always_verified(cpu_spec: ImageSpec) -> None:
    rec = Recorder()
    spec = _miniconda_spec(cpu_spec, "a" * 64)
    options = BuildOptions(miniconda_base_url="https://mirror.example/miniconda")
    Layers(options).python(rec, spec)  # type: ignore[arg-type]
    script = rec.execs()[0]
    url = "https://mirror.example/miniconda/Miniconda3-py311_24.1.2-0-Linux-x86_64.sh"
    env = [a for n, a, _ in rec.calls if n == "with_env_variable"]
    assert ("TFCI_MINICONDA_URL", url) in env
    assert ("TFCI_MINICONDA_CACHE", "/var/cache/tfci-miniconda") in env
    assert '"$TFCI_MINICONDA_URL"' in script
    # the cached copy is reused only if its sha256 matches; the copy that runs is checked again
    assert (
        script.index("sha256sum -c") < script.index("curl") < script.index('cp "$cached" /tmp/miniconda.sh')
    )
    assert script.rindex("sha256sum -c") < script.index("bash /tmp/miniconda.sh")
    names = rec.names()
    assert names.index("with_mounted_cache") < names.index("with_exec") < names.index("without_mount")
    assert ("without_mount", ("/var/cache/tfci-miniconda",), {}) in rec.calls


def test_spec_refusals_stop_the_build(cpu_spec: ImageSpec) -> None:
    refused = dataclasses.replace(cpu_spec, refusals=("installer sha256 is not from a primary source",))
    with pytest.raises(BuildRefused, match="primary source"):
        build_image(refused, BuildOptions())

"""The pip layers' installer (uv): what each exec gets (uv mounted, its cache volume, constraints,
indexes without credentials), the TensorFlow layer's requirements, and uv's report lines."""

from __future__ import annotations

import dataclasses

import tomllib

from ci.build import execs as execs_mod
from ci.build import pip
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec
from ci.table.resolve import BuildRequest, resolve
from ci.table.rows import Table
from tests.unit.build.conftest import record


def _uv_execs(spec: ImageSpec, options: BuildOptions) -> list[tuple[str, dict[str, str], dict[str, object]]]:
    rec = record(spec, options)
    return [
        (text, env, mounts)
        for text, (env, mounts) in zip(rec.execs(), rec.exec_inputs(), strict=True)
        if "uv-install.sh" in text.splitlines()[0]
    ]


def test_pip_layers_run_uv_from_the_build_mount_with_its_cache_volume(
    cpu_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    jupyter, tensorflow = _uv_execs(cpu_spec, ca_options)
    for text, env, mounts in (jupyter, tensorflow):
        assert text.startswith(f"bash -euo pipefail {execs_mod.BUILD_DIR}/uv-install.sh ")
        assert '"$TFCI_UV" "${args[@]}" "$@"' in text  # the script: uv pip install, requirements as args
        assert env["TFCI_UV"] == pip.UV_BINARY
        assert pip.UV_BINARY in mounts
        assert env["TFCI_PYTHON"] == cpu_spec.python
        assert env["UV_CACHE_DIR"].startswith(pip.UV_MOUNT + "/")
        assert pip.UV_MOUNT in mounts
        assert env["UV_LINK_MODE"] == "copy"  # the volume is another mount: no hardlinks into the image
        assert env["UV_COMPILE_BYTECODE"] == "1"  # pip compiles while installing; so must uv
        assert env["SSL_CERT_FILE"] == execs_mod.BUILD_CA  # uv trusts the build CA instead of its roots
        assert env["UV_CONFIG_FILE"] == pip.UV_CONFIG
        assert pip.UV_CONFIG in mounts
        assert "UV_INDEX_STRATEGY" not in env  # PyPI alone
        assert not {k for k in env if k.startswith("PIP_") and k != "PIP_CERT"}  # uv ignores them anyway
    # Only the TensorFlow layer has constraints (uv warns about an empty file).
    assert "TFCI_CONSTRAINTS" not in jupyter[1]
    assert pip.CONSTRAINTS not in jupyter[2]
    assert tensorflow[1]["TFCI_CONSTRAINTS"] == pip.CONSTRAINTS
    assert pip.CONSTRAINTS in tensorflow[2]
    assert "tensorflow-cpu==2.15.0" in tensorflow[0].splitlines()[0]


def test_apt_uses_no_recommends_and_installs_the_system_python(
    cpu_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    apt = next(e for e in record(cpu_spec, ca_options).execs() if "apt-get" in e)
    assert "--no-install-recommends" in apt
    assert "python3-venv" in apt
    assert "openssh-server" in apt


def test_python_36_is_compiled_by_compileall(cpu_spec: ImageSpec) -> None:
    """uv's bytecode compiler needs Python 3.7+: the 3.6 rows compile with compileall after uv."""
    old = dataclasses.replace(cpu_spec, python_version="3.6")
    assert not pip.compiles_bytecode(old)
    assert pip.compiles_bytecode(cpu_spec)
    for text, env, _ in _uv_execs(old, BuildOptions()):
        assert "UV_COMPILE_BYTECODE" not in env
        assert env["TFCI_COMPILEALL"] == old.site_packages
        assert '-m compileall -q "$TFCI_COMPILEALL"' in text


def test_gpu_pip_image_puts_nvcc_on_path_and_pools_the_extra_index(table: Table) -> None:
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
    jupyter, tensorflow = _uv_execs(spec, BuildOptions())
    assert tensorflow[0].startswith(
        f"bash -euo pipefail {execs_mod.BUILD_DIR}/uv-install.sh tensorflow[and-cuda]==2.15.0 "
    )
    # 2.15.0's extra pins TensorRT wheels only NVIDIA's index serves; only the TF layer uses it, and
    # like pip it takes the best version from any index (uv's default would stop at the first).
    assert tensorflow[1]["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    assert "UV_INDEX_STRATEGY" not in jupyter[1]
    text, _ = pip.uv_config(None, spec.pip_extra_indexes)
    assert [i["url"] for i in tomllib.loads(text)["index"]] == ["https://pypi.nvidia.com", pip.PYPI]
    newer = resolve(table, dataclasses.replace(BuildRequest(tf="2.15.1", variant="gpu", cuda_source="pip")))
    assert newer.pip_extra_indexes == ()


def test_uv_config_lists_the_indexes_without_credentials() -> None:
    """Mirror URLs go into uv.toml (a mounted file: its content is in the cache key, and readable
    in the engine) without user or password; those reach uv as UV_INDEX_<NAME>_* secrets."""
    text, credentials = pip.uv_config(
        "https://ci:t0ken@mirror.example:8443/pypi/simple", ["https://extra.example/simple"]
    )
    assert "t0ken" not in text
    assert "ci@" not in text
    assert "ci:" not in text
    indexes = tomllib.loads(text)["index"]
    assert [(i["name"], i["url"], i.get("default", False)) for i in indexes] == [
        ("extra1", "https://extra.example/simple", False),
        ("default", "https://mirror.example:8443/pypi/simple", True),
    ]
    # files on an index are immutable; index pages keep the server's caching (fresh resolution)
    assert all(i["cache-control"] == {"files": pip.FILES_CACHE_CONTROL} for i in indexes)
    assert credentials == [("UV_INDEX_DEFAULT_USERNAME", "ci"), ("UV_INDEX_DEFAULT_PASSWORD", "t0ken")]
    plain, none = pip.uv_config(None, [])
    assert tomllib.loads(plain)["index"] == [
        {
            "name": "default",
            "url": pip.PYPI,
            "default": True,
            "cache-control": {"files": pip.FILES_CACHE_CONTROL},
        }
    ]
    assert none == []


def test_mirror_credentials_reach_uv_only_as_secrets(cpu_spec: ImageSpec) -> None:
    options = BuildOptions(
        pip_index_url="https://ci:t0ken@pypi.example/simple",
        pip_extra_index_url="https://extra.example/simple",
    )
    rec = record(cpu_spec, options)
    secrets = {args[0]: args[1] for name, args, _ in rec.calls if name == "with_secret_variable"}
    assert {"UV_INDEX_DEFAULT_USERNAME", "UV_INDEX_DEFAULT_PASSWORD"} <= set(secrets)
    plain = [call for call in rec.calls if call[0] != "with_secret_variable"]
    assert "t0ken" not in repr(plain)
    _, tensorflow = _uv_execs(cpu_spec, options)
    assert tensorflow[1]["UV_INDEX_STRATEGY"] == "unsafe-best-match"  # --pip-extra-index-url pools too


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


def test_uv_report_lines_are_parsed() -> None:
    cold = (
        "145 : ┆ [0.9s] | Using Python 3.11.2 environment at: /opt/python\n"
        "145 : ┆ [1.8s] | Resolved 92 packages in 880ms\n"
        "145 : ┆ [6.0s] | Prepared 91 packages in 3.99s\n"
        "145 : ┆ [13.2s] | Installed 91 packages in 11.44s\n"
        "145 : ┆ [28.3s] | Bytecode compiled 2520 files in 15.10s\n"
    )
    assert pip.parse_uv_output(cold) == pip.UvCounts(resolved=92, prepared=91, installed=91)
    # everything from the cache: uv prints no "Prepared" line
    warm = "Resolved 42 packages in 968ms\nInstalled 1 package in 5.74s\n"
    assert pip.parse_uv_output(warm) == pip.UvCounts(resolved=42, prepared=0, installed=1)
    assert pip.parse_uv_output("nothing") == pip.UvCounts()
    assert pip.parse_uv_output(cold + warm) == pip.UvCounts(resolved=134, prepared=91, installed=92)

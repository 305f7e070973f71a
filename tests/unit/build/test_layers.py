"""The layer functions in order: what changes often comes last, and each layer does what its
inputs say (recorded on a fake Container, see conftest.py)."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest

from ci.build import execs, pip, trees
from ci.build.layers import LAYER_ORDER, SYSTEM_TREE, Layers
from ci.build.options import BuildOptions
from ci.model import contract
from ci.model.paths import CONTEXT_DIR
from ci.model.spec import ImageSpec
from ci.table.resolve import BuildRequest, resolve
from ci.table.rows import Table
from tests.unit.build.conftest import HOST_CA, Recorder, record


def test_layer_order_puts_what_changes_often_last() -> None:
    order = list(LAYER_ORDER)
    assert order[0] == "base"
    assert order[-2:] == ["runtime_files", "metadata"]
    assert order.index("os_packages") < order.index("python") < order.index("jupyter")
    assert order.index("jupyter") < order.index("tensorflow") < order.index("runtime_files")
    assert order.index("timezone") < order.index("locale") < order.index("sshd") < order.index("python")


def test_context_is_copied_after_tensorflow_is_installed(
    cpu_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    rec = record(cpu_spec, ca_options)
    names = rec.names()
    tf_exec = next(
        i
        for i, (n, a, _) in enumerate(rec.calls)
        if n == "with_exec" and cpu_spec.tensorflow_requirement in a[0]
    )
    python_exec = next(
        i for i, (n, a, _) in enumerate(rec.calls) if n == "with_exec" and "venv" in " ".join(a[0])
    )
    system = next(i for i, (n, a, _) in enumerate(rec.calls) if n == "with_mounted_directory")
    copies = [i for i, (n, a, _) in enumerate(rec.calls) if n == "with_directory" and a[0] == "/"]
    assert len(copies) == 1, "runtime_files (all of context/); system_files copies in its exec"
    context_copy = copies[-1]
    assert python_exec < tf_exec < system < context_copy
    # Nothing after the last context copy runs anything: it is one file operation, then metadata.
    assert not [a for n, a, _ in rec.calls[context_copy:] if n == "with_exec"]
    assert names[-1] == "with_default_args"


def test_without_ca_nothing_is_mounted_and_bake_ca_bakes(cpu_spec: ImageSpec) -> None:
    plain = record(cpu_spec, BuildOptions())
    assert not [a for n, a, _ in plain.calls if n == "with_mounted_file" and a[0] == execs.BUILD_CA]
    assert not any("update-ca-certificates" in e for e in plain.execs())
    baked = record(cpu_spec, BuildOptions(ca_bundle=HOST_CA, bake_ca=True))
    assert any("update-ca-certificates" in e for e in baked.execs())
    final_env = {a[0] for n, a, _ in baked.calls[-30:] if n == "with_env_variable"}
    assert "SSL_CERT_FILE" in final_env


def test_base_uses_the_pinned_digest(cpu_spec: ImageSpec) -> None:
    pinned = dataclasses.replace(cpu_spec, base_digest="sha256:" + "a" * 64)
    rec = Recorder()
    Layers(BuildOptions()).base(rec, pinned)  # type: ignore[arg-type]
    assert rec.calls[0] == ("from_", ("debian:bookworm@sha256:" + "a" * 64,), {})


def test_system_files_copy_their_tree_and_install_in_one_exec_then_runtime_files_copy(
    cpu_spec: ImageSpec,
) -> None:
    """contract.env comes from ci/model/contract.py (not a copy in context/) inside the system tree;
    one exec copies that tree (mounted for it) and runs `init.py --build`: no `with_new_file` or
    `with_directory` on the image there (in Dagger v0.19.10 both are engine-side operations on the
    root file system that a fresh engine restoring from a registry cache must unpack and hash
    first). runtime_files is a copy alone."""
    rec = record(cpu_spec, BuildOptions())
    assert not [a for n, a, _ in rec.calls if n == "with_new_file"]
    system = trees.runtime_tree(
        CONTEXT_DIR,
        only=trees.SYSTEM_CONTEXT,
        generated={contract.CONTRACT_ENV_FILE: contract.contract_env_file(cpu_spec.python_prefix)},
    )
    copied = system / contract.CONTRACT_ENV_FILE.lstrip("/")
    assert copied.read_text() == contract.contract_env_file(cpu_spec.python_prefix)
    assert copied.stat().st_mode & 0o777 == 0o644
    tf_exec = next(
        i
        for i, (n, a, _) in enumerate(rec.calls)
        if n == "with_exec" and cpu_spec.tensorflow_requirement in a[0]
    )
    _, mounts = next((e, m) for e, m in rec._shared["execs"] if SYSTEM_TREE in m)
    assert mounts.keys() == {SYSTEM_TREE, f"{execs.BUILD_DIR}/system-files.sh"}, "no CA, nothing else"
    install = next(i for i, (n, a, _) in enumerate(rec.calls) if n == "with_exec" and i > tf_exec)
    assert rec.calls[install][1][0] == [
        "bash",
        "-euo",
        "pipefail",
        f"{execs.BUILD_DIR}/system-files.sh",
        SYSTEM_TREE,
        f"{cpu_spec.python_prefix}/bin/python",
        "/init",
    ]
    copies = [i for i, (n, a, _) in enumerate(rec.calls) if n == "with_directory" and a[0] == "/"]
    assert tf_exec < install < copies[0]
    assert rec.calls[copies[0]][2] == {"owner": "0:0"}


def test_sshd_layer_leaves_the_configuration_to_the_version_aware_generator(cpu_spec: ImageSpec) -> None:
    """An `Include` written here would break OpenSSH 7.6 (Ubuntu 18.04): sshd -t fails."""
    rec = Recorder()
    Layers(BuildOptions()).sshd(rec, cpu_spec)  # type: ignore[arg-type]
    script = rec.execs()[0]
    assert "Include" not in script
    assert "sshd_config" not in script
    assert "rm -f /etc/ssh/ssh_host_*" in script


def test_metadata_comes_from_the_contract(cpu_spec: ImageSpec) -> None:
    rec = Recorder()
    Layers(BuildOptions()).metadata(rec, cpu_spec)  # type: ignore[arg-type]
    env = dict(a for n, a, _ in rec.calls if n == "with_env_variable")
    assert dict(contract.locale_env()).items() <= env.items()
    ports = [(a[0], k["description"]) for n, a, k in rec.calls if n == "with_exposed_port"]
    assert ports == [(s.port, s.description) for s in contract.SERVICES]
    assert ("with_workdir", (contract.WORKDIR,), {}) in rec.calls
    assert rec.calls[-1] == ("with_default_args", (["bash", contract.BOOT_SCRIPT],), {})


def test_jupyter_layer_depends_on_the_python_only(table: Table, monkeypatch: pytest.MonkeyPatch) -> None:
    """Images of one Python share the Jupyter layer across TensorFlow releases: its exec and its
    mounted constraints are identical, while the TensorFlow layers differ."""
    mounted: list[str] = []
    real = pip.constraints_text

    def recording(lines: Any) -> str:
        mounted.append(real(lines))
        return mounted[-1]

    monkeypatch.setattr(pip, "constraints_text", recording)
    jupyter: list[tuple[str, str]] = []
    tensorflow: list[tuple[str, str]] = []
    for tf in ("2.14.1", "2.15.0", "2.16.2"):
        spec = resolve(table, BuildRequest(tf=tf, python="3.11", variant="cpu", os="debian12"))
        lay = Layers(BuildOptions(ca_bundle=HOST_CA))
        for layer, seen in ((lay.jupyter, jupyter), (lay.tensorflow, tensorflow)):
            rec = Recorder()
            layer(cast(Any, rec), spec)
            seen.append((rec.execs()[-1], mounted.pop() if mounted else ""))
    assert jupyter[0] == jupyter[1] == jupyter[2]
    assert jupyter[0][1] == "", "no TensorFlow constraint may reach the Jupyter layer"
    assert "tensorboard" not in jupyter[0][0]
    assert len({tf_exec for tf_exec, _ in tensorflow}) == 3
    assert tensorflow[1][1] == "numpy>=1.23.5,<2.0.0\n"

"""Layer order and build-only inputs, checked without an engine.

Why a recording fake container: the layer functions only chain calls on a Container; recording
those calls shows the order of execs (TensorFlow before context/), and that every build-only mount
and environment variable is removed again, without building anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest

from ci.build import apt, execs, pip, trees
from ci.build import execs as execs_mod
from ci.build.execs import CA_ENV_VARS
from ci.build.layers import LAYER_ORDER, Layers, build_image
from ci.build.options import BuildOptions
from ci.build.python import BuildRefused
from ci.model import contract
from ci.model.paths import CONTEXT_DIR
from ci.model.spec import ImageSpec, MinicondaInstaller
from ci.scripts import script_text
from ci.table.resolve import BuildRequest, resolve
from ci.table.rows import Table

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


class Recorder:
    """Stands in for dagger.Container: every method call is logged and returns the recorder."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def method(*args: Any, **kwargs: Any) -> Recorder:
            self.calls.append((name, args, kwargs))
            return self

        return method

    def names(self) -> list[str]:
        return [name for name, _, _ in self.calls]

    def execs(self) -> list[str]:
        """Each exec's argv; a ci/scripts file it runs (mounted under BUILD_DIR) follows its argv."""
        out = []
        for name, args, _ in self.calls:
            if name != "with_exec":
                continue
            argv: list[str] = args[0]
            text = " ".join(argv)
            scripts = [a for a in argv if a.startswith(f"{execs.BUILD_DIR}/") and a.endswith(".sh")]
            if scripts:
                text += "\n" + script_text(scripts[0].rsplit("/", 1)[1])
            out.append(text)
        return out


@pytest.fixture
def ca_options() -> BuildOptions:
    return BuildOptions(ca_bundle=HOST_CA)


def record(spec: ImageSpec, options: BuildOptions) -> Recorder:
    rec = Recorder()
    ctr: Any = rec
    for _name, layer in Layers(options).ordered():
        ctr = layer(ctr, spec)
    return rec


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
    copies = [i for i, (n, a, _) in enumerate(rec.calls) if n == "with_directory" and a[0] == "/"]
    assert len(copies) == 2, "system_files (init/, profile.d/, ssh/) and runtime_files (all of context/)"
    context_copy = copies[-1]
    assert python_exec < tf_exec < copies[0] < context_copy
    # Nothing after the last context copy runs anything: it is one file operation, then metadata.
    assert not [a for n, a, _ in rec.calls[context_copy:] if n == "with_exec"]
    assert names[-1] == "with_default_args"


def test_context_files_skip_dot_files_and_bytecode(tmp_path: Path) -> None:
    (tmp_path / "boot" / "__pycache__").mkdir(parents=True)
    (tmp_path / "boot" / "boot.sh").write_text("#!/bin/sh\n")
    (tmp_path / "boot" / "__pycache__" / "x.pyc").write_bytes(b"")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("")
    (tmp_path / "a.pyc").write_bytes(b"")
    (tmp_path / ".hidden").write_text("")
    (tmp_path / "README.md").write_text("")
    assert trees.context_files(tmp_path) == ["README.md", "boot/boot.sh"]
    repo_files = trees.context_files(CONTEXT_DIR)
    assert "boot/boot.sh" in repo_files
    assert "profile.d/tfimage.sh" in repo_files


def test_build_ca_is_removed_after_every_exec_that_uses_it(
    cpu_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    rec = record(cpu_spec, ca_options)
    env: set[str] = set()
    mounts: set[str] = set()
    for name, args, _ in rec.calls:
        if name == "with_env_variable":
            env.add(args[0])
        elif name == "without_env_variable":
            env.discard(args[0])
        elif name in ("with_mounted_file", "with_mounted_cache"):
            mounts.add(args[0])
        elif name == "without_mount":
            mounts.discard(args[0])
    assert mounts == set(), "a build-only mount stays in the final container"
    assert not env & set(CA_ENV_VARS), "a CA variable stays in the image config"
    assert {"PYTHON_PREFIX", "PATH", "LANG", "LC_ALL", "TZ", "SHELL"} <= env
    ca_mounts = [a for n, a, _ in rec.calls if n == "with_mounted_file" and a[0] == execs.BUILD_CA]
    assert len(ca_mounts) >= 3  # apt, jupyter, tensorflow all trust it


def test_without_ca_nothing_is_mounted_and_bake_ca_bakes(cpu_spec: ImageSpec) -> None:
    plain = record(cpu_spec, BuildOptions())
    assert not [a for n, a, _ in plain.calls if n == "with_mounted_file" and a[0] == execs.BUILD_CA]
    assert not any("update-ca-certificates" in e for e in plain.execs())
    baked = record(cpu_spec, BuildOptions(ca_bundle=HOST_CA, bake_ca=True))
    assert any("update-ca-certificates" in e for e in baked.execs())
    final_env = {a[0] for n, a, _ in baked.calls[-30:] if n == "with_env_variable"}
    assert "SSL_CERT_FILE" in final_env


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


def test_base_uses_the_pinned_digest(cpu_spec: ImageSpec) -> None:
    pinned = dataclasses.replace(cpu_spec, base_digest="sha256:" + "a" * 64)
    rec = Recorder()
    Layers(BuildOptions()).base(rec, pinned)  # type: ignore[arg-type]
    assert rec.calls[0] == ("from_", ("debian:bookworm@sha256:" + "a" * 64,), {})


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


DEBIAN_SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""
UBUNTU_LIST = """deb http://archive.ubuntu.com/ubuntu/ jammy main restricted
deb http://security.ubuntu.com/ubuntu/ jammy-security main restricted
"""


@pytest.mark.parametrize(
    "mirror", ["http://mirror.example/m", "https://ci:t0k&n#1@mirror.example/m"], ids=["plain", "credentials"]
)
def test_apt_mirror_rewrites_debian_and_ubuntu_sources_and_restores_them(tmp_path: Path, mirror: str) -> None:
    etc = tmp_path / "etc" / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(DEBIAN_SOURCES)
    (etc / "sources.list").write_text(UBUNTU_LIST)
    script = script_text("apt-install.sh")
    assert mirror not in script, "the mirror URL must reach apt through the environment, not argv"
    # Run the real script against a copy of /etc/apt, apt-get replaced by a look at the sources.
    script = script.replace("/etc/apt", str(etc)).replace("/tmp/tfci-", str(tmp_path / "tfci-"))
    script = script.replace(
        '"${apt[@]}" update', f"cat {etc}/sources.list.d/debian.sources {etc}/sources.list"
    )
    script = script.replace('"${apt[@]}" install -y --no-install-recommends "$@"', ":")
    during = subprocess.run(
        ["bash", "-c", script, "apt-install.sh", "curl"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, apt.APT_MIRROR_ENV: mirror},
    ).stdout
    assert f"URIs: {mirror}/debian\n" in during
    assert f"URIs: {mirror}/debian-security\n" in during
    assert f"deb {mirror}/ubuntu/ jammy main" in during
    assert f"deb {mirror}/ubuntu/ jammy-security main" in during
    assert "deb.debian.org" not in during
    # Restored afterwards: the image keeps the distribution's own sources.
    assert (etc / "sources.list.d" / "debian.sources").read_text() == DEBIAN_SOURCES
    assert (etc / "sources.list").read_text() == UBUNTU_LIST


def test_mirror_urls_with_credentials_reach_the_engine_only_as_secrets(cpu_spec: ImageSpec) -> None:
    """A token in a mirror URL must never be an env value, a command line or a layer."""
    token = "s3cr3t-t0ken"  # noqa: S105 - a fake, asserted to stay out of plain values
    options = BuildOptions(
        apt_mirror=f"https://ci:{token}@apt.example/m",
        pip_index_url=f"https://ci:{token}@pypi.example/simple",
        pip_extra_index_url="https://extra.example/simple",
    )
    rec = record(cpu_spec, options)
    plain = [call for call in rec.calls if call[0] != "with_secret_variable"]
    assert token not in repr(plain)
    secret_vars = [args[0] for name, args, _ in rec.calls if name == "with_secret_variable"]
    assert {"TFCI_APT_MIRROR", "TFCI_APT_MIRROR_SCRUB", "PIP_INDEX_URL", "PIP_INDEX_URL_SCRUB"} <= set(
        secret_vars
    )
    unset = [args[0] for name, args, _ in rec.calls if name == "without_secret_variable"]
    assert sorted(unset) == sorted(secret_vars), "every secret variable is removed after its exec"
    env = [a for n, a, _ in rec.calls if n == "with_env_variable"]
    assert ("PIP_EXTRA_INDEX_URL", "https://extra.example/simple") in env  # no credentials: plain


def test_system_files_write_the_contract_then_install_then_runtime_files_copy(cpu_spec: ImageSpec) -> None:
    """contract.env comes from ci/contract.py (not a copy in context/); `init.py --build` runs in
    system_files, after TensorFlow; runtime_files is a copy alone (no exec)."""
    rec = record(cpu_spec, BuildOptions())
    new_file = next(i for i, (n, a, _) in enumerate(rec.calls) if n == "with_new_file")
    _, args, kwargs = rec.calls[new_file]
    assert args == (contract.CONTRACT_ENV_FILE, contract.contract_env_file(cpu_spec.python_prefix))
    assert kwargs == {"permissions": 0o644}
    copies = [i for i, (n, a, _) in enumerate(rec.calls) if n == "with_directory" and a[0] == "/"]
    tf_exec = next(
        i
        for i, (n, a, _) in enumerate(rec.calls)
        if n == "with_exec" and cpu_spec.tensorflow_requirement in a[0]
    )
    assert tf_exec < new_file < copies[0] < copies[1]
    install = next(i for i, (n, _, _) in enumerate(rec.calls) if n == "with_exec" and i > copies[0])
    assert install < copies[1]
    assert f"{cpu_spec.python_prefix}/bin/python /init/init/init.py --build" in rec.calls[install][1][0][-1]


def test_system_files_carry_only_what_init_build_reads(tmp_path: Path) -> None:
    """Editing boot.sh (or the supervisor / Jupyter configs) must not rebuild system_files."""
    full = trees.runtime_tree(CONTEXT_DIR, tmp_path)
    system = trees.runtime_tree(CONTEXT_DIR, tmp_path, only=trees.SYSTEM_CONTEXT)
    in_system = {p.relative_to(system).as_posix() for p in system.rglob("*") if p.is_file()}
    in_full = {p.relative_to(full).as_posix() for p in full.rglob("*") if p.is_file()}
    assert in_system < in_full
    assert "init/init/init.py" in in_system
    assert "init/boot/boot.sh" in in_full - in_system
    assert all(p.startswith(tuple(f"init/{d}" for d in trees.SYSTEM_CONTEXT)) for p in in_system)


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
            seen.append((rec.execs()[-1], mounted.pop()))
    assert jupyter[0] == jupyter[1] == jupyter[2]
    assert jupyter[0][1] == "", "no TensorFlow constraint may reach the Jupyter layer"
    assert "tensorboard" not in jupyter[0][0]
    assert len({tf_exec for tf_exec, _ in tensorflow}) == 3
    assert tensorflow[1][1] == "numpy>=1.23.5,<2.0.0\n"


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


def test_runtime_tree_has_fixed_modes_times_and_layout(tmp_path: Path) -> None:
    """The runtime layer depends on content only: not on the checkout's umask, modes or clock."""
    context = tmp_path / "context"
    (context / "boot").mkdir(parents=True)
    (context / "profile.d").mkdir()
    (context / "boot" / "boot.sh").write_text("#!/bin/sh\n")
    (context / "boot" / "boot.sh").chmod(0o664)  # a umask-002 checkout
    (context / "profile.d" / "tfimage.sh").write_text("export X=1\n")
    (context / "notes.txt").write_text("n\n")
    (context / "notes.txt").chmod(0o777)
    cache = tmp_path / "cache"
    tree = trees.runtime_tree(context, cache)
    modes = {p.relative_to(tree).as_posix(): p.stat().st_mode & 0o777 for p in tree.rglob("*")}
    assert modes == {
        "init": 0o755,
        "init/boot": 0o755,
        "init/boot/boot.sh": 0o755,
        "init/notes.txt": 0o644,
        "init/profile.d": 0o755,
        "init/profile.d/tfimage.sh": 0o755,
    }
    assert {int(p.stat().st_mtime) for p in tree.rglob("*")} == {trees.RUNTIME_MTIME}
    assert (tree / "init/profile.d/tfimage.sh").read_text() == "export X=1\n"
    (context / "notes.txt").chmod(0o600)
    assert trees.runtime_tree(context, cache) == tree  # same content: the same tree, reused
    stale = cache / "runtime-0000"
    stale.mkdir()
    os.utime(stale, (0, 0))  # unused for decades: pruned when the next new tree is made
    (context / "boot" / "boot.sh").write_text("#!/bin/sh\necho edited\n")
    edited = trees.runtime_tree(context, cache)
    assert edited != tree
    assert "edited" in (edited / "init/boot/boot.sh").read_text()
    assert sorted(p.name for p in cache.iterdir()) == sorted([tree.name, edited.name])  # no staging left

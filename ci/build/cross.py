"""The Python layers of a platform the engine emulates, installed without emulating the installer.

Why: under qemu every instruction of pip runs emulated. Measured here for linux/arm64 on an amd64
engine: pip took 905 s for TensorFlow 2.15.0 and 494 s for JupyterLab, against about a minute each
natively. Yet what an installer puts into site-packages does not depend on the CPU it runs on,
only on the target interpreter (its markers and wheel tags) and on the wheels. So here:

- uv, a static binary for the engine's own machine (versions.yaml `tools.uv`: the same pin, host
  download and checks as the native pip layers, ci.build.installer), runs *inside the image's
  container* (binfmt only emulates foreign binaries; a native one runs natively there), with the
  native layers' uv.toml, credentials and cache volume. It asks the image's own interpreter, one
  emulated start, for its marker environment and wheel tags, then resolves, downloads and unpacks
  the platform's wheels natively: exactly the distributions a native install resolves;
- the new .py files are byte-compiled by the same Python release running natively (the image's
  Python layer built for the engine's platform, mounted for this exec and run through its own
  dynamic loader): a .pyc depends on the Python version, not on the CPU, and the script refuses a
  native Python whose version differs from the image's.

A native build (the workflow's arm64 runners) never takes this path: there the layers run
ci.build.pip as on amd64, with the linux/arm64 uv of tools.uv. tests/e2e/test_cross_install.py
(`pytest -m slow`) shows that both install the same distributions at the same versions
(`pip freeze --all`) and the same files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ci.build import execs, installer, pip
from ci.build.options import BuildOptions
from ci.model.errors import UserError
from ci.model.spec import HostPlatform, ImageSpec

if TYPE_CHECKING:
    from dagger import Container, File

NATIVE_ROOT = "/tmp/tfci-native"  # noqa: S108 - a mount point: the native Python layer's root file system
UV_CACHE = pip.UV_MOUNT  # the native layers' uv cache volume (downloads and unpacked wheels)
# The dynamic loader and library directory of a glibc system per machine, in the Debian/Ubuntu
# multiarch layout: how the native Python runs inside a container of another architecture. The
# loader's real path, not /lib64/...: that one is an absolute symlink, which would resolve inside
# the emulated container rather than inside the mounted native file system.
LOADERS = {
    "x86_64": ("ld-linux-x86-64.so.2", "x86_64-linux-gnu"),
    "aarch64": ("ld-linux-aarch64.so.1", "aarch64-linux-gnu"),
}


def emulated(spec: ImageSpec, engine_platform: str | None) -> bool:
    """Is the spec's platform foreign to the engine (so its binaries run under emulation)?"""
    return engine_platform is not None and spec.platform != engine_platform


def native_spec(spec: ImageSpec, engine_platform: str) -> ImageSpec:
    """The image's spec on the engine's own platform, for the layers up to its Python."""
    if engine_platform in spec.platforms:
        return spec.on(engine_platform)
    host = _host(spec, engine_platform)
    import dataclasses

    return dataclasses.replace(spec, platform=engine_platform, miniconda=host.miniconda, builds=())


def _host(spec: ImageSpec, engine_platform: str) -> HostPlatform:
    host = spec.host(engine_platform)
    if host is None:
        raise UserError(
            f"{spec.tag}: the engine runs on {engine_platform}, which versions.yaml compat.platforms"
            f" does not name; {spec.platform} cannot be built there"
        )
    if spec.python_source == "miniconda" and host.miniconda is None:
        raise UserError(
            f"{spec.tag}: {spec.platform} is emulated on this {engine_platform} engine, whose native"
            f" Python compiles its packages, but versions.yaml names no {host.machine} Miniconda"
            f" installer for Python {spec.python_version}"
        )
    return host


def uv_binary(spec: ImageSpec, engine_platform: str, options: BuildOptions) -> File:
    """The pinned static uv for the engine's platform (versions.yaml tools.uv), fetched and verified
    on the host by ci.build.installer: the same binary a native build on that engine mounts."""
    from dagger import dag

    _host(spec, engine_platform)  # an engine platform the table does not know is refused here
    try:
        path = installer.binary(spec.installer, options.ca_bundle, platform=engine_platform)
    except installer.InstallerUnavailable as exc:
        where = f"{spec.tag}: emulating {spec.platform} on a {engine_platform} engine"
        raise UserError(f"{where}: {exc}") from None
    return dag.host().file(str(path))


def native_python(spec: ImageSpec, engine_platform: str) -> list[tuple[str, str]]:
    """The variables that run the native helper's Python inside the emulated container."""
    host = _host(spec, engine_platform)
    if host.machine not in LOADERS:
        raise UserError(
            f"{spec.tag}: no dynamic loader known for a {host.machine} engine ({', '.join(LOADERS)})"
        )
    loader, triplet = LOADERS[host.machine]
    root = NATIVE_ROOT
    if spec.python_source == "system":  # Debian/Ubuntu's python3 under /usr, the venv points at it
        home, binary = f"{root}/usr", f"{root}/usr/bin/python{spec.python_version}"
    else:  # Miniconda: a self-contained prefix
        home, binary = (
            f"{root}{spec.python_prefix}",
            f"{root}{spec.python_prefix}/bin/python{spec.python_version}",
        )
    libs = ":".join(f"{root}/{d}/{triplet}" for d in ("lib", "usr/lib"))
    if spec.python_source != "system":
        libs = f"{root}{spec.python_prefix}/lib:{libs}"
    return [
        ("TFCI_NATIVE_LOADER", f"{root}/usr/lib/{triplet}/{loader}"),
        ("TFCI_NATIVE_LIBS", libs),
        ("TFCI_NATIVE_HOME", home),
        ("TFCI_NATIVE_PYTHON", binary),
    ]


def install(
    ctr: Container,
    options: BuildOptions,
    spec: ImageSpec,
    requirements: Iterable[str],
    constraints: Iterable[str],
    extra_indexes: Iterable[str],
    *,
    native: Container,
    uv: File,
    engine_platform: str,
) -> Container:
    """ci/scripts/cross-install.sh REQUIREMENTS into the image's Python, under CONSTRAINTS.

    uv's inputs (indexes as uv.toml, credentials as secrets, the cache volume and its variables)
    are the native pip layers' (ci.build.pip), with the engine's uv instead of the image's.
    """
    from dagger import CacheSharingMode, dag

    inputs = pip.uv_inputs(options, spec, extra_indexes, uv=uv)
    c_env, c_mounts = pip.constraints_inputs(constraints)
    env = [
        *inputs.env,
        *c_env,
        ("TFCI_UV", pip.UV_BINARY),
        ("TFCI_PYTHON", spec.python),
        ("TFCI_PREFIX", spec.python_prefix),
        ("TFCI_SITE", spec.site_packages),
        ("TFCI_COMPILE", f"{execs.BUILD_DIR}/compile-bytecode.py"),
        *native_python(spec, engine_platform),
    ]
    argv, script = execs.run_script("cross-install.sh", *requirements)
    ctr = ctr.with_mounted_cache(
        UV_CACHE, dag.cache_volume(pip.UV_VOLUME), sharing=CacheSharingMode.SHARED
    ).with_mounted_directory(NATIVE_ROOT, native.rootfs())
    ctr = execs.run(
        ctr,
        options,
        argv,
        env=env,
        secrets=inputs.secrets,
        mounts=[
            script,
            *inputs.mounts,
            *c_mounts,
            (f"{execs.BUILD_DIR}/compile-bytecode.py", execs.script_file("compile-bytecode.py")),
        ],
    )
    return ctr.without_mount(NATIVE_ROOT).without_mount(UV_CACHE)

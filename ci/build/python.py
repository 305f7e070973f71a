"""The image's interpreter: Miniconda from a sha256-pinned installer, or a venv over the OS's python3.

Why refuse before building: an unverified or mismatching installer must never run, and a build
that would refuse it should fail in seconds (the preflight calls check_miniconda), not after the
OS layer.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ci.build import execs
from ci.build.options import BuildOptions
from ci.model import refs
from ci.model.errors import UserError
from ci.model.spec import ImageSpec

if TYPE_CHECKING:
    from dagger import Container, File

MINICONDA_INSTALLER = f"{execs.BUILD_DIR}/miniconda-installer.sh"  # a local --miniconda-file
MINICONDA_CACHE = "/var/cache/tfci-miniconda"  # cache volume for downloaded installers
SYSTEM_PYTHON_PACKAGES: tuple[str, ...] = ("python3", "python3-venv")


class BuildRefused(UserError):
    """The spec or options cannot be built as asked (refusal, unverified installer, ...)."""


def check_miniconda(spec: ImageSpec, options: BuildOptions) -> None:
    """Refuse, before any engine work, a Miniconda build whose installer cannot be verified."""
    if spec.python_source != "miniconda":
        return
    if spec.miniconda is None:
        raise BuildRefused(f"{spec.tag}: python_source is miniconda but the spec names no installer")
    if not refs.SHA256_HEX.fullmatch(spec.miniconda.sha256):
        raise BuildRefused(
            f"{spec.tag}: installer {spec.miniconda.filename} has no verified sha256 "
            f"(got {spec.miniconda.sha256!r}); refusing to run an unverified installer"
        )
    if options.miniconda_file is not None:
        digest = hashlib.sha256(options.miniconda_file.read_bytes()).hexdigest()
        if digest != spec.miniconda.sha256:
            raise BuildRefused(
                f"--miniconda-file {options.miniconda_file}: sha256 {digest} does not match "
                f"{spec.miniconda.sha256} pinned for {spec.miniconda.filename}; not running it"
            )


def refuse_if_unbuildable(spec: ImageSpec, options: BuildOptions) -> None:
    if spec.refusals:
        raise BuildRefused(f"{spec.tag}: refused: {'; '.join(spec.refusals)}")
    check_miniconda(spec, options)


def system_python(ctr: Container, options: BuildOptions, spec: ImageSpec) -> Container:
    """A venv at the spec's prefix over the base's python3 (which must be the spec's Python)."""
    argv, script = execs.run_script(
        "system-python.sh", spec.python_version, spec.python_prefix, spec.base_image
    )
    return execs.run(ctr, options, argv, mounts=[script], trust_ca=False)


def miniconda(ctr: Container, options: BuildOptions, spec: ImageSpec) -> Container:
    """Download (or mount) the installer, `sha256sum -c` it, and only then run it."""
    from dagger import CacheSharingMode, dag

    check_miniconda(spec, options)
    installer = spec.miniconda
    assert installer is not None  # check_miniconda refuses None
    argv, script = execs.run_script(
        "miniconda.sh", installer.filename, installer.sha256, spec.python_prefix, spec.python_version
    )
    mounts: list[tuple[str, File]] = [script]
    env = [("CONDA_PLUGINS_AUTO_ACCEPT_TOS", "yes")]
    secrets: list[tuple[str, str]] = []
    if options.miniconda_file is not None:
        mounts.append((MINICONDA_INSTALLER, dag.host().file(str(options.miniconda_file))))
        env.append(("TFCI_MINICONDA_LOCAL", MINICONDA_INSTALLER))
    else:
        plain, secrets = execs.url_env("TFCI_MINICONDA_URL", options.miniconda_base_url + installer.filename)
        env += [*plain, ("TFCI_MINICONDA_CACHE", MINICONDA_CACHE)]
        ctr = ctr.with_mounted_cache(
            MINICONDA_CACHE, dag.cache_volume("tfci-miniconda-installers"), sharing=CacheSharingMode.SHARED
        )
    ctr = execs.run(ctr, options, argv, env=env, secrets=secrets, mounts=mounts)
    return ctr if options.miniconda_file is not None else ctr.without_mount(MINICONDA_CACHE)

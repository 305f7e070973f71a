"""OS packages: apt-get install in a build step, with apt's caches in engine cache volumes.

Why PRIVATE and not LOCKED sharing: with LOCKED, a client killed during apt (a cancelled CI job)
leaked the volume's lock in engine v0.19.10 and every later build waited on it forever (observed
here; only an engine restart clears it). PRIVATE never waits: a busy volume gets a private copy for
that exec, and apt's downloads are small next to the pip wheels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ci.build import execs
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec

if TYPE_CHECKING:
    from dagger import Container

APT_MIRROR_ENV = "TFCI_APT_MIRROR"  # the mirror URL reaches apt's sources through this variable


def cache_key(spec: ImageSpec) -> str:
    """Per-OS apt caches: Debian and Ubuntu lists/archives must not mix."""
    return spec.os_id


def volumes(key: str) -> tuple[tuple[str, str], ...]:
    """(mount point, cache volume name) of apt's download caches for KEY."""
    return (("/var/cache/apt", f"tfci-apt-cache-{key}"), ("/var/lib/apt/lists", f"tfci-apt-lists-{key}"))


def install(ctr: Container, options: BuildOptions, key: str, packages: Iterable[str]) -> Container:
    """ci/scripts/apt-install.sh PACKAGES with the apt cache volumes (keyed per OS) and the options."""
    from dagger import CacheSharingMode, dag

    argv, script = execs.run_script("apt-install.sh", *packages)
    for path, name in volumes(key):
        ctr = ctr.with_mounted_cache(path, dag.cache_volume(name), sharing=CacheSharingMode.PRIVATE)
    env, secrets = execs.url_env(APT_MIRROR_ENV, options.apt_mirror) if options.apt_mirror else ([], [])
    if options.ca_bundle is not None:
        env.append(("TFCI_APT_CA", execs.BUILD_CA))
    ctr = execs.run(
        ctr,
        options,
        argv,
        env=env,
        secrets=secrets,
        mounts=[script],
        trust_ca=options.ca_bundle is not None,
    )
    for path, _ in volumes(key):
        ctr = ctr.without_mount(path)
    return ctr

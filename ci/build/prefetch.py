"""The image's wheels, downloaded into the uv cache volume by a side container while the OS layers run.

Why a side container: the downloads (310 MB for a CPU image, about 3 GB of NVIDIA wheels for a
pip-CUDA one) do not depend on the OS packages or the Python layer, so they need not wait for them;
the TensorFlow layer then only installs. No layer references this container, so it changes no
layer's cache key (a context edit still rebuilds one small layer): ci.build.steps starts it next to
the first layers and waits for it, without failing, before the TensorFlow layer. Its own key is
stable (base, python3, uv, requirements, constraints), so it runs once per requirement set and
engine; uv's cache locks entries, so a layer that asks for a wheel the prefetch is still fetching
waits instead of downloading it twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci.build import apt, execs, pip
from ci.build.layers import Layers
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec

if TYPE_CHECKING:
    from dagger import Container

# uv needs an interpreter to run (it resolves for the image's Python, not for this one); the
# packages come from the prefetch's own apt volumes, so it never waits on the image's.
PREFETCH_PACKAGES = ("python3",)


def apt_key(spec: ImageSpec) -> str:
    return f"{apt.cache_key(spec)}-prefetch"


def prefetch(start: Container, spec: ImageSpec, options: BuildOptions) -> Container:
    """A container (FROM the image's base) whose one exec fills the uv cache with the image's wheels."""
    from dagger import CacheSharingMode, dag

    ctr = apt.install(Layers(options).base(start, spec), options, apt_key(spec), PREFETCH_PACKAGES)
    inputs = pip.uv_inputs(options, spec, spec.pip_extra_indexes)
    c_env, c_mounts = pip.constraints_inputs(spec.constraints)
    # Hardlinks from the cache into the scratch target: the install it needs is then nearly free.
    env = [(k, v) for k, v in inputs.env if k != "UV_LINK_MODE"]
    env += [
        ("UV_LINK_MODE", "hardlink"),
        ("TFCI_UV", pip.UV_BINARY),
        ("TFCI_PYTHON_VERSION", spec.python_version),
        ("TFCI_SCRATCH", pip.UV_SCRATCH),
        *c_env,
    ]
    argv, script = execs.run_script(
        "uv-prefetch.sh", *spec.jupyter_requirements, "--", *pip.tensorflow_requirements(spec)
    )
    ctr = ctr.with_mounted_cache(
        pip.UV_MOUNT, dag.cache_volume(pip.UV_VOLUME), sharing=CacheSharingMode.SHARED
    )
    return execs.run(
        ctr, options, argv, env=env, secrets=inputs.secrets, mounts=[script, *inputs.mounts, *c_mounts]
    )

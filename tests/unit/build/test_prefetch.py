"""The wheel prefetch's side container: the image's base plus python3 from its own apt volumes, then
uv filling the shared cache volume with the layers' wheels (nothing of it is in any layer)."""

from __future__ import annotations

from typing import Any

from ci.build import pip
from ci.build.options import BuildOptions
from ci.build.prefetch import apt_key, prefetch
from ci.model.spec import ImageSpec
from tests.unit.build.conftest import Recorder


def _recorded(spec: ImageSpec, options: BuildOptions) -> Recorder:
    rec = Recorder()
    start: Any = rec
    prefetch(start, spec, options)
    return rec


def test_the_prefetch_fetches_the_layers_requirements_into_the_shared_volume(
    cpu_spec: ImageSpec, ca_options: BuildOptions
) -> None:
    rec = _recorded(cpu_spec, ca_options)
    assert rec.calls[0] == ("from_", (cpu_spec.base_image,), {})  # the image's own base: the same pull
    apt, fetch = rec.execs()
    assert apt.splitlines()[0].endswith("apt-install.sh python3")
    volumes = [a[1] for n, a, _ in rec.calls if n == "with_mounted_cache"]
    assert len(volumes) == 3  # its own apt volumes (never waits on the image's), then uv's
    assert apt_key(cpu_spec) == "debian12-prefetch"
    first = fetch.splitlines()[0].split()
    assert first[4:] == [*cpu_spec.jupyter_requirements, "--", *pip.tensorflow_requirements(cpu_spec)]
    env, mounts = rec.exec_inputs()[1]
    assert env["UV_LINK_MODE"] == "hardlink"  # a scratch target on the volume's own mount
    assert env["TFCI_SCRATCH"].startswith(pip.UV_MOUNT + "/")
    assert env["UV_CACHE_DIR"].startswith(pip.UV_MOUNT + "/")
    assert env["TFCI_PYTHON_VERSION"] == cpu_spec.python_version
    assert env["TFCI_CONSTRAINTS"] == pip.CONSTRAINTS
    assert "UV_COMPILE_BYTECODE" not in env  # nothing is installed for real
    assert {pip.UV_BINARY, pip.UV_CONFIG, pip.CONSTRAINTS, pip.UV_MOUNT} <= set(mounts)
    assert not [a for n, a, _ in rec.calls if n == "with_env_variable" and "NONCE" in a[0]]


def test_the_prefetch_runs_the_layers_resolution_order(cpu_spec: ImageSpec) -> None:
    """Jupyter first, then TensorFlow under the constraints with the Jupyter set present, as the
    layers see it: so it fetches exactly what they will ask for."""
    from ci.scripts import script_text

    script = script_text("uv-prefetch.sh")
    jupyter = script.index('"${args[@]}" "${jupyter[@]}"')
    constraints = script.index('args+=(--constraints "$TFCI_CONSTRAINTS")')
    tensorflow = script.index('"$TFCI_UV" "${args[@]}" "$@"')
    assert jupyter < constraints < tensorflow
    assert '--target "$target"' in script
    assert 'rm -rf "$target"' in script  # the scratch install goes; the cache stays

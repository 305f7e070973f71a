"""uv installs exactly the package set pip installs for the same requirements and constraints.

Why: the pip layers switched their installer from pip to uv (README: Performance); users keep pip
and expect what `pip install` would have given them. On the real layers up to the Python layer,
one branch installs the Jupyter and TensorFlow layers with uv (the layer functions), the other runs
plain pip with the same two requirement sets and the same constraints file, and `pip freeze --all`
must be identical, `pip check` clean in both. What differs below the freeze (installer metadata,
uv's environment lock, bytecode) is explained in README.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from ci.build import execs, pip
from ci.build.layers import LAYER_ORDER, Layers
from tests.e2e import specs

pytestmark = [pytest.mark.engine, pytest.mark.anyio]

FREEZE = (
    "export PIP_DISABLE_PIP_VERSION_CHECK=1; {python} -m pip freeze --all && echo '== check' "
    "&& {python} -m pip check"
)


async def test_uv_and_pip_install_the_same_packages(dagger_client: Any) -> None:
    from dagger import dag

    spec, options = specs.cpu_spec(), specs.options()
    layers = Layers(options)
    base = dag.container()
    for name in LAYER_ORDER[: LAYER_ORDER.index("python") + 1]:
        base = getattr(layers, name)(base, spec)

    with_uv = layers.tensorflow(layers.jupyter(base, spec), spec)

    constraints = dag.directory().with_new_file("c.txt", pip.constraints_text(spec.constraints)).file("c.txt")
    jupyter = " ".join(shlex.quote(r) for r in spec.jupyter_requirements)
    tensorflow = " ".join(shlex.quote(r) for r in pip.tensorflow_requirements(spec))
    script = (
        f"export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore\n"
        f"{spec.python} -m pip install -q {jupyter}\n"
        f"{spec.python} -m pip install -q --constraint {pip.CONSTRAINTS} {tensorflow}\n"
    )
    with_pip = execs.run(base, options, execs.sh(script), mounts=[(pip.CONSTRAINTS, constraints)])

    freeze = execs.sh(FREEZE.format(python=spec.python))
    by_uv = await with_uv.with_exec(freeze).stdout()
    by_pip = await with_pip.with_exec(freeze).stdout()
    packages = by_uv.split("== check")[0].split()
    print(f"\n[e2e] uv and pip: {len(packages)} packages each")
    assert "No broken requirements found." in by_uv
    assert "No broken requirements found." in by_pip
    assert by_uv == by_pip, "uv and pip installed different packages"
    assert any(p.startswith(("tensorflow-cpu==", "tensorflow==")) for p in packages)
    assert any(p.startswith("jupyterlab==") for p in packages)
    # uv itself is not in the image; pip is, as the venv installed it
    assert not [p for p in packages if p.startswith("uv==")]
    assert any(p.startswith("pip==") for p in packages)
    leftovers = await with_uv.with_exec(["sh", "-c", f"ls -a {spec.python_prefix}"]).stdout()
    assert ".lock" not in leftovers.split(), "uv's environment lock stays in the image"

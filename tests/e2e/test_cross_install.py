"""An emulated platform's Python layers (ci/build/cross.py) hold what a native install holds.

Why slow: the native side is the pip layers' own installer (ci.build.pip: uv, the linux/arm64 wheel
of tools.uv) running under qemu, as on an arm64 machine, for the JupyterLab and TensorFlow layers
of the multi-platform test image (issue 17 measured pip there: about 20 minutes of emulated CPU on
a 2-core machine, the reason ci.build.cross exists; uv under qemu is not measured yet). Run with
`pytest -m slow`; measured and compared for the closing report of issue 17 (README, *Platforms*).

Compared: `pip freeze --all` (every distribution and version), `pip check`, and every installed
file's path, size and mode except the installer's own records (INSTALLER, RECORD, REQUESTED) and
the .pyc files (compiled by another process; their set is compared by source file instead).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from ci.build.layers import Layers, platform_container
from tests.e2e import specs

pytestmark = [pytest.mark.engine, pytest.mark.anyio, pytest.mark.slow]

MANIFEST = (
    "cd /opt/python && find . \\( -name '*.pyc' -o -name RECORD -o -name INSTALLER -o -name REQUESTED \\)"
    " -prune -o -type f -printf '%p %s %m\\n' | sort; echo ---pyc; find . -name '*.pyc' | sort;"
    " echo ---freeze; bin/python -m pip freeze --all; echo ---check; bin/python -m pip check"
)


async def _python_layers(engine_platform: str | None) -> tuple[str, float]:
    spec = specs.multi_spec().on("linux/arm64")
    layers = Layers(specs.options(), engine_platform=engine_platform)
    ctr: Any = platform_container(spec)
    started = time.monotonic()
    for name, layer in layers.ordered():
        ctr = layer(ctr, spec)
        if name == "tensorflow":
            break
    ctr = await ctr.sync()
    took = time.monotonic() - started
    return await ctr.with_exec(["bash", "-c", MANIFEST]).stdout(), took


def _sections(output: str) -> tuple[str, str, str, str]:
    """MANIFEST's output: files, .pyc files, pip freeze, pip check."""
    files, rest = output.split("---pyc\n", 1)
    pycs, rest = rest.split("---freeze\n", 1)
    freeze, check = rest.split("---check\n", 1)
    return files.strip(), pycs.strip(), freeze.strip(), check.strip()


async def test_native_tools_install_what_pip_under_qemu_installs(dagger_client: Any) -> None:
    from dagger import dag

    engine = str(await dag.default_platform())
    assert engine == "linux/amd64", "this comparison needs linux/arm64 to be emulated"
    crossed, cross_s = await _python_layers(engine)
    emulated, emulated_s = await _python_layers(None)  # None: arm64 as native, its own uv under qemu
    print(f"\n[e2e] arm64 base..tensorflow: native tools {cross_s:.0f}s, uv under qemu {emulated_s:.0f}s")
    files, pycs, freeze, check = _sections(crossed)
    e_files, e_pycs, e_freeze, e_check = _sections(emulated)
    assert freeze == e_freeze
    assert check == e_check == "No broken requirements found."
    assert pycs == e_pycs
    differ = sorted(set(files.splitlines()) ^ set(e_files.splitlines()))
    # Console scripts are written by each installer's own template (same behaviour, other bytes).
    assert all(line.startswith("./bin/") for line in differ), differ[:20]

"""A recording fake container for the layer functions, shared by the tests of ci.build.

Why a recording fake container: the layer functions only chain calls on a Container; recording
those calls shows the order of execs (TensorFlow before context/), and that every build-only mount
and environment variable is removed again, without building anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ci.build import execs
from ci.build.layers import Layers
from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec
from ci.scripts import script_text

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

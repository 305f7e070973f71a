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
    """Stands in for dagger.Container (and the Directory of its rootfs).

    Every method call is appended to one log shared by all recorders of a build, and returns a new
    recorder carrying this one's environment and mounts with the call applied: so a throwaway copy
    that runs an exec (ci.build.execs.run) and the container that continues from its rootfs each
    keep their own state, as the engine's containers do.
    """

    def __init__(self, shared: dict[str, Any] | None = None) -> None:
        self._shared: dict[str, Any] = shared if shared is not None else {"calls": [], "execs": []}
        self.env: dict[str, str] = {}
        self.mounts: dict[str, Any] = {}

    @property
    def calls(self) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
        log: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = self._shared["calls"]
        return log

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> Recorder:
            self.calls.append((name, args, kwargs))
            child = Recorder(self._shared)
            child.env, child.mounts = dict(self.env), dict(self.mounts)
            if name == "with_env_variable":
                child.env[args[0]] = args[1]
            elif name in ("without_env_variable", "without_secret_variable"):
                child.env.pop(args[0], None)
            elif name == "with_secret_variable":
                child.env[args[0]] = "<secret>"
            elif name.startswith("with_mounted_"):
                child.mounts[args[0]] = args[1]
            elif name == "without_mount":
                child.mounts.pop(args[0], None)
            elif name == "with_exec":
                self._shared["execs"].append((dict(self.env), dict(self.mounts)))
            return child

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

    def exec_inputs(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        """For each exec, in order: (environment, mounts by path) of the container that ran it."""
        inputs: list[tuple[dict[str, str], dict[str, Any]]] = self._shared["execs"]
        return inputs


@pytest.fixture
def ca_options() -> BuildOptions:
    return BuildOptions(ca_bundle=HOST_CA)


def record(spec: ImageSpec, options: BuildOptions) -> Recorder:
    """Every layer applied in order; the result is the final container (its log holds every call)."""
    ctr: Any = Recorder()
    for _name, layer in Layers(options).ordered():
        ctr = layer(ctr, spec)
    final: Recorder = ctr
    return final

"""Build an image one layer function at a time: how long each took and which OCI layers it added.

Why every build goes through here: the report shows each layer's size and build duration, and the
engine times nothing per layer for us. So the build syncs after every layer function (the same
operations, the same cache keys, the same image as ci.build.layers.build_image) and counts the
filesystem-changing Container calls each function makes; ci.report.layers.attribute later maps the
exported layers to those counts. Whether or not a report is asked for, this is the one build path:
the counts cost nothing, and a report never describes a differently built image.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ci.build.layers import Layers, platform_container
from ci.build.options import BuildOptions
from ci.build.python import refuse_if_unbuildable
from ci.model.paths import CONTEXT_DIR
from ci.model.spec import ImageSpec
from ci.report.model import StepTiming

if TYPE_CHECKING:
    from dagger import Container

# Container calls that add a layer to the exported image (each one adds exactly one). Mounts,
# environment, labels, ports and the workdir live in the config and add none.
FS_OPERATIONS = frozenset(
    {
        "with_exec",
        "with_directory",
        "with_file",
        "with_files",
        "with_new_file",
        "with_symlink",
        "with_rootfs",
        "without_directory",
        "without_file",
        "without_files",
    }
)


class _Counting:
    """A Container stand-in that records filesystem-changing calls and wraps what they return.

    Layer functions only chain calls on the container they are given, so wrapping it is enough to
    see every operation they add, with the public API only.
    """

    def __init__(self, container: object, operations: list[str]) -> None:
        self._container = container
        self._operations = operations

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - a proxy for any Container attribute
        from dagger import Container

        attr = getattr(self._container, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401 - forwards any Container call
            result = attr(*args, **kwargs)
            if isinstance(result, Container):
                if name in FS_OPERATIONS:
                    self._operations.append(name)
                return _Counting(result, self._operations)
            return result

        return call


def _unwrap(container: object) -> Container:
    while isinstance(container, _Counting):
        container = container._container
    return cast("Container", container)


async def build_in_steps(
    spec: ImageSpec,
    options: BuildOptions,
    *,
    context_dir: Path = CONTEXT_DIR,
    engine_platform: str | None = None,
) -> tuple[Container, list[StepTiming]]:
    """The image of ci.build.layers.build_image, evaluated layer function by layer function."""
    refuse_if_unbuildable(spec, options)
    container = platform_container(spec)
    steps: list[StepTiming] = []
    for name, layer in Layers(options, context_dir, engine_platform).ordered():
        operations: list[str] = []
        started = time.monotonic()
        wrapped = layer(cast("Container", _Counting(container, operations)), spec)
        container = await _unwrap(wrapped).sync()
        seconds = round(time.monotonic() - started, 2)
        counted = None if name == "base" else len(operations)
        steps.append(StepTiming(name, seconds, counted, tuple(operations)))
    return container, steps

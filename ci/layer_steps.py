"""Build an image one layer function at a time: how long each took and which OCI layers it added.

Why this exists: the report shows each layer's size and build duration. The engine times nothing per
layer for us, and the exported config's `history` names the engine operation that made each layer
("mount / from exec bash -euo pipefail -c ...", "withdirectory ...", "pulled from ...") but not the
layer function (ci.layers.LAYER_ORDER) that asked for it. So the build syncs after every layer
function (the same operations, the same cache keys, the same image as ci.layers.build_image) and
counts the filesystem-changing Container calls each function makes; `attribute` then walks the
exported layers with those counts, the base taking whatever the pulled image brought, and
cross-checks every exec against the history before trusting the result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ci.layers import CONTEXT_DIR, Layers, refuse_if_unbuildable
from ci.options import BuildOptions
from ci.report import LayerFacts, StepTiming
from ci.spec import ImageSpec

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
EXEC_HISTORY = "from exec "  # how the engine describes an exec's layer in the config history


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
    spec: ImageSpec, options: BuildOptions, *, context_dir: Path = CONTEXT_DIR
) -> tuple[Container, list[StepTiming]]:
    """The image of ci.layers.build_image, evaluated layer function by layer function."""
    from dagger import dag

    refuse_if_unbuildable(spec, options)
    container = dag.container()
    steps: list[StepTiming] = []
    for name, layer in Layers(options, context_dir).ordered():
        operations: list[str] = []
        started = time.monotonic()
        wrapped = layer(cast("Container", _Counting(container, operations)), spec)
        container = await _unwrap(wrapped).sync()
        seconds = round(time.monotonic() - started, 2)
        counted = None if name == "base" else len(operations)
        steps.append(StepTiming(name, seconds, counted, tuple(operations)))
    return container, steps


def attribute(
    layers: Sequence[LayerFacts], steps: Sequence[StepTiming]
) -> tuple[list[LayerFacts], str | None]:
    """Each layer with the step that added it, or the layers unchanged and why not.

    The steps' layers are on top, in build order; the first step with an unknown count (the base)
    owns every layer below them. Every exec a step made must meet an exec in the history at the
    same position, otherwise the counting is wrong (an engine that merges or skips layers) and no
    layer is attributed rather than a wrong one.
    """
    known = [s for s in steps if s.layers is not None]
    added = sum(s.layers or 0 for s in known)
    if added > len(layers):
        return list(layers), f"the build made {added} layer operations but the image has {len(layers)} layers"
    owners: list[tuple[str, str | None]] = []  # (step, the operation that made the layer)
    base = [s for s in steps if s.layers is None]
    if len(base) > 1:
        return list(layers), "more than one step of unknown layer count"
    owners += [(base[0].name, None)] * (len(layers) - added) if base else []
    if not base and added != len(layers):
        return list(layers), f"the steps account for {added} of {len(layers)} layers"
    for step in known:
        owners += [(step.name, operation) for operation in step.operations]
    for layer, (_, operation) in zip(layers, owners, strict=True):
        if operation is not None and (operation == "with_exec") != (EXEC_HISTORY in layer.created_by):
            return list(layers), (
                f"layer {layer.digest[:19]} ({layer.created_by[:60]!r}) does not match the recorded "
                f"operation {operation}"
            )
    return [_with_step(layer, step) for layer, (step, _) in zip(layers, owners, strict=True)], None


def _with_step(layer: LayerFacts, step: str) -> LayerFacts:
    import dataclasses

    return dataclasses.replace(layer, step=step)

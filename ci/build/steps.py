"""Build an image one layer function at a time: how long each took and which OCI layers it added.

Why every build goes through here: the report shows each layer's size and build duration, and the
engine times nothing per layer for us. So the build syncs after every layer function that adds a
layer (the same operations, the same cache keys, the same image as ci.build.layers.build_image)
and counts the filesystem-changing Container calls each function makes. A config-only function
(metadata; ca_trust without --bake-ca) is not synced: it has nothing to run, and each sync is an
engine round trip of 10-150 ms even when everything is cached (a no-op rebuild is those round
trips; one sync of the whole chain instead costs about 2 s, as the engine then resolves all of it
in one query). ci.report.layers.attribute later maps the exported layers to those counts.
Whether or not a report is asked for, this is the one build path: the counts cost nothing, and a
report never describes a differently built image.

The image's wheels are downloaded meanwhile by ci.build.prefetch and awaited before the TensorFlow
layer (which then only installs). The prefetch is not an input of any layer, so a failure there is
only reported: the layer downloads for itself. It starts once the layers below TensorFlow have taken
PREFETCH_AFTER_S without reaching it, i.e. once one of them is really being built: only then is
there something for the downloads to overlap. When those layers all come from the cache (a no-op
rebuild, a context edit, a new TensorFlow release on a cached Python) the TensorFlow layer is
reached sooner and the prefetch is not started: its own queries cost a no-op rebuild a third of its
time, and the layer, cached or not, needs it for nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio

from ci.build import cross
from ci.build.layers import Layers, platform_container
from ci.build.options import BuildOptions
from ci.build.prefetch import prefetch
from ci.build.python import refuse_if_unbuildable
from ci.model.paths import CONTEXT_DIR
from ci.model.spec import ImageSpec
from ci.report.model import StepTiming

if TYPE_CHECKING:
    from dagger import Container

PREFETCH_NEEDED_BY = "tensorflow"  # the layer that waits for the prefetched wheels
# A cached layer syncs in 0.01-0.25 s (all those below TensorFlow: 0.3-0.6 s on a 2-core runner); a
# layer being built takes seconds (apt alone 15 s). Starting later than this loses at most this
# much overlap with a build of well over 20 s.
PREFETCH_AFTER_S = 1.0
# Container calls that add a layer to the exported image (each one adds exactly one). Mounts,
# environment, labels, ports and the workdir live in the config and add none; with_rootfs is how
# ci.build.execs.run continues the image from its exec's filesystem, whose with_exec is the layer.
FS_OPERATIONS = frozenset(
    {
        "with_exec",
        "with_directory",
        "with_file",
        "with_files",
        "with_new_file",
        "with_symlink",
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


async def _prefetch(start: Container, spec: ImageSpec, options: BuildOptions, done: anyio.Event) -> None:
    """Fill the uv cache with the image's wheels; a failure costs time, never the build."""
    started = time.monotonic()
    try:
        await prefetch(start, spec, options).sync()
    except Exception as exc:  # whatever failed, the layers download for themselves
        reason = " ".join(str(exc).split())[:300]
        print(
            f"[build] {spec.tag}: wheel prefetch failed after {time.monotonic() - started:.0f}s "
            f"(the TensorFlow layer downloads for itself): {reason}",
            file=sys.stderr,
            flush=True,
        )
    finally:
        done.set()


async def _prefetch_if_building(
    start: Container, spec: ImageSpec, options: BuildOptions, reached: anyio.Event, done: anyio.Event
) -> None:
    """Prefetch unless the layers reach the TensorFlow layer within PREFETCH_AFTER_S (all cached)."""
    with anyio.move_on_after(PREFETCH_AFTER_S):
        await reached.wait()
        done.set()
        return
    await _prefetch(start, spec, options, done)


async def _layers(
    start: Container, spec: ImageSpec, layers: Layers, reached: anyio.Event, prefetched: anyio.Event
) -> tuple[Container, list[StepTiming]]:
    container = start
    steps: list[StepTiming] = []
    for name, layer in layers.ordered():
        operations: list[str] = []
        started = time.monotonic()
        if name == PREFETCH_NEEDED_BY:
            reached.set()
            await prefetched.wait()
        wrapped = layer(cast("Container", _Counting(container, operations)), spec)
        container = _unwrap(wrapped)
        if operations or name == "base":  # config alone (labels, ENV, ports) has nothing to run
            container = await container.sync()
        seconds = round(time.monotonic() - started, 2)
        counted = None if name == "base" else len(operations)
        steps.append(StepTiming(name, seconds, counted, tuple(operations)))
    return container, steps


async def build_in_steps(
    spec: ImageSpec,
    options: BuildOptions,
    *,
    context_dir: Path = CONTEXT_DIR,
    engine_platform: str | None = None,
    layers: Layers | None = None,
) -> tuple[Container, list[StepTiming]]:
    """The image of ci.build.layers.build_image, evaluated layer function by layer function.

    layers: the layer functions (default: Layers(options, context_dir, engine_platform); the
    benchmark passes its own). An emulated platform has no prefetch: ci.build.cross downloads
    natively anyway, and a prefetch container of that platform would run apt and uv emulated.
    """
    refuse_if_unbuildable(spec, options)
    layers = layers or Layers(options, context_dir, engine_platform)
    start = platform_container(spec)
    reached, prefetched = anyio.Event(), anyio.Event()
    result: tuple[Container, list[StepTiming]] | None = None
    error: BaseException | None = None
    async with anyio.create_task_group() as group:
        if cross.emulated(spec, layers.engine_platform):
            prefetched.set()
        else:
            group.start_soon(_prefetch_if_building, start, spec, options, reached, prefetched)
        try:
            result = await _layers(start, spec, layers, reached, prefetched)
        except Exception as exc:  # re-raised as itself below, not wrapped in an exception group
            error = exc
        group.cancel_scope.cancel()  # a prefetch still running is of no use any more
    if error is not None:
        raise error
    assert result is not None
    return result

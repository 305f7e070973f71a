"""Which build step made which layer: the report's attribution of OCI layers to layer functions.

Why after the fact and from two sources: the exported config's `history` names the engine
operation that made each layer ("mount / from exec bash -euo pipefail -c ...", "withdirectory ...",
"pulled from ...") but not the layer function (ci.build.layers.LAYER_ORDER) that asked for it, and
the build (ci.build.steps) counts the filesystem-changing calls each function made. `attribute`
walks the exported layers with those counts, the base taking whatever the pulled image brought,
and cross-checks every exec against the history before trusting the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ci.report.model import LayerFacts, StepTiming

EXEC_HISTORY = "from exec "  # how the engine describes an exec's layer in the config history


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
    return dataclasses.replace(layer, step=step)

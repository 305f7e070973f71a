"""A selection (one image, or every target) -> the table with its lock -> ImageSpecs.

Why one module: plan, matrix, build, test, promote, verify and lock all pick images the same way
(`--tf X --python Y ...` for one image, nothing or `--all` for every `targets:` entry), and an error
must name the flag the user typed. This is also where versions.lock.yaml and the build's provenance
are merged into the table: the loader reads exactly versions.yaml, and every command that selects
images sees the locked digests and the commit's labels the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci.model.errors import UserError
from ci.model.paths import DEFAULT_TABLE
from ci.model.provenance import NO_PROVENANCE, OCI, Provenance
from ci.model.spec import ImageSpec
from ci.model.tags import LABEL_PREFIX
from ci.table.load import load_table
from ci.table.lockfile import read_lock
from ci.table.resolve import BuildRequest, RequestError, resolve_targets, resolve_with_aliases
from ci.table.rows import Table

# BuildRequest field -> flag, so request errors name the flag the user typed.
FLAGS = {
    "tf": "--tf",
    "python": "--python",
    "variant": "--variant",
    "cuda_source": "--cuda-source",
    "os": "--os",
    "gpu_base": "--gpu-base",
    "python_source": "--python-source",
    "platforms": "--platform",
}


def platform_list(text: str | None) -> tuple[str, ...] | None:
    """--platform linux/amd64,linux/arm64 (or repeated, joined by the CLI) -> the platforms."""
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Selection:
    """What a command was asked to act on: one image (a request), every target, or nothing said."""

    table: Path = DEFAULT_TABLE
    fields: Mapping[str, str | None] = dataclasses.field(default_factory=dict)  # BuildRequest fields
    all: bool = False
    provenance: Provenance = NO_PROVENANCE  # the commit being built (the OCI labels), when known

    @property
    def request(self) -> BuildRequest | None:
        """The BuildRequest the selector flags describe, or None when none was given."""
        values = {name: self.fields.get(name) for name in FLAGS}
        if all(value is None for value in values.values()):
            return None
        tf = values.pop("tf")
        if tf is None:
            raise UserError(
                "--tf is required when selecting an image (or give no selectors for every target)"
            )
        platforms = platform_list(values.pop("platforms"))
        return BuildRequest(tf=tf, platforms=platforms, **values)

    @property
    def only_variant(self) -> bool:
        """No selector but (perhaps) --variant: a filter of the targets, not one image."""
        return all(self.fields.get(name) is None for name in FLAGS if name != "variant")


def load(
    table_path: Path = DEFAULT_TABLE, provenance: Provenance = NO_PROVENANCE
) -> tuple[Table, tuple[ImageSpec, ...]]:
    """The table with versions.lock.yaml and the build's provenance (commit, commit time, repository
    URL: the OCI labels) merged in, and its target set (tags, aliases, labels) resolved."""
    table = load_table(table_path)
    locks = {image: entry.digest for image, entry in read_lock(table.path, table.display).items()}
    image = dataclasses.replace(
        table.image,
        source=provenance.source or table.image.source,
        created=provenance.created,
        revision=provenance.revision,
    )
    table = dataclasses.replace(table, locks=locks, image=image)
    return table, resolve_targets(table)


def resolve_selected(table: Table, targets: tuple[ImageSpec, ...], request: BuildRequest) -> ImageSpec:
    try:
        return resolve_with_aliases(table, request, targets)
    except RequestError as exc:
        raise UserError(f"{FLAGS[exc.field]}: {exc.problem}") from None


def selected_specs(selection: Selection, *, explicit: bool = False) -> tuple[ImageSpec, ...]:
    """The images a command acts on: the one the selectors describe, or every target.

    explicit: every target must be asked for with --all (build, where "nothing selected" is more
    likely a mistake than a wish to build dozens of images).
    """
    request = selection.request
    if request is not None and selection.all:
        raise UserError("--all cannot be combined with image selectors (--tf, --python, ...)")
    if explicit and request is None and not selection.all:
        raise UserError("nothing selected: give --tf X.Y.Z (and optional selectors) or --all")
    table, targets = load(selection.table, selection.provenance)
    return targets if request is None else (resolve_selected(table, targets, request),)


def request_from_labels(labels: Mapping[str, str], what: str) -> BuildRequest:
    """What an image claims to be, from its io.tfimages.* labels (for `test IMAGE` without selectors)."""

    def label(name: str) -> str | None:
        return labels.get(f"{LABEL_PREFIX}.{name}")

    tf = label("tensorflow.version")
    if not tf:
        raise UserError(f"{what}: no {LABEL_PREFIX}.tensorflow.version label; select it with --tf ...")
    variant = label("variant")
    cuda_source = label("cuda.source")
    return BuildRequest(
        platforms=platform_list(label("platforms")),
        tf=tf,
        python=label("python.version"),
        variant=variant,
        cuda_source=cuda_source if variant == "gpu" else None,
        os=label("os") if cuda_source != "base" else None,
        gpu_base=labels.get(f"{OCI}.base.name") if cuda_source == "base" else None,
        python_source=label("python.source"),
    )


def matrix_specs(selection: Selection) -> list[tuple[ImageSpec, str | None]]:
    """The images of a GitHub Actions matrix, each with the GPU base its target names (or None).

    One entry per image; the matrix output (ci.report.plan) then has one row per platform of it.

    No selectors, or --variant alone: every target (of that variant). Selectors with --tf: just that
    image, so a workflow_dispatch with `selectors` builds what it names and nothing else.
    """
    table, targets = load(selection.table)
    variant = selection.fields.get("variant")
    if selection.only_variant:
        return [
            (spec, target.gpu_base)
            for target, spec in zip(table.targets, targets, strict=True)
            if variant is None or spec.variant == variant
        ]
    request = selection.request
    assert request is not None  # at least one selector other than --variant was given
    spec = resolve_selected(table, targets, request)
    from_target = [t.gpu_base for t, s in zip(table.targets, targets, strict=True) if s.tag == spec.tag]
    return [(spec, request.gpu_base or next(iter(from_target), None))]

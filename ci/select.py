"""Selector flags -> BuildRequest -> ImageSpecs: how every command picks the images it acts on.

Why one module: plan, matrix, build, test, promote, verify and lock all select images the same way
(`--tf X --python Y ...` for one image, nothing or `--all` for every `targets:` entry), and an error
must name the flag the user typed. Keeping it here lets ci/main.py register commands and the
command modules use selection without importing each other.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from ci.errors import UserError
from ci.resolve import BuildRequest, RequestError, resolve_targets, resolve_with_aliases
from ci.spec import ImageSpec
from ci.table import CUDA_SOURCES, DEFAULT_TABLE, PYTHON_SOURCES, VARIANTS, Table, load_table
from ci.tags import LABEL_PREFIX

# BuildRequest field -> flag, so request errors name the flag the user typed.
FLAGS = {
    "tf": "--tf",
    "python": "--python",
    "variant": "--variant",
    "cuda_source": "--cuda-source",
    "os": "--os",
    "gpu_base": "--gpu-base",
    "python_source": "--python-source",
}


def add_selectors(parser: argparse.ArgumentParser, *, with_all: bool = True) -> None:
    """The flags that pick one image (and --all for every target)."""
    group = parser.add_argument_group("image selection (default: every entry of targets:)")
    group.add_argument("--tf", metavar="X.Y.Z", help="TensorFlow release, e.g. 2.15.0")
    group.add_argument("--python", metavar="X.Y", help="Python version (default: the release's default)")
    group.add_argument("--variant", choices=VARIANTS, help="cpu or gpu (default from versions.yaml)")
    group.add_argument(
        "--cuda-source",
        choices=CUDA_SOURCES,
        help="GPU only: nvidia/cuda devel base, or tensorflow[and-cuda] wheels",
    )
    group.add_argument("--os", metavar="ID", help="os_bases id for CPU and pip-CUDA images, e.g. debian12")
    group.add_argument(
        "--gpu-base", metavar="REF", help="explicit nvidia/cuda *-cudnn*-devel image (override)"
    )
    group.add_argument(
        "--python-source", choices=PYTHON_SOURCES, help="Miniconda (default) or the base's python3"
    )
    if with_all:
        group.add_argument("--all", action="store_true", help="every entry of targets: in versions.yaml")


def selected_request(args: argparse.Namespace) -> BuildRequest | None:
    """The BuildRequest the selector flags describe, or None when none was given."""
    fields = {field: getattr(args, field, None) for field in FLAGS}
    if all(value is None for value in fields.values()):
        return None
    tf = fields.pop("tf")
    if tf is None:
        raise UserError("--tf is required when selecting an image (or give no selectors for every target)")
    return BuildRequest(tf=tf, **fields)


def load(args: argparse.Namespace) -> tuple[Table, tuple[ImageSpec, ...]]:
    """Load and validate the table, including the target set (tags, aliases)."""
    # --table may come before or after the command; parents share one action, so no set_defaults.
    table = load_table(Path(getattr(args, "table", DEFAULT_TABLE)))
    return table, resolve_targets(table)


def resolve_selected(table: Table, targets: tuple[ImageSpec, ...], request: BuildRequest) -> ImageSpec:
    try:
        return resolve_with_aliases(table, request, targets)
    except RequestError as exc:
        raise UserError(f"{FLAGS[exc.field]}: {exc.problem}") from None


def selected_specs(args: argparse.Namespace, *, explicit: bool = False) -> tuple[ImageSpec, ...]:
    """The images a command acts on: the one the selectors describe, or every target.

    explicit: every target must be asked for with --all (build, where "nothing selected" is more
    likely a mistake than a wish to build dozens of images).
    """
    request = selected_request(args)
    wants_all = bool(getattr(args, "all", False))
    if request is not None and wants_all:
        raise UserError("--all cannot be combined with image selectors (--tf, --python, ...)")
    if explicit and request is None and not wants_all:
        raise UserError("nothing selected: give --tf X.Y.Z (and optional selectors) or --all")
    table, targets = load(args)
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
        tf=tf,
        python=label("python.version"),
        variant=variant,
        cuda_source=cuda_source if variant == "gpu" else None,
        os=label("os") if cuda_source != "base" else None,
        gpu_base=labels.get("org.opencontainers.image.base.name") if cuda_source == "base" else None,
        python_source=label("python.source"),
    )

"""Command line: `python ci/main.py <command> ...` or `python -m ci <command> ...`.

Why this shape: each command is one `run_*` function plus one `Command(...)` entry in COMMANDS, so
build/test/publish/promote slot in without touching the others. The module stays thin: parse flags,
call table/resolve, hand specs to ci.render. plan and matrix never import dagger, so they answer in
well under a second and need no engine; a build command imports dagger inside its own run function.

To add a command:
    def run_build(args: argparse.Namespace) -> int:
        table, targets = load(args)
        spec = resolve_with_aliases(table, selected_request(args, required=True), targets)
        import ci.pipeline  # heavy imports (dagger) stay inside the command
        ...
        return 0
    COMMANDS += (Command("build", "build one image", add_selectors, run_build),)   # or add to the tuple
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

if __package__ in (None, ""):  # run as a script: make `import ci` find the repository, not ci/ itself
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from ci import cli_build, cli_release, render
from ci.errors import UserError
from ci.resolve import BuildRequest, RequestError, resolve_targets, resolve_with_aliases
from ci.spec import ImageSpec
from ci.table import CUDA_SOURCES, DEFAULT_TABLE, PYTHON_SOURCES, VARIANTS, Table, load_table

PROG = "ci"


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag becomes a one-line UserError instead of usage text plus exit."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{self.prog}: {message} (see {self.prog} --help)")


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# --------------------------------------------------------------------------- shared helpers

# BuildRequest field -> flag, so request errors name the flag the user typed.
_FLAGS = {
    "tf": "--tf",
    "python": "--python",
    "variant": "--variant",
    "cuda_source": "--cuda-source",
    "os": "--os",
    "gpu_base": "--gpu-base",
    "python_source": "--python-source",
}


def add_selectors(parser: argparse.ArgumentParser) -> None:
    """The flags that pick one image; shared by plan and (later) build/test/publish."""
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


def selected_request(args: argparse.Namespace, *, required: bool = False) -> BuildRequest | None:
    """The BuildRequest the selector flags describe, or None when none was given."""
    fields = {field: getattr(args, field, None) for field in _FLAGS}
    if all(value is None for value in fields.values()):
        if required:
            raise UserError("--tf is required to select an image")
        return None
    tf = fields.pop("tf")
    if tf is None:
        raise UserError("--tf is required when selecting an image (or give no selectors for every target)")
    return BuildRequest(tf=tf, **fields)


def load(args: argparse.Namespace) -> tuple[Table, tuple[ImageSpec, ...]]:
    """Load and validate the table, including the target set (tags, aliases)."""
    # --table may come before or after the command; parents share one action, so no set_defaults here.
    table = load_table(Path(getattr(args, "table", DEFAULT_TABLE)))
    return table, resolve_targets(table)


def resolve_selected(table: Table, targets: tuple[ImageSpec, ...], request: BuildRequest) -> ImageSpec:
    try:
        return resolve_with_aliases(table, request, targets)
    except RequestError as exc:
        raise UserError(f"{_FLAGS[exc.field]}: {exc.problem}") from None


def _print_notes(specs: Sequence[ImageSpec]) -> None:
    for line in render.notes(specs):
        print(line, file=sys.stderr)


# --------------------------------------------------------------------------- commands


def configure_plan(parser: argparse.ArgumentParser) -> None:
    add_selectors(parser)
    parser.add_argument(
        "--all", action="store_true", help="every entry of targets: (the default without selectors)"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")


def selected_specs(args: argparse.Namespace) -> tuple[ImageSpec, ...]:
    """The images a command acts on: the one the selectors describe, or every target."""
    table, targets = load(args)
    request = selected_request(args)
    if request is not None and getattr(args, "all", False):
        raise UserError("--all cannot be combined with image selectors (--tf, --python, ...)")
    return targets if request is None else (resolve_selected(table, targets, request),)


def run_plan(args: argparse.Namespace) -> int:
    """Print resolved images without contacting an engine."""
    specs = selected_specs(args)
    print(render.plan_json(specs) if args.format == "json" else render.plan_table(specs))
    _print_notes(specs)
    return 0


def configure_matrix(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=VARIANTS, help="only targets of this variant")


def run_matrix(args: argparse.Namespace) -> int:
    """Print {"include": [...]} for GitHub Actions; unbuildable targets are left out (with a warning)."""
    table, targets = load(args)
    rows = []
    for target, spec in zip(table.targets, targets, strict=True):
        if args.variant is not None and spec.variant != args.variant:
            continue
        if not spec.buildable:
            _print_notes([spec])
            continue
        rows.append(render.matrix_row(spec, target.gpu_base))
    print(render.matrix_json(rows))
    return 0


def configure_promote(parser: argparse.ArgumentParser) -> None:
    add_selectors(parser)
    parser.add_argument("--all", action="store_true", help="every entry of targets: (the default)")
    cli_release.configure_promote(parser)


def run_promote(args: argparse.Namespace) -> int:
    """Copy tested images (by digest) to the release repository and move their aliases."""
    return cli_release.run_promote(args, selected_specs(args))


COMMANDS: tuple[Command, ...] = (
    Command("plan", "print the resolved images (no engine needed)", configure_plan, run_plan),
    Command("matrix", "print the GitHub Actions build matrix as JSON", configure_matrix, run_matrix),
    Command(
        "promote",
        "copy tested images by digest to a release repository and move aliases (no rebuild)",
        configure_promote,
        run_promote,
    ),
    *(Command(*command) for command in cli_build.COMMANDS),
)


# --------------------------------------------------------------------------- entry point


def build_parser(commands: Sequence[Command] = COMMANDS) -> Parser:
    table_flag = Parser(add_help=False)
    table_flag.add_argument(
        "--table",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"versions table (default: {DEFAULT_TABLE.name} at the repository root)",
    )
    parser = Parser(
        prog=PROG,
        description="TensorFlow image pipeline: plan, build, test and publish images from versions.yaml.",
        parents=[table_flag],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for command in commands:
        child = sub.add_parser(
            command.name, help=command.help, description=command.help, parents=[table_flag]
        )
        command.configure(child)
        child.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code: int = args.run(args)
        return code
    except UserError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""Command line: `tf-images <command> ...` (installed), `python ci/main.py <command> ...` or `python -m ci`.

Why this shape: this module is the one place that registers commands (COMMANDS below); each
command's flags live in its own module (ci.cli.plan, ci.cli.build, ci.cli.promote, ...), shared
flags in ci.cli.flags, and each command only parses its flags and calls one function of its stage,
so command modules never import each other or this file. plan and matrix never import dagger, so
they answer in well under a second and need no engine; build and test import dagger inside their
run functions.

Exit codes: 0 success; 1 an image, check, push or registry operation failed; 2 bad input (a
UserError, printed here as one line); 143 / 130 stopped by SIGTERM / SIGINT (ci.cli.signals: child
processes killed and temporary credential files removed first).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from ci.cli import assemble as cli_assemble
from ci.cli import build as cli_build
from ci.cli import index as cli_report
from ci.cli import lock as cli_lock
from ci.cli import plan as cli_plan
from ci.cli import promote as cli_release
from ci.cli import sign as cli_sign
from ci.cli import signals
from ci.cli import verify as cli_verify
from ci.model.errors import UserError
from ci.model.paths import DEFAULT_TABLE

PROG = "tf-images"  # the console script pyproject.toml installs; --help and errors name it


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


COMMANDS: tuple[Command, ...] = (
    Command(
        "plan", "print the resolved images (no engine needed)", cli_plan.configure_plan, cli_plan.run_plan
    ),
    Command(
        "matrix",
        "print the GitHub Actions build matrix as JSON",
        cli_plan.configure_matrix,
        cli_plan.run_matrix,
    ),
    Command(
        "build",
        "build images, check them (and their services), optionally export or publish",
        cli_build.configure_build,
        cli_build.run_build,
    ),
    Command(
        "test",
        "re-run every check on an already built or published image",
        cli_build.configure_test,
        cli_build.run_test,
    ),
    Command(
        "verify",
        "check versions.yaml against the package index (wheels, pins, NVIDIA wheels, new releases)",
        cli_verify.configure_verify,
        cli_verify.run_verify,
    ),
    Command(
        "index",
        "merge the report index.json of several runs (e.g. one per CI job) into one table of images",
        cli_report.configure_index,
        cli_report.run_index,
    ),
    Command(
        "assemble",
        "tag each multi-platform image with the index of its platforms' pushes (one CI job per platform)",
        cli_assemble.configure_assemble,
        cli_assemble.run_assemble,
    ),
    Command(
        "sign",
        "sign the tested, pushed images of a build by digest and attest their SBOM and check results",
        cli_sign.configure_sign,
        cli_sign.run_sign,
    ),
    Command(
        "promote",
        "copy tested images by digest to a release repository and move aliases (no rebuild)",
        cli_release.configure_promote,
        cli_release.run_promote,
    ),
    Command(
        "lock",
        "pin the base images' tags to digests in versions.lock.yaml (or --check the lock)",
        cli_lock.configure_lock,
        cli_lock.run_lock,
    ),
)


# --------------------------------------------------------------------------- entry point


def build_parser(commands: Sequence[Command] = COMMANDS) -> Parser:
    table_flag = Parser(add_help=False)
    table_flag.add_argument(
        "--table",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"versions table (default: {DEFAULT_TABLE}, the one shipped with this installation)",
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
    with signals.clean_exit_on_signals():
        try:
            args = build_parser().parse_args(argv)
            code: int = args.run(args)
            return code
        except UserError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        except BrokenPipeError:  # `... | head`
            return 0
        except signals.Terminated as stop:
            print(f"error: stopped by {stop.name}; temporary files removed", file=sys.stderr)
            return stop.exit_code
        except KeyboardInterrupt:
            return 130

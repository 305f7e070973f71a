"""`build` and `test` commands (registered in ci/main.py's COMMANDS).

Why a separate module: these commands import dagger inside their run functions, so `plan` and
`matrix` never pay for it. Image selection (--tf, --python, ...) comes from ci.select.

Exit codes: 0 every image passed; 1 a build step or a check failed (summary on stdout); 2 bad input
(UserError, printed by ci.main as one line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ci import select
from ci.cli_release import add_registry_credentials
from ci.errors import UserError
from ci.options import DEFAULT_MINICONDA_BASE_URL, BuildOptions

if TYPE_CHECKING:
    from ci.build import Publish
    from ci.report import CheckReport
    from ci.spec import ImageSpec


def add_build_options(parser: argparse.ArgumentParser) -> None:
    """Flags that become BuildOptions (where packages come from, which CA to trust)."""
    group = parser.add_argument_group("package sources and trust (build-time only unless --bake-ca)")
    group.add_argument(
        "--apt-mirror", metavar="URL", help="base URL serving /debian, /debian-security, /ubuntu"
    )
    group.add_argument("--pip-index-url", metavar="URL", help="PyPI replacement for the pip layers")
    group.add_argument("--pip-extra-index-url", metavar="URL", help="extra index for the pip layers")
    group.add_argument(
        "--miniconda-base-url",
        metavar="URL",
        default=DEFAULT_MINICONDA_BASE_URL,
        help=f"where Miniconda installers are downloaded from (default {DEFAULT_MINICONDA_BASE_URL})",
    )
    group.add_argument(
        "--miniconda-file", metavar="FILE", type=Path, help="local installer (still sha256-verified)"
    )
    group.add_argument(
        "--ca-cert", metavar="FILE", type=Path, help="PEM bundle the build trusts (e.g. a TLS proxy's CA)"
    )
    group.add_argument("--bake-ca", action="store_true", help="also install --ca-cert into the image")
    group.add_argument(
        "--require-gpu", action="store_true", help="fail GPU images when TensorFlow sees no GPU"
    )


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-service-checks", action="store_true", help="skip the SSH/JupyterLab/TensorBoard checks"
    )
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="images built concurrently (2)")
    parser.add_argument(
        "--log", action="store_true", help="stream the engine's progress to stderr (or TFCI_DAGGER_LOG=1)"
    )
    parser.add_argument(
        "--report-dir",
        metavar="DIR",
        type=Path,
        help="write per image report.json/report.md/sbom.cdx.json and index.json/index.md (costs an "
        "export of each image); also appended to $GITHUB_STEP_SUMMARY when set",
    )


def report_dir_from(args: argparse.Namespace) -> Path | None:
    """Refuse a --report-dir that cannot be a directory before any build starts."""
    directory: Path | None = args.report_dir
    if directory is not None and directory.exists() and not directory.is_dir():
        raise UserError(f"--report-dir {directory}: exists and is not a directory")
    return directory


def write_reports(directory: Path | None, reports: Sequence[CheckReport]) -> None:
    if directory is None:
        return
    from ci.report_write import write_run

    print(f"reports: {write_run(directory, reports)}")


def options_from(args: argparse.Namespace) -> BuildOptions:
    return BuildOptions(
        apt_mirror=args.apt_mirror,
        pip_index_url=args.pip_index_url,
        pip_extra_index_url=args.pip_extra_index_url,
        miniconda_base_url=args.miniconda_base_url,
        miniconda_file=args.miniconda_file,
        ca_bundle=args.ca_cert,
        bake_ca=args.bake_ca,
        require_gpu=args.require_gpu,
    )


def _jobs(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: expected a number >= 1")
    return int(args.jobs)


def _run_async(args: argparse.Namespace, body: Callable[[], Awaitable[int]]) -> int:
    """Connect to the engine, run body, turn connection problems into one readable line."""
    import subprocess

    import anyio
    import dagger

    from ci.session import session_log

    result: list[int] = []

    async def main(log: TextIO) -> int:
        async with dagger.connection(dagger.Config(log_output=log, execute_timeout=None)):
            result.append(await body())
        return result[0]

    with session_log(sys.stderr, verbose=args.log) as (log, log_path):
        try:
            code = anyio.run(main, log)
        except subprocess.TimeoutExpired:
            # Guard only: ci.session keeps the CLI's output drained, which is what made closes hang.
            if not result:
                print("error: the Dagger engine session timed out", file=sys.stderr)
                return 1
            print("warning: the engine session did not close in time; results are complete", file=sys.stderr)
            code = result[0]
        except dagger.ClientConnectionError as exc:
            print(f"error: cannot reach the Dagger engine: {exc}", file=sys.stderr)
            code = 1
        except dagger.ProvisionError as exc:
            print(f"error: cannot start the Dagger engine session: {exc}", file=sys.stderr)
            code = 1
    if code != 0 and log_path is not None:
        print(f"engine progress log: {log_path}", file=sys.stderr)
    return code


# --------------------------------------------------------------------------- build


def configure_build(parser: argparse.ArgumentParser) -> None:
    select.add_selectors(parser)
    parser.add_argument(
        "--export", metavar="FILE", help="write an OCI tarball (with several images FILE must contain {tag})"
    )
    parser.add_argument(
        "--publish",
        metavar="REGISTRY/REPO",
        help="push each image that passed every check as REGISTRY/REPO:<primary tag> "
        "(aliases move in promote)",
    )
    add_registry_credentials(parser, "registry access (for --publish)")
    add_build_options(parser)
    add_run_flags(parser)


def publish_from(args: argparse.Namespace) -> Publish | None:
    """Validate --publish and read the password before any build starts (nothing half-published)."""
    from ci.build import Publish
    from ci.cli_release import parse_repository, registry_password

    if args.publish is None:
        if args.registry_user:
            raise UserError("--registry-user is only used with --publish REGISTRY/REPO")
        return None
    repo = parse_repository(args.publish, "--publish")
    return Publish(
        repo.registry,
        f"{repo.registry}/{repo.repository}",
        user=args.registry_user,
        password=registry_password(args),
    )


def run_build(args: argparse.Namespace) -> int:
    options = options_from(args)
    jobs = _jobs(args)
    publish = publish_from(args)
    report_dir = report_dir_from(args)
    specs = list(select.selected_specs(args, explicit=True))
    if args.export:
        from ci.build import export_path

        for spec in specs:  # validate the file name before hours of building
            export_path(args.export, spec, len(specs) > 1)
    for spec in specs:
        for warning in spec.warnings:
            print(f"warning: {spec.tag}: {warning}", file=sys.stderr)

    async def body() -> int:
        from ci.build import build_many, exit_code, summary

        reports = await build_many(
            specs,
            options,
            jobs=jobs,
            service_checks=not args.skip_service_checks,
            export=args.export,
            publish=publish,
            report_facts=report_dir is not None,
        )
        print(summary(reports))
        write_reports(report_dir, reports)
        return exit_code(reports)

    return _run_async(args, body)


# --------------------------------------------------------------------------- test


def configure_test(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image", metavar="IMAGE_REF", help="a built or published image, e.g. 127.0.0.1:5000/tensorflow:TAG"
    )
    select.add_selectors(parser, with_all=False)
    add_build_options(parser)
    add_run_flags(parser)


def spec_from_labels(args: argparse.Namespace, labels: dict[str, str]) -> ImageSpec:
    """Without selectors, the image's own io.tfimages.* labels say what it claims to be."""
    table, targets = select.load(args)
    return select.resolve_selected(table, targets, select.request_from_labels(labels, args.image))


def run_test(args: argparse.Namespace) -> int:
    options = options_from(args)
    report_dir = report_dir_from(args)
    # Selectors, when given, are resolved before connecting: bad input fails fast with exit 2.
    selected = select.selected_specs(args)[0] if select.selected_request(args) is not None else None

    async def body() -> int:
        from dagger import QueryError, dag

        from ci.build import exit_code, retest_image, summary

        image = dag.container().from_(args.image)
        try:
            labels = {label.name: label.value for label in await _labels(image)}
        except QueryError as exc:
            print(f"error: cannot pull {args.image}: {exc}", file=sys.stderr)
            return 1
        spec = selected if selected is not None else spec_from_labels(args, labels)
        claimed = labels.get("org.opencontainers.image.version")
        if claimed and claimed != spec.tag:
            print(f"warning: {args.image} is labelled {claimed}, checking it as {spec.tag}", file=sys.stderr)
        report = await retest_image(
            image,
            spec,
            options,
            service_checks=not args.skip_service_checks,
            name=args.image,
            report_facts=report_dir is not None,
        )
        print(summary([report]))
        write_reports(report_dir, [report])
        return exit_code([report])

    return _run_async(args, body)


async def _labels(image: object) -> list[_Label]:
    labels = await image.labels()  # type: ignore[attr-defined]
    return [_Label(await label.name(), await label.value()) for label in labels]


class _Label:
    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

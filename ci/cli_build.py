"""`build` and `test` commands (registered in ci/main.py's COMMANDS).

Why a separate module: these commands import dagger inside their run functions, so `plan` and
`matrix` never pay for it. Image selection (--tf, --python, ...) comes from ci.select.

Exit codes: 0 every image passed; 1 a build step or a check failed (summary on stdout); 2 bad input
(UserError, printed by ci.main as one line).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ci import select
from ci.cli_lock import add_base_mirror_flag
from ci.cli_release import PUBLISH, add_registry_credentials, credentials, registries_from
from ci.errors import UserError
from ci.lock import check_bases, parse_mirrors
from ci.options import DEFAULT_MINICONDA_BASE_URL, BuildOptions, has_credentials, redact
from ci.preflight import (
    PreflightFailed,
    Publish,
    check_export_path,
    check_registry,
    check_report_dir,
    publish_target,
)
from ci.registry import RegistryError
from ci.report import CheckReport
from ci.spec import ImageSpec

if TYPE_CHECKING:
    from ci.remote import RemoteSession


def add_build_options(parser: argparse.ArgumentParser) -> None:
    """Flags that become BuildOptions (where packages come from, which CA to trust)."""
    group = parser.add_argument_group(
        "package sources and trust (build-time only unless --bake-ca); a URL that carries "
        "credentials goes in the TFCI_* variable named in its help, never in a flag"
    )
    for flag, what in URL_FLAGS.items():
        group.add_argument(flag, metavar="URL", help=f"{what} (or ${_url_env(flag)})")
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
        help="write per image report.json/report.md/sbom.cdx.json and index.json/index.md (index.json "
        "is what `promote --results` reads: every tag, the pushed digest, check results; costs an "
        "export of each image); also appended to $GITHUB_STEP_SUMMARY when set",
    )
    parser.add_argument(
        "--engine",
        metavar="URL",
        help="a running Dagger engine to use, e.g. tcp://HOST:1234, kube-pod://POD (default: the CLI's)",
    )


def report_dir_from(args: argparse.Namespace) -> Path | None:
    """Refuse a --report-dir that cannot be a directory before any build starts."""
    directory: Path | None = args.report_dir
    if directory is not None:
        check_report_dir(directory)
    return directory


def write_reports(directory: Path | None, reports: Sequence[CheckReport]) -> None:
    if directory is None:
        return
    from ci.report_write import write_run

    print(f"reports: {write_run(directory, reports)}")


URL_FLAGS = {
    "--apt-mirror": "base URL serving /debian, /debian-security, /ubuntu",
    "--pip-index-url": "PyPI replacement for the pip layers",
    "--pip-extra-index-url": "extra index for the pip layers",
    "--miniconda-base-url": f"where Miniconda installers come from (default {DEFAULT_MINICONDA_BASE_URL})",
}


def _url_env(flag: str) -> str:
    return "TFCI_" + flag.lstrip("-").replace("-", "_").upper()


def url_option(args: argparse.Namespace, flag: str) -> str | None:
    """A mirror URL from its flag or, when it carries credentials, from its TFCI_* variable.

    Why not a flag: a flag value is visible to every user in `ps` and lands in shell history and
    CI logs; a token in it would leak before the build even starts.
    """
    value: str | None = getattr(args, flag.lstrip("-").replace("-", "_"))
    if value is not None:
        if has_credentials(value):
            raise UserError(
                f"{flag} {redact(value)!r}: the URL carries credentials; a flag value shows in `ps` "
                f"and shell history, so put it in ${_url_env(flag)} instead"
            )
        return value
    return os.environ.get(_url_env(flag)) or None


def add_cache_flags(parser: argparse.ArgumentParser) -> None:
    """Remote layer cache (ci/remote.py): share layers across CI runners and runs."""
    group = parser.add_argument_group("remote layer cache (BuildKit cache backends; see ci/remote.py)")
    group.add_argument(
        "--cache-to",
        action="append",
        default=[],
        metavar="REPO|CONFIG",
        help="export the session's layers: REGISTRY/REPO (one ref per image: REPO:<tag>), REPO:TAG, "
        "or a BuildKit config such as type=registry,ref=...,mode=max or type=gha,scope=...",
    )
    group.add_argument(
        "--cache-from",
        action="append",
        default=[],
        metavar="REPO|CONFIG",
        help="import layers (repeatable): REGISTRY/REPO reads REPO:<tag> of the image and of every "
        "target that shares its base, OS and Python; or REPO:TAG or a BuildKit config",
    )


def remote_from(
    args: argparse.Namespace, specs: Sequence[ImageSpec], targets: Sequence[ImageSpec] = ()
) -> RemoteSession:
    from ci.remote import from_flags

    return from_flags(
        cache_to=getattr(args, "cache_to", []),
        cache_from=getattr(args, "cache_from", []),
        engine=args.engine,
        specs=specs,
        targets=targets,
    )


def options_from(args: argparse.Namespace) -> BuildOptions:
    return BuildOptions(
        apt_mirror=url_option(args, "--apt-mirror"),
        pip_index_url=url_option(args, "--pip-index-url"),
        pip_extra_index_url=url_option(args, "--pip-extra-index-url"),
        miniconda_base_url=url_option(args, "--miniconda-base-url") or DEFAULT_MINICONDA_BASE_URL,
        miniconda_file=args.miniconda_file,
        ca_bundle=args.ca_cert,
        bake_ca=args.bake_ca,
        require_gpu=args.require_gpu,
    )


def _jobs(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: expected a number >= 1")
    return int(args.jobs)


def _run_async(
    args: argparse.Namespace, body: Callable[[], Awaitable[int]], remote: RemoteSession | None = None
) -> int:
    from ci.session import run_session

    return run_session(body, verbose=args.log, remote=remote)


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
    add_registry_credentials(parser, "registry access (for --publish and the locked-base check)")
    add_base_mirror_flag(parser)
    parser.add_argument(
        "--no-base-check",
        action="store_true",
        help="do not check that locked base digests (versions.lock.yaml) still resolve before building",
    )
    add_build_options(parser)
    add_run_flags(parser)
    add_cache_flags(parser)


def publish_from(args: argparse.Namespace) -> Publish | None:
    """Validate --publish and its credentials before any build starts (nothing half-published)."""
    if args.publish is None:
        for flag, value in (
            ("--registry-user", args.registry_user),
            ("--password-file", args.password_file),
        ):
            if value:
                raise UserError(f"{flag} is only used with --publish REGISTRY/REPO")
        return None
    return publish_target(args.publish, credentials(args, PUBLISH))


def preflight(args: argparse.Namespace, publish: Publish | None, specs: list[ImageSpec]) -> str | None:
    """Registries, in seconds, before any build work: the one-line reason to stop, or None.

    The --publish registry must answer and accept the credentials; every base pinned by digest
    (versions.lock.yaml) must still be there (a moved tag is only a warning: builds use the digest).
    """
    bases = {spec.base_image: spec.base_digest for spec in specs if spec.base_digest}
    check_bases_now = bases and not args.no_base_check
    if publish is None and not check_bases_now:
        return None
    mirrors = parse_mirrors(args.base_mirror)
    with registries_from(args) as registries:
        try:
            if publish is not None:
                check_registry(registries, publish)
            if check_bases_now:
                findings = check_bases(registries, {k: v for k, v in bases.items() if v}, mirrors)
                for finding in findings:
                    if finding.severity == "warning":
                        print(f"warning: base {finding.message}", file=sys.stderr)
                errors = [f.message for f in findings if f.severity == "error"]
                if errors:
                    return f"base image {'; '.join(errors)}"
        except PreflightFailed as err:
            return str(err)
        except RegistryError as err:
            return f"cannot check the locked base images ({err}); --no-base-check skips this"
    return None


def run_build(args: argparse.Namespace) -> int:
    options = options_from(args)
    jobs = _jobs(args)
    publish = publish_from(args)
    report_dir = report_dir_from(args)
    specs = list(select.selected_specs(args, explicit=True))
    if args.export:
        from ci.build import export_path

        for spec in specs:  # validate the file name before hours of building
            check_export_path(export_path(args.export, spec, len(specs) > 1))
    problem = preflight(args, publish, specs)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    remote = remote_from(args, specs, select.load(args)[1] if args.cache_from else ())
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

    return _run_async(args, body, remote)


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
    remote = remote_from(args, [])

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

    return _run_async(args, body, remote)


async def _labels(image: object) -> list[_Label]:
    labels = await image.labels()  # type: ignore[attr-defined]
    return [_Label(await label.name(), await label.value()) for label in labels]


class _Label:
    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

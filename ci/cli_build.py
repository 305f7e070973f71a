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
    from ci.remote import RemoteSession
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
        "--engine",
        metavar="URL",
        help="a running Dagger engine to use, e.g. tcp://HOST:1234, kube-pod://POD (default: the CLI's)",
    )


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


def _run_async(
    args: argparse.Namespace, body: Callable[[], Awaitable[int]], remote: RemoteSession | None = None
) -> int:
    """Connect to the engine, run body, turn connection problems into one readable line.

    `remote` (ci/remote.py) sets the engine address and cache imports/exports for this session
    only; a cache export, which the engine runs when the session closes, is checked afterwards.
    """
    import subprocess

    import anyio
    import dagger

    from ci.remote import RemoteSession
    from ci.session import session_log

    result: list[int] = []
    remote = remote or RemoteSession()

    async def main(log: TextIO) -> int:
        async with dagger.connection(dagger.Config(log_output=log, execute_timeout=None)):
            result.append(await body())
            await remote.mark()
        return result[0]

    with remote.session_env(), session_log(sys.stderr, verbose=args.log) as (log, log_path):
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
            what = "close (a cache export runs then)" if result else "start"
            print(f"error: cannot {what} the Dagger engine session: {exc}", file=sys.stderr)
            code = 1
    if result and remote.exporting and not remote.report(sys.stdout) and code == 0:
        code = 1  # the images are fine, but the cache export asked for did not happen
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
    add_cache_flags(parser)


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
    specs = list(select.selected_specs(args, explicit=True))
    if args.export:
        from ci.build import export_path

        for spec in specs:  # validate the file name before hours of building
            export_path(args.export, spec, len(specs) > 1)
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
        )
        print(summary(reports))
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
            image, spec, options, service_checks=not args.skip_service_checks, name=args.image
        )
        print(summary([report]))
        return exit_code([report])

    return _run_async(args, body, remote)


async def _labels(image: object) -> list[_Label]:
    labels = await image.labels()  # type: ignore[attr-defined]
    return [_Label(await label.name(), await label.value()) for label in labels]


class _Label:
    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

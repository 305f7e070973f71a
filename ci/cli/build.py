"""`build` and `test`: parse the flags, then hand them to the pipeline (ci.pipeline).

Why apart from the other commands: the pipeline imports dagger inside its run functions, so `plan`
and `matrix` never pay for it.

Exit codes: 0 every image passed; 1 a build step, a check or a registry failed (summary on stdout);
2 bad input (UserError, printed by ci.cli.main as one line).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ci.cli import flags
from ci.model.errors import UserError
from ci.model.paths import CONTEXT_DIR
from ci.pipeline.preflight import BuildInputs, PreflightFailed, VulnInputs, make_plan
from ci.pipeline.retest import TestInputs, retest
from ci.pipeline.run import execute


def configure_build(parser: argparse.ArgumentParser) -> None:
    flags.add_selectors(parser)
    parser.add_argument(
        "--export", metavar="FILE", help="write an OCI tarball (with several images FILE must contain {tag})"
    )
    parser.add_argument(
        "--publish",
        metavar="REGISTRY/REPO[:TAG]",
        help="push each image that passed every check (every platform of it: one image index) as "
        "REGISTRY/REPO:<primary tag>, or as :TAG, where {tag} stands for the primary tag, e.g. "
        "REPO:{tag}-linux-arm64 (aliases move in promote)",
    )
    parser.add_argument(
        "--context",
        metavar="DIR",
        type=Path,
        default=CONTEXT_DIR,
        help=f"the image's context/ (boot script, configs; default: {CONTEXT_DIR})",
    )
    flags.add_registry_credentials(parser, "registry access (for --publish and the locked-base check)")
    flags.add_base_mirror_flag(parser)
    parser.add_argument(
        "--no-base-check",
        action="store_true",
        help="do not check that locked base digests (versions.lock.yaml) still resolve before building",
    )
    flags.add_build_options(parser)
    flags.add_run_flags(parser)
    flags.add_vuln_flags(parser)
    flags.add_cache_flags(parser)


def run_build(args: argparse.Namespace) -> int:
    if args.publish is None:
        for flag, value in (("--registry-user", args.registry_user), ("--password-file", args.password_file)):
            if value:
                raise UserError(f"{flag} is only used with --publish REGISTRY/REPO")
    credentials = flags.credentials(args, flags.PUBLISH) if args.publish else None
    inputs = BuildInputs(
        selection=flags.selection(args),
        options=flags.options_from(args),
        jobs=args.jobs,
        service_checks=not args.skip_service_checks,
        export=args.export,
        publish=args.publish,
        publish_credentials=credentials,
        report_dir=args.report_dir,
        transport=flags.transport(args),
        base_mirrors=tuple(args.base_mirror),
        base_check=not args.no_base_check,
        cache_to=tuple(args.cache_to),
        cache_from=tuple(args.cache_from),
        engine=args.engine,
        verbose=args.log,
        vuln=_vuln(args),
        context_dir=args.context,
    )
    try:
        plan = make_plan(inputs)
    except PreflightFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return execute(plan)


def configure_test(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image", metavar="IMAGE_REF", help="a built or published image, e.g. 127.0.0.1:5000/tensorflow:TAG"
    )
    flags.add_selectors(parser, with_all=False)
    flags.add_build_options(parser)
    flags.add_run_flags(parser)
    flags.add_vuln_flags(parser)


def _vuln(args: argparse.Namespace) -> VulnInputs:
    return VulnInputs(gate=flags.vuln_gate(args), waivers=args.waivers, database=args.vuln_db)


def run_test(args: argparse.Namespace) -> int:
    return retest(
        TestInputs(
            image=args.image,
            selection=flags.selection(args),
            options=flags.options_from(args),
            service_checks=not args.skip_service_checks,
            report_dir=args.report_dir,
            engine=args.engine,
            verbose=args.log,
            vuln=_vuln(args),
        )
    )

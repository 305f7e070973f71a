"""`promote`: copy tested images by digest to a release repository (ci.registry.release does it).

Why credentials per registry: staging and release are often different registries (or owners) with
different tokens, and a token must only ever reach the registry it belongs to. So the source and the
target each get their own user and password (`--from-user` / `--to-user`, passwords from the
environment or a file, never a flag value), or an auth file in the Docker/containers format (what
`docker login` / `skopeo login` already wrote), which is keyed by registry.

Why verification is not optional by default: a release repository should hold only images whose
signature, SBOM and check results verify and whose vulnerabilities pass the gate today
(ci/supply/policy.py). `--verify-key` (a key pair) or `--certificate-identity` with
`--certificate-oidc-issuer` (keyless, the workflow) say whose signatures count; `--no-verify` copies
without any of it and says so.

Exit codes: 0 every tag promoted (or already there); 1 an image was refused, or a registry refused or
failed (journal says what moved); 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ci import select
from ci.cli import flags
from ci.model.errors import UserError
from ci.model.outputs import check_output_file
from ci.model.refs import parse_repository
from ci.model.spec import ImageSpec
from ci.registry.release import PromoteRequest
from ci.registry.release import run_promote as promote_images
from ci.report.results import RunResult, read_results
from ci.supply.cosign import Verifier
from ci.supply.policy import Policy, make_policy

DEFAULT_JOURNAL = "promote-journal.json"


def configure_promote(parser: argparse.ArgumentParser) -> None:
    flags.add_selectors(parser)
    flags.add_results_flag(
        parser,
        required=False,
        help="index.json files written by `build --report-dir` (one per build job): promote exactly "
        "the digests those builds tested and pushed, instead of resolving staging tags now",
    )
    parser.add_argument(
        "--from",
        dest="source_repo",
        metavar="REGISTRY/REPO",
        help="where CI published the tested images (by primary tag); implied by --results",
    )
    parser.add_argument(
        "--to",
        dest="target_repo",
        required=True,
        metavar="REGISTRY/REPO",
        help="release repository (may equal --from to only move aliases)",
    )
    parser.add_argument("--no-aliases", action="store_true", help="copy primary tags only")
    parser.add_argument("--dry-run", action="store_true", help="resolve and print, write nothing")
    parser.add_argument(
        "--journal",
        type=Path,
        default=Path(DEFAULT_JOURNAL),
        metavar="FILE",
        help=f"where every tag's outcome is written as JSON (default {DEFAULT_JOURNAL})",
    )
    verify = parser.add_argument_group(
        "verification before copying (signature, SBOM and check-results attestations; one of)"
    )
    verify.add_argument(
        "--verify-key", metavar="KEY", help="cosign public key (a file or a URI) the images are signed with"
    )
    verify.add_argument(
        "--certificate-identity",
        metavar="ID",
        help="keyless: the signer's identity, e.g. https://github.com/OWNER/REPO/.github/workflows/images.yml@refs/heads/main",
    )
    verify.add_argument(
        "--certificate-oidc-issuer",
        metavar="URL",
        help="keyless: the identity's issuer, e.g. https://token.actions.githubusercontent.com",
    )
    verify.add_argument(
        "--no-verify", action="store_true", help="copy without verifying anything (unsigned images); says so"
    )
    flags.add_vuln_flags(parser, default_gate="HIGH")
    group = parser.add_argument_group("registry access")
    flags.add_credential_flags(group, flags.SOURCE, "the --from registry")
    flags.add_credential_flags(group, flags.TARGET, "the --to registry")
    flags.add_transport_flags(group)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def run_promote(args: argparse.Namespace) -> int:
    """Copy tested images (by digest) to the release repository and move their aliases."""
    target = parse_repository(args.target_repo, "--to")
    source = parse_repository(args.source_repo, "--from") if args.source_repo else None
    chosen = flags.selection(args)
    results: list[RunResult] = []
    specs: tuple[ImageSpec, ...] = ()
    if args.results:
        if chosen.request is not None or chosen.all:
            raise UserError("--results names the images; give no selectors or --all with it")
        if source is None and (args.from_user or args.from_password_file):
            raise UserError(
                "--from-user needs --from REGISTRY/REPO with --results: source credentials are only "
                "sent to the --from registry (or use --authfile, keyed by registry)"
            )
        results = [entry for path in args.results for entry in read_results(path)]
        if not results:
            raise UserError(f"--results {' '.join(map(str, args.results))}: lists no images to promote")
    else:
        if source is None:
            raise UserError("--from REGISTRY/REPO is required without --results")
        specs = select.selected_specs(chosen)
    check_output_file(args.journal, "--journal")
    source_credentials = flags.credentials(args, flags.SOURCE)
    target_credentials = flags.credentials(args, flags.TARGET)
    transport = flags.transport(args)
    policy = verification(args)
    request = PromoteRequest(
        target=target,
        source=source,
        results=tuple(results),
        specs=specs,
        aliases=not args.no_aliases,
        dry_run=args.dry_run,
        journal=args.journal,
        source_credentials=source_credentials,
        target_credentials=target_credentials,
        transport=transport,
        policy=policy,
    )
    return promote_images(request, warn=_warn)


def verification(args: argparse.Namespace) -> Policy | None:
    """The policy promote applies before copying; None with --no-verify (a warning says so)."""
    keyless = args.certificate_identity is not None or args.certificate_oidc_issuer is not None
    if args.no_verify:
        if args.verify_key or keyless:
            raise UserError(
                "--no-verify copies without verifying; give it alone, without --verify-key or --certificate-*"
            )
        _warn("--no-verify: copying without checking signatures, attestations or vulnerabilities")
        return None
    if args.verify_key is not None and keyless:
        raise UserError("give --verify-key KEY or --certificate-identity/--certificate-oidc-issuer, not both")
    if args.verify_key is not None:
        if "://" not in args.verify_key and not Path(args.verify_key).is_file():
            raise UserError(f"--verify-key {args.verify_key}: no such file (a cosign public key)")
        verifier = Verifier(key=args.verify_key)
    elif keyless:
        if not (args.certificate_identity and args.certificate_oidc_issuer):
            raise UserError(
                "keyless verification needs both --certificate-identity and --certificate-oidc-issuer"
            )
        verifier = Verifier(identity=args.certificate_identity, issuer=args.certificate_oidc_issuer)
    else:
        raise UserError(
            "promote verifies each image before copying it: give --verify-key KEY, or --certificate-identity "
            "ID with --certificate-oidc-issuer URL (keyless), or --no-verify to copy unverified images"
        )
    return make_policy(verifier, flags.vuln_gate(args), args.waivers, args.vuln_db)

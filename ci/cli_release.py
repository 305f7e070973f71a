"""`promote`, and the registry flags `build --publish` shares with it.

Why credentials per registry: staging and release are often different registries (or owners) with
different tokens, and a token must only ever reach the registry it belongs to. So the source and the
target each get their own user and password (`--from-user` / `--to-user`, passwords from the
environment or a file, never a flag value), or an auth file in the Docker/containers format (what
`docker login` / `skopeo login` already wrote), which is keyed by registry.

Exit codes: 0 every tag promoted (or already there); 1 a registry refused or failed (journal says
what moved); 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ci import select
from ci.errors import UserError
from ci.registry import (
    Credentials,
    Registries,
    RegistryError,
    parse_repository,
    read_password_file,
)
from ci.release import Journal, plan_from_results, plan_from_tags, promote
from ci.report import RunResult, read_results
from ci.spec import ImageSpec

DEFAULT_JOURNAL = "promote-journal.json"


@dataclass(frozen=True)
class CredentialFlags:
    """Names of one registry's credential flags and password variable, for messages."""

    user_flag: str
    file_flag: str
    env: str


PUBLISH = CredentialFlags("--registry-user", "--password-file", "REGISTRY_PASSWORD")
SOURCE = CredentialFlags("--from-user", "--from-password-file", "FROM_REGISTRY_PASSWORD")
TARGET = CredentialFlags("--to-user", "--to-password-file", "TO_REGISTRY_PASSWORD")


def add_transport_flags(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--authfile",
        type=Path,
        metavar="FILE",
        help="Docker/containers auth file (keyed by registry), e.g. ~/.docker/config.json",
    )
    group.add_argument(
        "--registry-ca-cert", type=Path, metavar="PEM", help="extra CA bundle for https registries"
    )
    group.add_argument(
        "--plain-http",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="registry spoken to over plain http, without TLS (repeatable)",
    )


def add_credential_flags(group: argparse._ArgumentGroup, flags: CredentialFlags, whom: str) -> None:
    group.add_argument(flags.user_flag, metavar="USER", help=f"user for {whom}")
    group.add_argument(
        flags.file_flag,
        type=Path,
        metavar="FILE",
        help=f"file holding that user's password or token (default: ${flags.env})",
    )


def add_registry_credentials(parser: argparse.ArgumentParser, title: str) -> None:
    """build --publish: one registry's credentials plus the transport flags."""
    group = parser.add_argument_group(title)
    add_credential_flags(group, PUBLISH, "the --publish registry")
    add_transport_flags(group)


def credentials(args: argparse.Namespace, flags: CredentialFlags) -> Credentials | None:
    """User and password for one registry, from the flag pair plus env var; None when no user.

    Why no --password flag: a flag value lands in shell history, `ps` output and CI logs.
    """
    user = getattr(args, _dest(flags.user_flag))
    password_file = getattr(args, _dest(flags.file_flag))
    if not user:
        if password_file is not None:
            raise UserError(f"{flags.file_flag} needs {flags.user_flag} USER (whose password it holds)")
        return None
    if any(c.isspace() or c == ":" for c in user):
        raise UserError(f"{flags.user_flag} {user!r}: a user name has no whitespace or ':'")
    if password_file is not None:
        password = read_password_file(password_file, flags.file_flag)
    else:
        password = os.environ.get(flags.env, "").strip()
    if not password:
        raise UserError(f"{flags.user_flag} needs a password: set {flags.env} or pass {flags.file_flag} FILE")
    return Credentials(user, password)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def registries_from(args: argparse.Namespace) -> Registries:
    for value in args.plain_http:
        parse_repository(f"{value}/x", "--plain-http")  # same host:port rules as references
    return Registries(
        ca_bundle=args.registry_ca_cert,
        plain_http=frozenset(args.plain_http),
        authfile=args.authfile,
    )


# --------------------------------------------------------------------------- promote


def configure_promote(parser: argparse.ArgumentParser) -> None:
    select.add_selectors(parser)
    parser.add_argument(
        "--results",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="FILE",
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
    group = parser.add_argument_group("registry access")
    add_credential_flags(group, SOURCE, "the --from registry")
    add_credential_flags(group, TARGET, "the --to registry")
    add_transport_flags(group)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def run_promote(args: argparse.Namespace) -> int:
    """Copy tested images (by digest) to the release repository and move their aliases."""
    target = parse_repository(args.target_repo, "--to")
    source = parse_repository(args.source_repo, "--from") if args.source_repo else None
    if args.results:
        if select.selected_request(args) is not None or args.all:
            raise UserError("--results names the images; give no selectors or --all with it")
        results = [entry for path in args.results for entry in read_results(path)]
        specs: tuple[ImageSpec, ...] = ()
    else:
        if source is None:
            raise UserError("--from REGISTRY/REPO is required without --results")
        results = []
        specs = select.selected_specs(args)
    source_creds, target_creds = credentials(args, SOURCE), credentials(args, TARGET)
    if args.journal.is_dir():
        raise UserError(f"--journal {args.journal}: is a directory; give a file name")
    with registries_from(args) as registries:
        journal = Journal(str(source.name if source else "results"), target.name, args.journal)
        try:
            # Preflight: both registries answer and accept their own credentials before any copy.
            sources = {source.registry} if source else _result_registries(results)
            login_all(registries, sources, target.registry, source_creds, target_creds)
            if results:
                plans = plan_from_results(
                    registries, results, target, aliases=not args.no_aliases, source=source, warn=_warn
                )
            else:
                assert source is not None
                plans = plan_from_tags(registries, specs, source, target, aliases=not args.no_aliases)
            promote(registries, plans, journal, dry_run=args.dry_run)
        except RegistryError as err:
            moved = journal.summary() if journal.entries else "nothing written"
            where = f"; journal: {args.journal}" if journal.entries else ""
            print(f"error: promote: {err} ({moved}{where})", file=sys.stderr)
            return 1
    print(f"promote: {journal.summary()}; journal: {args.journal}")
    return 0


def _result_registries(results: list[RunResult]) -> set[str]:
    return {parse_repository(r.pushed.repository, r.source).registry for r in results if r.pushed is not None}


def login_all(
    registries: Registries,
    sources: set[str],
    target: str,
    source_creds: Credentials | None,
    target_creds: Credentials | None,
) -> None:
    """Check each registry's own credentials up front. One registry serving as both source and
    target gets the target's credentials (they must be able to push); a credential is never used
    for any other registry."""
    logins: dict[str, Credentials] = {}
    if source_creds is not None:
        logins.update(dict.fromkeys(sources, source_creds))
    if target_creds is not None:
        logins[target] = target_creds
    for registry, creds in sorted(logins.items()):
        registries.login(registry, creds)

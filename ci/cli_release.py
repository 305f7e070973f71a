"""`promote`: release engineers move tested images to release names without rebuilding.

Why a separate step: CI builds, checks and publishes each image under its primary tag in a
staging repository; only after a human (or a green pipeline) says so are those exact digests
copied to the release repository and the floating aliases (`2.15-gpu`, `latest-gpu`, ...) moved.
Every source is resolved to a digest before anything is written, so a missing or bad source
stops the run with nothing half-promoted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ci import select
from ci.errors import UserError
from ci.registry import Credentials, Reference, RegistryClient, RegistryError, parse_reference
from ci.spec import ImageSpec


@dataclass(frozen=True)
class Promotion:
    spec: ImageSpec
    source: Reference
    digest: str
    targets: tuple[Reference, ...]


def add_registry_credentials(parser: argparse.ArgumentParser, title: str) -> argparse._ArgumentGroup:
    """--registry-user and --password-file; the password itself never comes from a flag value."""
    group = parser.add_argument_group(title)
    group.add_argument("--registry-user", metavar="USER", help="user for every registry named here")
    group.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="file holding the registry password (default: $REGISTRY_PASSWORD)",
    )
    return group


def add_registry_auth(parser: argparse.ArgumentParser) -> None:
    """Credentials plus the transport flags the promote client (not the engine) needs."""
    group = add_registry_credentials(parser, "registry access")
    group.add_argument(
        "--registry-ca-cert", type=Path, metavar="PEM", help="extra CA bundle for https registries"
    )
    group.add_argument(
        "--plain-http",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="registry spoken to over plain http (loopback registries always are)",
    )


def registry_password(args: argparse.Namespace) -> str | None:
    """The password for --registry-user, from --password-file or $REGISTRY_PASSWORD (never a flag).

    Why no --password flag: a flag value lands in shell history, `ps` output and CI logs.
    """
    if not args.registry_user:
        return None
    if args.password_file is not None:
        try:
            password = str(args.password_file.read_text()).strip()
        except OSError as err:
            raise UserError(f"--password-file {args.password_file}: {err.strerror}") from None
    else:
        password = os.environ.get("REGISTRY_PASSWORD", "")
    if not password:
        raise UserError("--registry-user needs a password: set REGISTRY_PASSWORD or pass --password-file")
    return password


def parse_repository(text: str, flag: str) -> Reference:
    """REGISTRY/REPO for --from/--to/--publish: a registry host is required, a tag is not allowed."""
    ref = parse_reference(text, what=flag)
    if ref.tag or ref.digest:
        raise UserError(f"{flag} {text!r}: give a repository without :tag or @digest")
    return ref


def client_from_args(args: argparse.Namespace, registries: set[str]) -> RegistryClient:
    creds: dict[str, Credentials] = {}
    password = registry_password(args)
    if password is not None:
        creds = {registry: Credentials(args.registry_user, password) for registry in registries}
    if args.registry_ca_cert is not None and not args.registry_ca_cert.is_file():
        raise UserError(f"--registry-ca-cert {args.registry_ca_cert}: no such file")
    return RegistryClient(creds, ca_bundle=args.registry_ca_cert, plain_http=frozenset(args.plain_http))


def configure_promote(parser: argparse.ArgumentParser) -> None:
    select.add_selectors(parser)
    parser.add_argument(
        "--from",
        dest="source_repo",
        required=True,
        metavar="REGISTRY/REPO",
        help="where CI published the tested images (by primary tag)",
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
    add_registry_auth(parser)


def plan_promotions(
    client: RegistryClient, specs: tuple[ImageSpec, ...], source: Reference, target: Reference, aliases: bool
) -> list[Promotion]:
    """Resolve every source digest first: one missing source means nothing is written."""
    plans: list[Promotion] = []
    missing: list[str] = []
    for spec in specs:
        src = source.with_tag(spec.tag)
        try:
            digest = client.digest_of(src)
        except RegistryError as err:
            missing.append(f"{src} ({err})")
            continue
        tags = spec.all_tags if aliases else (spec.tag,)
        plans.append(Promotion(spec, src, digest, tuple(target.with_tag(t) for t in tags)))
    if missing:
        raise UserError(f"nothing promoted: {len(missing)} source image(s) not found: {'; '.join(missing)}")
    return plans


def promote(client: RegistryClient, plans: list[Promotion]) -> list[dict[str, str]]:
    results: list[dict[str, str]] = []
    for plan in plans:
        pinned = Reference(plan.source.registry, plan.source.repository, None, plan.digest)
        for dst in plan.targets:
            digest = client.copy(pinned, dst)
            results.append({"source": str(plan.source), "target": str(dst), "digest": digest})
    return results


def run_promote(args: argparse.Namespace) -> int:
    """Copy tested images (by digest) to the release repository and move their aliases."""
    specs = select.selected_specs(args)
    source = parse_repository(args.source_repo, "--from")
    target = parse_repository(args.target_repo, "--to")
    client = client_from_args(args, {source.registry, target.registry})
    try:
        plans = plan_promotions(client, specs, source, target, aliases=not args.no_aliases)
        if args.dry_run:
            for plan in plans:
                for dst in plan.targets:
                    print(f"would copy {plan.source}@{plan.digest} -> {dst}")
            return 0
        results = promote(client, plans)
    except RegistryError as err:
        print(f"error: promote: {err}", file=sys.stderr)
        return 1
    print(json.dumps({"promoted": results}, indent=2))
    return 0

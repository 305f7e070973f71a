"""`sign`: sign and attest the images a build tested and pushed (ci.supply.sign does it).

Why `--key` or `--keyless`, never a default: signing keylessly opens an OIDC login wherever no CI
token is around, and signing with the wrong key is worse than an error. The key's password comes from
$COSIGN_PASSWORD or a file, never a flag value; registry credentials as for `build --publish`.

Exit codes: 0 every image signed and attested; 1 a registry or cosign refused; 2 bad input.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ci.cli import flags
from ci.model.errors import UserError
from ci.model.inputs import read_input
from ci.supply.cosign import Signer
from ci.supply.sign import SignRequest
from ci.supply.sign import run_sign as sign_images

PASSWORD_ENV = "COSIGN_PASSWORD"  # noqa: S105 - the variable's name, not a password


def configure_sign(parser: argparse.ArgumentParser) -> None:
    flags.add_results_flag(
        parser,
        required=True,
        help="index.json files written by `build --report-dir --publish`: sign each image that passed and "
        "was pushed, by its pushed digest, and attest its SBOM (the file next to the index) and its checks",
    )
    how = parser.add_argument_group("how to sign (one of)")
    how.add_argument(
        "--key",
        metavar="KEY",
        help=f"cosign private key: a file, or a URI cosign reads such as env://VAR; its password from "
        f"${PASSWORD_ENV} (empty for none) or --key-password-file",
    )
    how.add_argument("--key-password-file", type=Path, metavar="FILE", help="file holding the key's password")
    how.add_argument(
        "--keyless",
        action="store_true",
        help="sign with the CI's OIDC identity (GitHub: id-token: write) and Sigstore's public log",
    )
    flags.add_registry_credentials(parser, "registry access (the registry the images were pushed to)")


def signer(args: argparse.Namespace) -> Signer:
    if args.keyless == (args.key is not None):
        raise UserError("sign: give --key KEY (a cosign key pair) or --keyless (the CI's OIDC identity)")
    if args.keyless:
        if args.key_password_file is not None:
            raise UserError("--key-password-file is for --key; --keyless signs without a key")
        return Signer()
    if args.key_password_file is not None:
        raw = read_input(args.key_password_file, "--key-password-file", "a file holding the key's password")
        password = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    elif PASSWORD_ENV in os.environ:
        password = os.environ[PASSWORD_ENV]
    else:
        raise UserError(
            f"--key {args.key}: set ${PASSWORD_ENV} (empty for a key without a password) or pass "
            "--key-password-file FILE"
        )
    if "://" not in args.key and not Path(args.key).is_file():
        raise UserError(f"--key {args.key}: no such file (a cosign private key, or a URI such as env://VAR)")
    return Signer(key=args.key, password=password)


def run_sign(args: argparse.Namespace) -> int:
    """Sign every tested, pushed image of the results and attest its SBOM and check results."""
    request = SignRequest(
        results=tuple(args.results),
        signer=signer(args),
        credentials=flags.credentials(args, flags.PUBLISH),
        transport=flags.transport(args),
    )
    return sign_images(request)

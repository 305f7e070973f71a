"""The flags several commands share, and how their values become stage inputs.

Why one module: selectors (every command), registry access (build, promote, lock), package sources
(build, test, verify) and the engine flags must be spelled, documented and validated the same way
everywhere; command modules only add their own flags and never import each other.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from ci.build.commit import commit_of
from ci.build.options import DEFAULT_MINICONDA_BASE_URL, BuildOptions
from ci.model import refs
from ci.model.errors import UserError
from ci.model.inputs import read_password_file
from ci.model.paths import DEFAULT_TABLE, DEFAULT_WAIVERS
from ci.model.provenance import provenance
from ci.model.spec import CUDA_SOURCES, PYTHON_SOURCES, VARIANTS
from ci.model.urls import check_url, has_credentials, redact
from ci.model.vulns import GATE_LEVELS, NO_GATE, Severity, parse_gate
from ci.registry.skopeo import Credentials, Transport
from ci.select import FLAGS, Selection

# --------------------------------------------------------------------------- build results


def add_results_flag(parser: argparse.ArgumentParser, *, required: bool, help: str) -> None:
    """--results INDEX_JSON...: the index.json files `build --report-dir` (or `assemble`) wrote.

    One spelling for every command that acts on what builds tested and pushed (sign, promote,
    assemble): repeatable, several files per flag, one per CI job.
    """
    parser.add_argument(
        "--results",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        required=required,
        metavar="INDEX_JSON",
        help=help,
    )


# --------------------------------------------------------------------------- selectors


def add_selectors(parser: argparse.ArgumentParser, *, with_all: bool = True) -> None:
    """The flags that pick one image (and --all for every target)."""
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
    group.add_argument(
        "--platform",
        action="append",
        metavar="OS/ARCH",
        help="build only these platforms of the image, e.g. linux/arm64 (repeatable or comma-separated;"
        " default: every platform versions.yaml builds it for)",
    )
    if with_all:
        group.add_argument("--all", action="store_true", help="every entry of targets: in versions.yaml")


def selection(args: argparse.Namespace) -> Selection:
    """The selector flags (and --table, which may come before or after the command), plus the
    provenance of the checkout that holds the table (ci.model.provenance)."""
    table = Path(getattr(args, "table", DEFAULT_TABLE))
    fields = {field: getattr(args, field, None) for field in FLAGS if field != "platforms"}
    platforms = getattr(args, "platform", None)
    fields["platforms"] = ",".join(platforms) if platforms else None
    return Selection(
        table=table,
        fields=fields,
        all=bool(getattr(args, "all", False)),
        provenance=provenance(commit_of(table)),
    )


# --------------------------------------------------------------------------- registry access


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


def transport(args: argparse.Namespace) -> Transport:
    """--registry-ca-cert, --plain-http (same host:port rules as references) and --authfile."""
    plain = frozenset(refs.parse_registry(value, "--plain-http") for value in args.plain_http)
    return Transport(ca_bundle=args.registry_ca_cert, plain_http=plain, authfile=args.authfile)


def add_base_mirror_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--base-mirror",
        action="append",
        default=[],
        metavar="REGISTRY=MIRROR",
        help="look up REGISTRY's base images at MIRROR instead (repeatable), e.g. docker.io=127.0.0.1:5000",
    )


# --------------------------------------------------------------------------- package sources


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
    from_env = os.environ.get(_url_env(flag)) or None
    if from_env is not None:
        check_url(f"${_url_env(flag)}", from_env)  # a bad value names the variable, not the flag
    return from_env


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


# --------------------------------------------------------------------------- running builds


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
        "is what `promote --results` and `sign` read: every tag, the pushed digest, check results; "
        "costs an export of each image, which syft reads for the SBOM (needs syft and osv-scanner, "
        "or $TFCI_SYFT / $TFCI_OSV_SCANNER)); also appended to $GITHUB_STEP_SUMMARY when set",
    )
    parser.add_argument(
        "--engine",
        metavar="URL",
        help="a running Dagger engine to use, e.g. tcp://HOST:1234, kube-pod://POD (default: the CLI's)",
    )


def add_cache_flags(parser: argparse.ArgumentParser) -> None:
    """Remote layer cache (ci/engine/remote.py): share layers across CI runners and runs."""
    group = parser.add_argument_group("remote layer cache (BuildKit cache backends; see ci/engine/remote.py)")
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


# --------------------------------------------------------------------------- vulnerability gate


def add_vuln_flags(parser: argparse.ArgumentParser, *, default_gate: str = NO_GATE) -> None:
    """--vuln-gate, --waivers, --vuln-db: the same rule in build, test and promote (ci/model/vulns.py)."""
    group = parser.add_argument_group("vulnerability scan and gate (osv-scanner on the image's SBOM)")
    group.add_argument(
        "--vuln-gate",
        default=default_gate,
        metavar="SEVERITY",
        help=f"fail an image with an unwaived finding at or above SEVERITY ({', '.join(GATE_LEVELS)}, or "
        f"{NO_GATE} to report only; default {default_gate})",
    )
    group.add_argument(
        "--waivers",
        type=Path,
        default=DEFAULT_WAIVERS,
        metavar="FILE",
        help=f"reviewed waiver file (default {DEFAULT_WAIVERS.name} at the repository root)",
    )
    group.add_argument(
        "--vuln-db",
        type=Path,
        metavar="DIR",
        help="osv-scanner's offline database (DIR/osv-scalibr/<Ecosystem>/all.zip; or $TFCI_VULN_DB); "
        "default: the scanner downloads it",
    )


def vuln_gate(args: argparse.Namespace) -> Severity | None:
    return parse_gate(str(args.vuln_gate), "--vuln-gate")

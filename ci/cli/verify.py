"""`verify`: check versions.yaml against the package index a build would use.

Why a command of its own (and not part of plan): it needs the network and takes seconds, while plan
must answer offline in well under a second. Selection: no selectors checks every row of the table;
`--all` the images of `targets:`; `--tf X` one row, narrowed by `--python`, `--variant`,
`--cuda-source` and `--os`. The index is the one the build would use: PyPI, or `--pip-index-url`
(plus `--pip-extra-index-url`, plus a row's own pip_cuda.index for pip-CUDA images), trusted with
`--ca-cert` when a proxy intercepts TLS.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ci.build.options import DEFAULT_MINICONDA_BASE_URL, BuildOptions
from ci.cli import flags
from ci.model.urls import scrub

if TYPE_CHECKING:  # requests and pypi-simple load in run_verify only: plan stays well under a second
    import requests

    from ci.verify.check import Report

PYPI_SIMPLE = "https://pypi.org/simple/"  # what pip uses when no --pip-index-url is given

# Where tests swap in a replay of recorded index responses (None: ci.pkgindex.make_session, the
# real client). Only the transport changes; every request still goes through pypi-simple.
SESSION_FACTORY: Callable[[Path | None], requests.Session] | None = None


def configure_verify(parser: argparse.ArgumentParser) -> None:
    flags.add_selectors(parser)
    group = parser.add_argument_group("package index (as the build would use it)")
    group.add_argument(
        "--pip-index-url",
        metavar="URL",
        help=f"index instead of PyPI ({PYPI_SIMPLE}) (or $TFCI_PIP_INDEX_URL)",
    )
    group.add_argument(
        "--pip-extra-index-url",
        metavar="URL",
        help="an index searched as well (or $TFCI_PIP_EXTRA_INDEX_URL)",
    )
    group.add_argument("--ca-cert", metavar="PEM", type=Path, help="CA bundle to trust (TLS proxy)")
    group.add_argument(
        "--miniconda-base-url",
        metavar="URL",
        default=DEFAULT_MINICONDA_BASE_URL,
        help=f"where the Miniconda installers and their .files.json are ({DEFAULT_MINICONDA_BASE_URL})",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.add_argument(
        "--no-releases", action="store_true", help="skip the report of TensorFlow releases the table lacks"
    )


def run_verify(args: argparse.Namespace) -> int:
    from ci.verify.check import verify
    from ci.verify.index import PackageIndex, make_session
    from ci.verify.subjects import selected_subjects

    # As the build takes them: a URL with credentials only from TFCI_PIP_*_INDEX_URL, never a flag.
    options = BuildOptions(
        pip_index_url=flags.url_option(args, "--pip-index-url"),
        pip_extra_index_url=flags.url_option(args, "--pip-extra-index-url"),
        ca_bundle=args.ca_cert,
        miniconda_base_url=flags.url_option(args, "--miniconda-base-url") or DEFAULT_MINICONDA_BASE_URL,
    )
    table, subjects = selected_subjects(flags.selection(args))
    primary = options.pip_index_url or PYPI_SIMPLE
    extra = (options.pip_extra_index_url,) if options.pip_extra_index_url else ()
    index = PackageIndex((SESSION_FACTORY or make_session)(options.ca_bundle))
    report = verify(
        table,
        subjects,
        index,
        primary,
        extra,
        releases_report=not args.no_releases,
        miniconda_base_url=options.miniconda_base_url,
    )
    secrets = (primary, *extra)
    print(report_json(report, secrets) if args.format == "json" else report_text(report, secrets))
    return 0 if report.ok else 1


def report_text(report: Report, secrets: Sequence[str] = ()) -> str:
    """One line per finding and the summary; index URLs (and errors that quote them) redacted."""
    return scrub("\n".join([*(f.line() for f in report.findings), report.summary()]), secrets)


def report_json(report: Report, secrets: Sequence[str] = ()) -> str:
    return json.dumps(_scrubbed(_json(report), secrets), indent=2)


def _scrubbed(value: object, secrets: Sequence[str]) -> object:
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, list):
        return [_scrubbed(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _scrubbed(v, secrets) for k, v in value.items()}
    return value


def _json(report: Report) -> dict[str, object]:
    return {
        "ok": report.ok,
        "indexes": list(report.indexes),
        "images": report.subjects,
        "checks": report.checks,
        "seconds": round(report.seconds, 2),
        "findings": [
            {
                "kind": f.kind,
                "row": f.row,
                "python": f.python,
                "package": f.package,
                "message": f.message,
                "line": f.line(),
            }
            for f in report.findings
        ],
    }

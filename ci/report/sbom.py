"""The image's SBOM as the report reads it: syft's CycloneDX document, loaded by cyclonedx-python-lib.

Why the report reads the SBOM instead of asking dpkg, pip and conda itself: the SBOM is what CI
publishes and signs (ci/supply/sbom.py has syft write it from the exported image), so the report's
package sections and the attested SBOM can never disagree, and every package manager syft knows
(deb, Python, conda, npm, binaries) is covered without a collector of ours. The format's own
library parses it (purls included), so no CycloneDX or purl parsing is written here.
"""

from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING

from ci.report.model import PACKAGE_TITLES, Package

if TYPE_CHECKING:
    from cyclonedx.model.component import Component

# Components that are the image's contents; the operating system, files and the image itself are not.
PACKAGE_TYPES = frozenset({"library", "application", "framework", "firmware"})


def read_packages(text: str) -> list[Package]:
    """Every package component of a CycloneDX JSON SBOM, sorted by kind (report order) and name."""
    from cyclonedx.model.bom import Bom  # a second to import: only where an SBOM is read

    with warnings.catch_warnings():
        # syft names itself with `author`, which CycloneDX 1.6 deprecates: not the reader's concern
        warnings.simplefilter("ignore", category=DeprecationWarning)
        bom = Bom.from_json(json.loads(text))  # type: ignore[attr-defined]  # serializable's classmethod
    packages = [_package(c) for c in bom.components if c.type.value in PACKAGE_TYPES]
    order = list(PACKAGE_TITLES)
    return sorted(
        packages,
        key=lambda p: (order.index(p.kind) if p.kind in order else len(order), p.name.lower(), p.version),
    )


def _package(component: Component) -> Package:
    purl = component.purl
    kind = purl.type if purl is not None and purl.type in PACKAGE_TITLES else "other"
    arch = (purl.qualifiers or {}).get("arch") if purl is not None else None
    return Package(
        kind=kind,
        name=component.name,
        version=component.version or "",
        arch=arch if isinstance(arch, str) else None,
        licenses=tuple(_licenses(component)),
    )


def _licenses(component: Component) -> list[str]:
    from cyclonedx.model.license import DisjunctiveLicense, LicenseExpression

    found: list[str] = []
    for entry in component.licenses:
        if isinstance(entry, LicenseExpression):
            found.append(entry.value)
        elif isinstance(entry, DisjunctiveLicense):
            name = entry.id or entry.name
            # syft names a licence text it cannot identify by the text's hash: not a licence name
            if name and not name.startswith("sha256:"):
                found.append(name)
    return found

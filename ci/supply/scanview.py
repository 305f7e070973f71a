"""The SBOM the vulnerability scanner reads: syft's, with Debian/Ubuntu packages as their sources.

Why a view and not the SBOM itself: OSV's Debian and Ubuntu advisories name SOURCE packages
(`openssl`, `glibc`) in ecosystems like `Debian:12`, while syft lists BINARY packages (`libssl3`,
`libc6`) with `distro=debian-12.15` (the point release from /etc/debian_version). osv-scanner
matches an SBOM component by its own name and turns `debian-12.15` into `Debian:12.15`, so against
syft's SBOM as written it misses every real Debian advisory (measured: FINDINGS.md of the prototype).
The view replaces each deb component by its source package (name and version from the CycloneDX 1.6
`source-distribution` reference syft writes, else the purl's `upstream` qualifier) with
`distro=debian-<major>`; several binaries of one source become one component. Every other component
passes through unchanged. The published and attested SBOM stays as syft wrote it; only the scanner
reads this, and promote derives it again from the attested SBOM.
"""

from __future__ import annotations

import copy
from typing import Any

from packageurl import PackageURL

SOURCE_REF = "source-distribution"


def scan_view(bom: dict[str, Any]) -> dict[str, Any]:
    """A copy of `bom` whose deb components are their source packages (see the module docstring)."""
    view = copy.deepcopy(bom)
    seen: set[str] = set()
    components: list[dict[str, Any]] = []
    for component in view.get("components", []):
        purl_text = component.get("purl", "") if isinstance(component, dict) else ""
        if not isinstance(purl_text, str) or not purl_text.startswith("pkg:deb/"):
            components.append(component)
            continue
        source = source_purl(component, PackageURL.from_string(purl_text))
        ref = source.to_string()
        if ref in seen:
            continue
        seen.add(ref)
        components.append(
            {
                "bom-ref": ref,
                "type": "library",
                "name": source.name,
                "version": source.version,
                "purl": ref,
                "properties": [{"name": "tfimages:binary-purl", "value": purl_text}],
            }
        )
    view["components"] = components
    view.pop("dependencies", None)  # they name the binary components, which are gone
    return view


def source_purl(component: dict[str, Any], binary: PackageURL) -> PackageURL:
    """The source package of a deb component, in the ecosystem OSV publishes (`Debian:<major>`)."""
    qualifiers = dict(binary.qualifiers) if isinstance(binary.qualifiers, dict) else {}
    name, version = binary.name, binary.version or ""
    for ref in component.get("externalReferences", []):
        url = ref.get("url", "") if isinstance(ref, dict) else ""
        if ref.get("type") == SOURCE_REF and isinstance(url, str) and url.startswith("pkg:deb/"):
            source = PackageURL.from_string(url)
            name, version = source.name, source.version or version
            break
    else:
        upstream = qualifiers.get("upstream")
        if isinstance(upstream, str) and upstream:  # "openssl" or "gcc-12@12.2.0-14"
            name, _, upstream_version = upstream.partition("@")
            version = upstream_version or version
    return PackageURL("deb", binary.namespace, name, version, _distro(binary.namespace, qualifiers))


def _distro(namespace: str | None, qualifiers: dict[str, str]) -> dict[str, str]:
    distro = qualifiers.get("distro", "")
    if not distro:
        return {}
    if namespace == "debian":  # debian-12.15 -> debian-12: OSV's Debian ecosystems are per major
        prefix, _, release = distro.rpartition("-")
        return {"distro": f"{prefix}-{release.split('.')[0]}"}
    return {"distro": distro}  # ubuntu-22.04 is what osv-scanner maps to Ubuntu:22.04:LTS

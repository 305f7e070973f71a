"""A CycloneDX SBOM per image, built with cyclonedx-python-lib from the report's package lists.

Why the library and not a hand-written JSON: the format has a schema, versions and purl rules that
the library keeps correct (tests validate our output with its own JSON schema validator). The
packages are exactly the report's (ci.probe.manifests: dpkg, pip, conda), so the SBOM and the Markdown
report never disagree; each becomes a component with a package URL (purl spec:
https://github.com/package-url/purl-spec): pkg:deb/<debian|ubuntu>/..., pkg:pypi/..., pkg:conda/....
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from ci.model.provenance import OCI
from ci.report.model import CheckReport, ImageFacts, Package

SCHEMA = "1.6"  # CycloneDX spec version written (JsonV1Dot6)
PROPERTY_PREFIX = "io.tfimages"


def pypi_name(name: str) -> str:
    """The purl spec's pypi name: lowercase, runs of -_. become '-' (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def package_url(package: Package, os_id: str, os_version_id: str) -> PackageURL:
    if package.source == "dpkg":
        qualifiers = {"arch": package.arch} if package.arch else {}
        if os_id and os_version_id:
            qualifiers["distro"] = f"{os_id}-{os_version_id}"
        return PackageURL("deb", os_id or "debian", package.name, package.version, qualifiers)
    if package.source == "pip":
        return PackageURL("pypi", None, pypi_name(package.name), package.version)
    qualifiers = {
        key: value
        for key, value in (("build", package.build), ("channel", package.channel), ("subdir", package.arch))
        if value
    }
    return PackageURL("conda", None, package.name, package.version, qualifiers)


def image_component(report: CheckReport, facts: ImageFacts) -> Component:
    """The image itself: a container component with an OCI purl pinned to its manifest digest."""
    tag = report.tags[0] if report.tags else report.image
    repository = report.pushed.repository if report.pushed else None
    name = (repository or "tensorflow").rsplit("/", 1)[-1].lower()
    qualifiers = {"tag": tag, "arch": "amd64"}
    if repository:
        qualifiers["repository_url"] = repository
    digest = report.pushed.digest if report.pushed else facts.digest
    properties = [Property(name=f"{PROPERTY_PREFIX}:image_id", value=facts.image_id or "unknown")]
    properties += [Property(name=f"{PROPERTY_PREFIX}:tag", value=t) for t in report.tags]
    properties += [
        Property(name=f"{PROPERTY_PREFIX}:{key}.version", value=value)
        for key, value in sorted(facts.versions.items())
        if key in ("tensorflow", "python", "numpy", "cuda", "cudnn")
    ]
    # Which commit built it, as the image's own labels say (the same keys as report.json).
    properties += [Property(name=f"{OCI}.{key}", value=value) for key, value in facts.provenance.items()]
    return Component(
        type=ComponentType.CONTAINER,
        name=name,
        version=tag,
        bom_ref=f"image:{digest}",
        purl=PackageURL("oci", None, name, digest, qualifiers),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest.removeprefix("sha256:"))],
        description=f"TensorFlow {facts.versions.get('tensorflow', '?')} {facts.variant} image "
        f"on {facts.base_image}",
        properties=properties,
    )


def build_bom(report: CheckReport, facts: ImageFacts) -> Bom:
    root = image_component(report, facts)
    os_id, os_version_id = facts.versions.get("os_id", ""), facts.versions.get("os_version_id", "")
    components: dict[str, Component] = {}
    for package in facts.packages:
        purl = package_url(package, os_id, os_version_id)
        ref = purl.to_string()
        if ref in components:  # the same package listed twice (e.g. two site-packages entries)
            continue
        component_type = ComponentType.APPLICATION if package.source == "dpkg" else ComponentType.LIBRARY
        components[ref] = Component(
            type=component_type,
            name=purl.name,
            version=package.version,
            bom_ref=ref,
            purl=purl,
            properties=[Property(name=f"{PROPERTY_PREFIX}:source", value=package.source)],
        )
    tool = Component(type=ComponentType.APPLICATION, name="tf-images", version=_own_version())
    bom = Bom(metadata=BomMetaData(component=root, tools=[]), components=components.values())
    bom.metadata.tools.components.add(tool)
    bom.register_dependency(root, components.values())
    return bom


def sbom_json(report: CheckReport, facts: ImageFacts) -> str:
    return JsonV1Dot6(build_bom(report, facts)).output_as_string(indent=2)


def _own_version() -> str:
    try:
        return version("tf-images")
    except PackageNotFoundError:  # run from a checkout without `pip install -e .`
        return "unknown"

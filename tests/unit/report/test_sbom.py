"""The report reads the image's packages from syft's SBOM: every package component, by purl type,
with its architecture and licences; the SBOM syft writes is valid CycloneDX 1.6."""

from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ci.report.sbom import read_packages
from tests.unit.report_samples import SBOM


def validation_errors(text: str) -> object:
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)


def test_syfts_sbom_is_valid_cyclonedx_1_6_with_an_operating_system() -> None:
    text = SBOM.read_text()
    assert validation_errors(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    assert [t["name"] for t in bom["metadata"]["tools"]["components"]] == ["syft"]
    (system,) = [c for c in bom["components"] if c["type"] == "operating-system"]
    assert system["name"] == "debian"


def test_the_validator_rejects_a_broken_sbom() -> None:
    """The validity assertion above can fail: a document without its format marker does."""
    bom = json.loads(SBOM.read_text())
    del bom["bomFormat"]
    assert validation_errors(json.dumps(bom)) is not None


def test_packages_are_the_sboms_package_components_by_purl_type() -> None:
    packages = read_packages(SBOM.read_text())
    assert [(p.kind, p.name) for p in packages] == [
        ("deb", "libssl3"),
        ("deb", "openssl"),
        ("deb", "zlib1g"),
        ("pypi", "jinja2"),
        ("pypi", "tensorflow-cpu"),
        ("npm", "@jupyterlab/application-top"),
        ("other", "gui-arm64"),  # a binary syft found, without a package URL
    ]
    libssl = packages[0]
    assert (libssl.version, libssl.arch) == ("3.0.22-1~deb12u2", "amd64")
    assert "Apache-2.0" in libssl.licenses
    assert packages[4].version == "2.15.0"
    assert not any(name.startswith("sha256:") for p in packages for name in p.licenses)

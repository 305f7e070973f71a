"""The CycloneDX SBOM: valid against the library's own JSON schema validator, one component per
package with the right purl, and the image itself pinned by digest."""

from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ci.report.model import Package
from ci.report.sbom import package_url, pypi_name, sbom_json
from tests.unit import report_samples


def validation_errors(text: str) -> object:
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)


def test_sbom_is_valid_cyclonedx_with_every_package() -> None:
    report = report_samples.report()
    assert report.facts is not None
    text = sbom_json(report, report.facts)
    assert validation_errors(text) is None
    bom = json.loads(text)
    assert bom["bomFormat"] == "CycloneDX"
    assert bom["specVersion"] == "1.6"
    purls = sorted(c["purl"] for c in bom["components"])
    assert purls == [
        "pkg:conda/openssl@3.0.13?build=h7f8727e_0&channel=pkgs/main&subdir=linux-64",
        "pkg:deb/debian/ca-certificates@20230311?arch=all&distro=debian-12",
        "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12",
        "pkg:pypi/jupyter-server@2.14.0",
        "pkg:pypi/tensorflow@2.15.0",
    ]
    image = bom["metadata"]["component"]
    assert image["type"] == "container"
    assert image["version"] == report.tags[0]
    assert image["purl"].startswith("pkg:oci/tensorflow@sha256:" + "a" * 64 + "?")
    assert "repository_url=127.0.0.1:5000/tfci/tensorflow" in image["purl"]
    assert {"name": "io.tfimages:tensorflow.version", "value": "2.15.0"} in image["properties"]
    provenance = {p["name"]: p["value"] for p in image["properties"] if p["name"].startswith("org.")}
    assert provenance == {f"org.opencontainers.image.{k}": v for k, v in report_samples.PROVENANCE.items()}
    (root,) = [d for d in bom["dependencies"] if d["ref"] == image["bom-ref"]]
    assert sorted(root["dependsOn"]) == purls


def test_the_validator_rejects_a_broken_sbom() -> None:
    """The validity assertion above can fail: a document without its format marker does."""
    report = report_samples.report()
    assert report.facts is not None
    bom = json.loads(sbom_json(report, report.facts))
    del bom["bomFormat"]
    assert validation_errors(json.dumps(bom)) is not None


def test_purls() -> None:
    assert pypi_name("Jupyter_Server.Ext") == "jupyter-server-ext"
    ubuntu = package_url(Package("dpkg", "vim", "2:8.2", arch="amd64"), "ubuntu", "22.04")
    assert ubuntu.to_string() == "pkg:deb/ubuntu/vim@2:8.2?arch=amd64&distro=ubuntu-22.04"
    assert package_url(Package("conda", "zlib", "1.2.13"), "", "").to_string() == "pkg:conda/zlib@1.2.13"


def test_an_unpushed_image_is_named_by_its_exported_digest() -> None:
    report = report_samples.report(pushed=False)
    assert report.facts is not None
    bom = json.loads(sbom_json(report, report.facts))
    assert validation_errors(json.dumps(bom)) is None
    assert "repository_url" not in bom["metadata"]["component"]["purl"]

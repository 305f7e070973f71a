"""The SBOM's root component names the image by digest (purl and hash); syft writes the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ci.supply.sbom import SbomError, generate, pin_root, root_digest
from tests.unit.report_samples import PROVENANCE, SBOM

DIGEST = "sha256:" + "2" * 64


def test_the_root_gets_the_digest_and_keeps_syfts_name_and_version() -> None:
    bom = json.loads(SBOM.read_text())
    assert root_digest(bom) is None
    pin_root(
        bom,
        name="tensorflow-staging",
        tag="2.15.0-t",
        digest=DIGEST,
        repository="ghcr.io/o/tensorflow-staging",
    )
    root = bom["metadata"]["component"]
    assert (root["type"], root["name"], root["version"]) == (
        "container",
        "tensorflow",
        "2.15.0-python3.11-cpu-debian12",
    )
    assert root["purl"] == (
        f"pkg:oci/tensorflow-staging@sha256:{'2' * 64}"
        "?repository_url=ghcr.io/o/tensorflow-staging&tag=2.15.0-t"
    )
    assert root["hashes"] == [{"alg": "SHA-256", "content": "2" * 64}]
    assert root_digest(bom) == DIGEST
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is None
    unpublished: dict[str, object] = {}
    pin_root(unpublished, name="tensorflow", tag="t", digest=DIGEST, repository=None)
    assert "repository_url" not in json.dumps(unpublished)
    with pytest.raises(SbomError, match="not an image digest"):
        pin_root({}, name="x", tag="t", digest="latest", repository=None)


def test_the_root_carries_the_images_provenance_labels() -> None:
    """The attested SBOM names the commit that built the image, as report.json does."""
    bom = json.loads(SBOM.read_text())
    pin_root(bom, name="tensorflow", tag="t", digest=DIGEST, repository=None, provenance=PROVENANCE)
    pin_root(bom, name="tensorflow", tag="t", digest=DIGEST, repository=None, provenance=PROVENANCE)
    properties = bom["metadata"]["component"]["properties"]
    ours = {p["name"]: p["value"] for p in properties if p["name"].startswith("org.opencontainers.")}
    assert ours == {f"org.opencontainers.image.{k}": v for k, v in PROVENANCE.items()}
    assert len([p for p in properties if p["name"] == "org.opencontainers.image.revision"]) == 1
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is None


def test_a_syft_that_cannot_run_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SbomError, match="cannot run"):
        generate(tmp_path / "no-syft", tmp_path / "image.tar", name="n", tag="t", digest=DIGEST)


def test_one_platform_of_a_multi_platform_image_names_its_architecture() -> None:
    bom: dict[str, Any] = {"metadata": {"component": {"type": "container", "name": "tensorflow"}}}
    pin_root(bom, name="tensorflow", tag="t", digest=DIGEST, repository=None, arch="arm64")
    assert bom["metadata"]["component"]["purl"] == f"pkg:oci/tensorflow@{DIGEST}?arch=arm64&tag=t"
    assert root_digest(bom) == DIGEST

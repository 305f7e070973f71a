"""The scanner's view of syft's SBOM: deb packages become their Debian source packages in
`debian-<major>` (what OSV's Debian records name), everything else passes through unchanged."""

from __future__ import annotations

import copy
import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ci.supply.scanview import scan_view
from tests.unit.report_samples import SBOM


def test_deb_binaries_become_their_source_packages_once() -> None:
    bom = json.loads(SBOM.read_text())
    before = copy.deepcopy(bom)
    view = scan_view(bom)
    assert bom == before  # the SBOM itself is untouched
    debs = sorted(c["purl"] for c in view["components"] if c.get("purl", "").startswith("pkg:deb/"))
    # libssl3 and openssl are both from source openssl: one component; zlib1g is from zlib (epoch kept)
    assert debs == [
        "pkg:deb/debian/openssl@3.0.22-1~deb12u2?distro=debian-12",
        "pkg:deb/debian/zlib@1:1.2.13.dfsg-1%2Bdeb12u1?distro=debian-12",
    ]
    (openssl,) = [c for c in view["components"] if c["name"] == "openssl"]
    assert openssl["properties"][0]["value"].startswith("pkg:deb/debian/libssl3@3.0.22-1~deb12u2?")
    others = [c for c in view["components"] if not c.get("purl", "").startswith("pkg:deb/")]
    assert others == [c for c in bom["components"] if not c.get("purl", "").startswith("pkg:deb/")]
    assert "dependencies" not in view
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(view)) is None


def test_without_a_source_reference_the_upstream_qualifier_names_the_source() -> None:
    component = {
        "type": "library",
        "name": "libgcc-s1",
        "version": "12.2.0-14",
        "purl": "pkg:deb/debian/libgcc-s1@12.2.0-14?arch=amd64&distro=debian-12.15&upstream=gcc-12",
    }
    ubuntu = {
        "type": "library",
        "name": "libc6",
        "version": "2.35-0ubuntu3",
        "purl": "pkg:deb/ubuntu/libc6@2.35-0ubuntu3?arch=amd64&distro=ubuntu-22.04&upstream=glibc",
    }
    view = scan_view({"components": [component, ubuntu]})
    assert [c["purl"] for c in view["components"]] == [
        "pkg:deb/debian/gcc-12@12.2.0-14?distro=debian-12",
        "pkg:deb/ubuntu/glibc@2.35-0ubuntu3?distro=ubuntu-22.04",  # osv-scanner maps it to Ubuntu:22.04:LTS
    ]

"""`build --report-dir` and `test --report-dir` end to end: the CPU image's report, index and SBOM.

Why through the CLI (a subprocess) and with --publish: the files and the pushed digest are the
interface CI uploads and `promote` reads; the exported image's digest must be the one the registry
got, and the report's facts must be what is really in the image. The SBOM is syft's, and a real
scanner (osv-scanner, against the TEST DATA database) must read the OS packages from it.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from ci.build.layers import LAYER_ORDER
from ci.probe.manifests import PIECES
from ci.supply.scanview import scan_view
from tests.conftest import Infra
from tests.e2e import specs
from tests.e2e.test_cli import cli

pytestmark = [pytest.mark.engine]


def read(path: Path) -> Any:
    return json.loads(path.read_text())


def test_build_and_test_write_reports_with_sizes_layers_versions_and_sbom(
    infra: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = specs.cpu_spec()
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    repository = f"{infra.registry}/tfci-e2e/report-{secrets.token_hex(4)}"
    out = tmp_path / "reports"
    done = cli(
        "build", *specs.CPU_CLI_ARGS, "--ca-cert", str(infra.ca_bundle), "--skip-service-checks",
        "--report-dir", str(out), "--publish", repository, "--plain-http", infra.registry,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"reports: {out / 'index.json'}" in done.stdout

    index = read(out / "index.json")
    assert index["schema"] == 1
    (entry,) = index["images"]
    assert entry["tag"] == spec.tag
    assert entry["tags"] == list(spec.all_tags)
    assert entry["ok"] is True
    # The digest promote will copy is the digest of the image the report describes.
    assert entry["pushed"] == {
        "repository": repository,
        "tag": spec.tag,
        "digest": entry["digest"],
        "platforms": {"linux/amd64": entry["digest"]},
    }
    checks = {c["name"]: c for c in entry["checks"]}
    assert checks["tensorflow smoke test"]["status"] == "pass"
    assert checks["tensorflow smoke test"]["seconds"] > 0
    assert checks["service checks"]["status"] == "not-checked"

    report = read(out / entry["report"])
    layers, steps = report["layers"], report["steps"]
    assert isinstance(layers, list)
    assert isinstance(steps, list)
    assert [s["name"] for s in steps] == list(LAYER_ORDER)
    assert all(s["seconds"] >= 0 for s in steps)
    assert len(layers) >= len([s for s in steps if s["layers"]]) + 1
    assert next(x["step"] for x in layers) == "base"
    assert None not in [x["step"] for x in layers]
    (tf_layer,) = [x for x in layers if x["step"] == "tensorflow"]
    assert tf_layer["size"] > 100_000_000
    assert tf_layer["uncompressed_size"] > tf_layer["size"]
    assert report["compressed_size"] > sum(x["size"] for x in layers)  # plus the config blob
    assert report["uncompressed_size"] == sum(x["uncompressed_size"] for x in layers)
    assert report["image_id"].startswith("sha256:")

    versions = report["versions"]
    assert isinstance(versions, dict)
    assert versions["tensorflow"] == spec.tf_version
    assert versions["python"].startswith(spec.python_version + ".")
    assert versions["numpy"] in SpecifierSet(spec.numpy_specifier)
    assert versions["os_id"] == "debian"
    assert versions["os_version_id"] == "12"
    assert "cuda" not in versions
    assert report["pieces"] == [p.name for p in PIECES["cpu"]]
    packages = report["packages"]
    assert isinstance(packages, dict)
    assert "conda" not in packages  # system Python: no conda in the image
    deb = {p["name"] for p in packages["deb"]}
    assert {"openssh-server", "locales", "supervisor", "tzdata", "python3", "libssl3"} <= deb
    pip = {p["name"].lower(): p["version"] for p in packages["pypi"]}
    tf_dist = Requirement(spec.tensorflow_requirement).name  # tensorflow-cpu for CPU images
    assert pip[tf_dist] == spec.tf_version
    assert "jupyterlab" in pip
    assert "tensorboard" in pip
    assert sum(1 for p in packages["deb"] if p["licenses"]) > len(deb) // 2

    markdown = (out / entry["markdown"]).read_text()
    assert f"| TensorFlow | {spec.tf_version} |" in markdown
    assert "## Build steps" in markdown
    assert "## Layers" in markdown
    assert "| tensorflow |" in markdown
    assert "## Debian packages: " in markdown
    assert "## Vulnerabilities" in markdown

    # The SBOM is syft's, valid CycloneDX 1.6, with the operating system, licences and CPEs, and a
    # root component naming the image by the digest the registry got.
    sbom_text = (out / entry["sbom"]).read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom_text) is None
    sbom = json.loads(sbom_text)
    assert sbom["specVersion"] == "1.6"
    assert [(t["name"], t["version"]) for t in sbom["metadata"]["tools"]["components"]] == [
        ("syft", "v1.57.1")
    ]
    root = sbom["metadata"]["component"]
    assert (root["type"], root["name"], root["version"]) == (
        "container",
        repository.rsplit("/", 1)[-1],
        spec.tag,
    )
    assert root["hashes"] == [{"alg": "SHA-256", "content": entry["digest"].removeprefix("sha256:")}]
    assert root["purl"].startswith(f"pkg:oci/{repository.rsplit('/', 1)[-1]}@{entry['digest']}?")
    (system,) = [c for c in sbom["components"] if c["type"] == "operating-system"]
    assert (system["name"], system["version"].split(".")[0]) == ("debian", "12")
    components = [c for c in sbom["components"] if c["type"] == "library"]
    assert all("cpe" in c for c in components)
    assert not [c for c in sbom["components"] if c["type"] == "file"]  # file cataloguing is off
    purls = {c.get("purl", "") for c in components}
    assert f"pkg:pypi/{tf_dist}@{spec.tf_version}" in purls
    assert any(p.startswith("pkg:deb/debian/openssh-server@") and "distro=debian-12" in p for p in purls)

    # A maintained scanner reads the OS packages from it: osv-scanner lists every deb as Debian's.
    listed = subprocess.run(
        [str(infra.osv_scanner), "scan", "source", "--offline", "--offline-vulnerabilities", "--all-packages",
         "--lockfile", str(out / entry["sbom"]), "--format", "json"],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "OSV_SCALIBR_LOCAL_DB_CACHE_DIRECTORY": str(infra.vuln_db)},
    )  # fmt: skip
    assert listed.returncode in (0, 1), listed.stderr
    scanned = [p["package"] for r in json.loads(listed.stdout)["results"] for p in r["packages"]]
    debian = {p["name"]: p for p in scanned if p["ecosystem"].startswith("Debian:12")}
    assert set(debian) == deb
    assert debian["libssl3"]["version"] == next(
        p["version"] for p in packages["deb"] if p["name"] == "libssl3"
    )

    # The vulnerability report (no --vuln-gate: reported, not gated) found the TEST DATA advisories,
    # at the versions the SBOM says are installed.
    vulns = entry["vulnerabilities"]
    assert (vulns["gate"], vulns["passed"]) == (None, True)
    assert vulns["scanner"] == f"osv-scanner 2.5.0, offline database {infra.vuln_db}"
    assert vulns["counts"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 1, "LOW": 0, "UNKNOWN": 1}
    found = {f["id"]: f for f in vulns["top"]}
    assert (found["TFCI-TEST-2026-0001"]["package"], found["TFCI-TEST-2026-0001"]["severity"]) == (
        "openssl",
        "HIGH",
    )
    sources = {
        c["name"]: c["version"]
        for c in scan_view(sbom)["components"]
        if c.get("purl", "").startswith("pkg:deb/")
    }
    assert found["TFCI-TEST-2026-0001"]["version"] == sources["openssl"]
    assert found["TFCI-TEST-2026-0101"]["version"] == pip["jinja2"]
    assert checks["vulnerabilities"]["status"] == "not-checked"
    assert (
        "| 1 high, 1 medium, 1 unknown; top: TFCI-TEST-2026-0001 openssl, " in (out / "index.md").read_text()
    )

    assert summary.read_text().startswith("# Built images")

    # `test` on the pushed image: same image, same facts, no build steps (it was not built here).
    retest = tmp_path / "retest"
    done = cli(
        "test", f"{repository}:{spec.tag}", "--skip-service-checks", "--ca-cert", str(infra.ca_bundle),
        "--report-dir", str(retest),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (again,) = read(retest / "index.json")["images"]
    assert (again["tag"], again["ok"], again["pushed"]) == (spec.tag, True, None)
    assert again["digest"] == entry["digest"]  # the pulled manifest's, not a re-export's
    assert again["image_id"] is None
    assert again["versions"] == entry["versions"]
    assert "no build steps" in (retest / again["markdown"]).read_text()
    pulled = json.loads((retest / again["sbom"]).read_text())  # syft again, on the pulled image
    assert pulled["metadata"]["component"]["hashes"][0]["content"] == entry["digest"].removeprefix("sha256:")
    assert again["vulnerabilities"]["counts"] == vulns["counts"]

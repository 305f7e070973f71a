"""`build --report-dir` and `test --report-dir` end to end: the CPU image's report, index and SBOM.

Why through the CLI (a subprocess) and with --publish: the files and the pushed digest are the
interface CI uploads and `promote` reads; the exported image's digest must be the one the registry
got, and the report's facts must be what is really in the image.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from ci.build.layers import LAYER_ORDER
from ci.probe.manifests import PIECES
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
    dpkg = {p["name"] for p in packages["dpkg"]}
    assert {"openssh-server", "locales", "supervisor", "tzdata", "python3"} <= dpkg
    pip = {p["name"].lower(): p["version"] for p in packages["pip"]}
    tf_dist = Requirement(spec.tensorflow_requirement).name  # tensorflow-cpu for CPU images
    assert pip[tf_dist] == spec.tf_version
    assert "jupyterlab" in pip
    assert "tensorboard" in pip

    markdown = (out / entry["markdown"]).read_text()
    assert f"| TensorFlow | {spec.tf_version} |" in markdown
    assert "## Build steps" in markdown
    assert "## Layers" in markdown
    assert "| tensorflow |" in markdown

    sbom_text = (out / entry["sbom"]).read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom_text) is None
    sbom = json.loads(sbom_text)
    purls = {c["purl"] for c in sbom["components"]}
    assert len(purls) == len(dpkg) + len(pip)
    assert f"pkg:pypi/{tf_dist}@{spec.tf_version}" in purls
    assert any(p.startswith("pkg:deb/debian/openssh-server@") and "distro=debian-12" in p for p in purls)
    assert sbom["metadata"]["component"]["version"] == spec.tag

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

"""The image's SBOM, written by syft from the exported OCI tarball (CycloneDX 1.6 JSON).

Why syft and not our own: a maintained generator knows every package manager in the image (dpkg,
pip, conda, npm, binaries), writes the operating-system component that scanners need to match OS
packages (without it Trivy ignores every OS package: aquasecurity/trivy#7100), types packages as
scanners expect (`library`), and records licences and CPEs. It reads the tarball the report step
exports anyway (ci/probe/facts.py), so the image is exported once. Settings are in syft.yaml next to
this file (no file catalogue, licence ids rather than texts, no update check).

One addition to what syft writes: the root component (`metadata.component`, named after the image
with its tag as version) gets the image's digest, as an OCI package URL
(`pkg:oci/NAME@sha256:...?repository_url=...&tag=...`, plus `arch=arm64` for one platform of a
multi-platform image, whose digest is then that platform's manifest) and a SHA-256 hash, so the SBOM
says which image it describes; promote and `cosign verify-attestation` users can compare it with the digest
they pulled. It also carries the image's provenance labels (org.opencontainers.image.created,
revision, source, version; ci.model.provenance) as properties, the same values report.json shows,
so the attested SBOM names the commit that built the image. Everything else stays as syft wrote it.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from ci.model import refs
from ci.model.provenance import OCI

CONFIG = Path(__file__).with_name("syft.yaml")
FORMAT = "cyclonedx-json@1.6"  # syft's default is 1.7; 1.6 is what scanners and validators know best
TIMEOUT_S = 1800.0  # a 5 GB GPU image takes minutes on 2 cores


class SbomError(Exception):
    """syft failed; the message is one line."""


def generate(
    syft: Path,
    tarball: Path,
    *,
    name: str,
    tag: str,
    digest: str,
    repository: str | None = None,
    provenance: Mapping[str, str] | None = None,
    arch: str | None = None,
) -> str:
    """syft's CycloneDX JSON for the OCI tarball, with the root component pinned to `digest`."""
    with tempfile.TemporaryDirectory(prefix="tfci-sbom-") as tmp:
        out = Path(tmp) / "sbom.cdx.json"
        argv = [
            str(syft), "scan", f"oci-archive:{tarball}", "--config", str(CONFIG), "--quiet",
            "--output", f"{FORMAT}={out}", "--source-name", name, "--source-version", tag,
        ]  # fmt: skip
        env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false", "TMPDIR": tmp}
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            raise SbomError(f"syft did not finish within {TIMEOUT_S:.0f}s") from None
        except OSError as exc:
            raise SbomError(f"cannot run {syft}: {exc.strerror or exc}") from None
        if done.returncode != 0 or not out.is_file():
            last = [line for line in done.stderr.splitlines() if line.strip()][-1:] or ["(no output)"]
            raise SbomError(f"syft exited {done.returncode}: {' '.join(last[0].split())[:300]}")
        bom = json.loads(out.read_text(encoding="utf-8"))
    pin_root(bom, name=name, tag=tag, digest=digest, repository=repository, provenance=provenance, arch=arch)
    return json.dumps(bom, indent=2) + "\n"


def pin_root(
    bom: dict[str, Any],
    *,
    name: str,
    tag: str,
    digest: str,
    repository: str | None,
    provenance: Mapping[str, str] | None = None,
    arch: str | None = None,
) -> None:
    """Give syft's root component the image digest (purl and hash) and the provenance labels as
    properties (replacing any of the same name); its name and version stay. arch: the platform's
    architecture, for one platform of a multi-platform image (the purl's `arch` qualifier)."""
    if not refs.is_digest(digest):
        raise SbomError(f"not an image digest: {digest!r}")
    qualifiers = {"tag": tag, **({"repository_url": repository} if repository else {})}
    if arch:
        qualifiers["arch"] = arch
    root = bom.setdefault("metadata", {}).setdefault("component", {"type": "container", "name": name})
    root["purl"] = PackageURL("oci", None, name.lower(), digest, qualifiers).to_string()
    root["hashes"] = [{"alg": "SHA-256", "content": digest.removeprefix("sha256:")}]
    if provenance:
        names = {f"{OCI}.{key}" for key in provenance}
        kept = [
            p for p in root.get("properties") or [] if not (isinstance(p, dict) and p.get("name") in names)
        ]
        root["properties"] = kept + [
            {"name": f"{OCI}.{k}", "value": v} for k, v in sorted(provenance.items())
        ]


def root_digest(bom: dict[str, Any]) -> str | None:
    """The image digest an SBOM's root component names (pin_root's hash), if any."""
    metadata = bom.get("metadata")
    root = metadata.get("component") if isinstance(metadata, dict) else None
    hashes = root.get("hashes") if isinstance(root, dict) else None
    for entry in hashes if isinstance(hashes, list) else []:
        content = entry.get("content") if isinstance(entry, dict) else None
        if isinstance(content, str) and entry.get("alg") == "SHA-256":
            return f"sha256:{content}"
    return None

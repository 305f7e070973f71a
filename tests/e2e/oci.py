"""Read layer digests out of an OCI tarball written by Container.export."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any


def _json(tar: tarfile.TarFile, name: str) -> Any:
    member = tar.extractfile(name)
    assert member is not None, f"{name} missing from the OCI tarball"
    return json.load(member)


def layer_digests(tarball: Path) -> list[str]:
    """The image's layer digests, bottom (base) to top."""
    with tarfile.open(tarball) as tar:
        index = _json(tar, "index.json")
        manifest_digest = index["manifests"][0]["digest"]
        manifest = _json(tar, "blobs/sha256/" + manifest_digest.split(":", 1)[1])
        if "manifests" in manifest:  # an index of platforms: take the first image
            manifest = _json(tar, "blobs/sha256/" + manifest["manifests"][0]["digest"].split(":", 1)[1])
        return [layer["digest"] for layer in manifest["layers"]]

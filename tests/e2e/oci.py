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
        return [layer["digest"] for layer in _manifest(tar)["layers"]]


def _manifest(tar: tarfile.TarFile) -> Any:
    """The image manifest; for an index of platforms, the first image's."""
    index = _json(tar, "index.json")
    manifest = _json(tar, "blobs/sha256/" + index["manifests"][0]["digest"].split(":", 1)[1])
    if "manifests" in manifest:
        manifest = _json(tar, "blobs/sha256/" + manifest["manifests"][0]["digest"].split(":", 1)[1])
    return manifest


def layer_sizes(tarball: Path) -> list[tuple[int, int]]:
    """(compressed, uncompressed) bytes of each layer, bottom to top: what a registry stores and
    what the layers unpack to (gzip is streamed through, so multi-GB images need no memory)."""
    import gzip
    import shutil

    sizes: list[tuple[int, int]] = []
    with tarfile.open(tarball) as tar:
        for layer in _manifest(tar)["layers"]:
            member = tar.extractfile("blobs/sha256/" + layer["digest"].split(":", 1)[1])
            assert member is not None
            if layer["mediaType"].endswith("gzip"):
                counter = _Counter()
                with gzip.GzipFile(fileobj=member) as unpacked:
                    shutil.copyfileobj(unpacked, counter, 1 << 20)
                sizes.append((int(layer["size"]), counter.n))
            else:
                sizes.append((int(layer["size"]), int(layer["size"])))
    return sizes


class _Counter:
    """A write-only file that counts bytes."""

    def __init__(self) -> None:
        self.n = 0

    def write(self, data: bytes) -> int:
        self.n += len(data)
        return len(data)

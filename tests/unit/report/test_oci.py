"""Reading an OCI layout tarball: sizes, digests, history, and blobs that must match their diff_ids.

The tarballs are built here byte by byte in the layout Container.export writes (index.json ->
manifest -> config + layer blobs), so every rule has a case that fails; the e2e report test reads a
real export.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from ci.report.oci import OciError, read_image

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
PLAIN = "application/vnd.oci.image.layer.v1.tar"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def write_layout(
    path: Path,
    layers: list[tuple[str, bytes]],
    *,
    history: list[dict[str, Any]] | None = None,
    nested: bool = False,
    wrong_diff_id: bool = False,
) -> dict[str, Any]:
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = sha(data)
        blobs[digest] = data
        return digest

    descriptors, diff_ids = [], []
    for media_type, raw in layers:
        stored = gzip.compress(raw, mtime=0) if media_type == GZIP else raw
        descriptors.append({"mediaType": media_type, "digest": blob(stored), "size": len(stored)})
        diff_ids.append(sha(raw + (b"x" if wrong_diff_id else b"")))
    config: dict[str, Any] = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}
    config["rootfs"]["diff_ids"] = diff_ids
    config["config"] = {"Labels": {"org.opencontainers.image.revision": "abc", "z.last": "1"}}
    if history is not None:
        config["history"] = history
    config_bytes = json.dumps(config).encode()
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config_bytes)},
        "layers": descriptors,
    }
    manifest["config"]["size"] = len(config_bytes)
    manifest_bytes = json.dumps(manifest).encode()
    top = {"digest": blob(manifest_bytes), "size": len(manifest_bytes)}
    if nested:
        inner = json.dumps({"manifests": [top]}).encode()
        top = {"digest": blob(inner), "size": len(inner)}
    index = json.dumps({"schemaVersion": 2, "manifests": [top]}).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in [("index.json", index)] + [
            (f"blobs/sha256/{d.split(':')[1]}", b) for d, b in blobs.items()
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {"manifest": sha(manifest_bytes), "config": sha(config_bytes), "config_size": len(config_bytes)}


def test_sizes_digests_and_history(tmp_path: Path) -> None:
    raw1, raw2 = layer_tar("a", b"a" * 5000), layer_tar("b", b"b" * 100)
    history: list[dict[str, Any]] = [
        {"created_by": "pulled from debian"},
        {"created_by": "ENV X=1", "empty_layer": True},
        {"created_by": "mount / from exec bash -c b"},
    ]
    ids = write_layout(tmp_path / "i.tar", [(GZIP, raw1), (PLAIN, raw2)], history=history)
    image = read_image(tmp_path / "i.tar")
    assert image.digest == ids["manifest"]
    assert image.image_id == ids["config"]
    assert image.labels == (("org.opencontainers.image.revision", "abc"), ("z.last", "1"))
    assert [layer.uncompressed_size for layer in image.layers] == [len(raw1), len(raw2)]
    assert image.uncompressed_size == len(raw1) + len(raw2)
    gz = len(gzip.compress(raw1, mtime=0))
    assert [layer.size for layer in image.layers] == [gz, len(raw2)]
    assert image.compressed_size == ids["config_size"] + gz + len(raw2)
    assert [layer.created_by for layer in image.layers] == [
        "pulled from debian",
        "mount / from exec bash -c b",
    ]
    assert image.notes == ()


def test_an_index_of_platforms_reads_its_first_image(tmp_path: Path) -> None:
    ids = write_layout(tmp_path / "i.tar", [(GZIP, layer_tar("a", b"1"))], nested=True)
    assert read_image(tmp_path / "i.tar").image_id == ids["config"]


def test_a_blob_that_does_not_unpack_to_its_diff_id_is_an_error(tmp_path: Path) -> None:
    write_layout(tmp_path / "i.tar", [(GZIP, layer_tar("a", b"1"))], wrong_diff_id=True)
    with pytest.raises(OciError, match="unpacks to sha256:"):
        read_image(tmp_path / "i.tar")
    assert read_image(tmp_path / "i.tar", measure_uncompressed=False).layers[0].uncompressed_size is None


def test_unknown_compression_and_missing_history_are_notes_not_guesses(tmp_path: Path) -> None:
    write_layout(tmp_path / "i.tar", [(ZSTD, b"not really zstd")])
    image = read_image(tmp_path / "i.tar")
    assert image.uncompressed_size is None
    assert image.layers[0].created_by == ""
    assert len(image.notes) == 2


def test_not_an_oci_layout(tmp_path: Path) -> None:
    (tmp_path / "x.tar").write_bytes(b"no tar")
    with pytest.raises(OciError, match="not a readable tarball"):
        read_image(tmp_path / "x.tar")
    with tarfile.open(tmp_path / "empty.tar", "w"):
        pass
    with pytest.raises(OciError, match=r"no index\.json"):
        read_image(tmp_path / "empty.tar")

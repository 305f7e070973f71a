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

from ci.model.platforms import IndexEntry, digest_of, image_index
from ci.report.oci import OciError, canonical_export, read_image

GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
PLAIN = "application/vnd.oci.image.layer.v1.tar"
ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"


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
    platforms: tuple[str, ...] = ("linux/amd64",),
) -> dict[str, Any]:
    """One image per platform (the same layers, a config saying the platform); nested: under an
    image index listing them in the given order, as Container.export(platform_variants=...)."""
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
    out: dict[str, Any] = {}
    entries = []
    for platform in platforms:
        os_name, arch = platform.split("/")
        config: dict[str, Any] = {"architecture": arch, "os": os_name, "rootfs": {"type": "layers"}}
        config["rootfs"]["diff_ids"] = diff_ids
        config["config"] = {"Labels": {"org.opencontainers.image.revision": "abc", "z.last": "1"}}
        if history is not None:
            config["history"] = history
        config_bytes = json.dumps(config).encode()
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(config_bytes)},
            "layers": descriptors,
        }
        manifest["config"]["size"] = len(config_bytes)
        manifest_bytes = json.dumps(manifest).encode()
        platform_of = {"architecture": arch, "os": os_name}
        entries.append(
            {
                "mediaType": MANIFEST,
                "digest": blob(manifest_bytes),
                "size": len(manifest_bytes),
                "platform": platform_of,
            }
        )
        out[platform] = {
            "manifest": sha(manifest_bytes),
            "config": sha(config_bytes),
            "config_size": len(config_bytes),
        }
    top = {k: v for k, v in entries[0].items() if k != "platform"}
    if nested:
        inner = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}).encode()
        top = {"mediaType": INDEX, "digest": blob(inner), "size": len(inner)}
    index = json.dumps({"schemaVersion": 2, "manifests": [top]}).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in [("index.json", index)] + [
            (f"blobs/sha256/{d.split(':')[1]}", b) for d, b in blobs.items()
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return {**out[platforms[0]], "platforms": out, "index": top["digest"]}


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


def test_an_index_of_one_platform_reads_its_image(tmp_path: Path) -> None:
    ids = write_layout(tmp_path / "i.tar", [(GZIP, layer_tar("a", b"1"))], nested=True)
    assert read_image(tmp_path / "i.tar").image_id == ids["config"]
    assert read_image(tmp_path / "i.tar").platform == "linux/amd64"


def test_a_multi_platform_export_is_read_by_platform_never_by_position(tmp_path: Path) -> None:
    """The engine lists platforms at random: arm64 first here, and still each read is exact."""
    tarball = tmp_path / "i.tar"
    ids = write_layout(
        tarball, [(GZIP, layer_tar("a", b"1"))], nested=True, platforms=("linux/arm64", "linux/amd64")
    )
    for platform in ("linux/amd64", "linux/arm64"):
        image = read_image(tarball, platform=platform)
        assert (image.digest, image.image_id) == (
            ids["platforms"][platform]["manifest"],
            ids["platforms"][platform]["config"],
        )
        assert image.platform == platform
        assert image.media_type == MANIFEST
    assert (
        read_image(tarball, platform="linux/arm64/v8").platform == "linux/arm64"
    )  # an entry without variant
    with pytest.raises(OciError, match="an image index of linux/arm64, linux/amd64, none of them named"):
        read_image(tarball)
    with pytest.raises(OciError, match="none of them linux/riscv64"):
        read_image(tarball, platform="linux/riscv64")


def test_canonical_export_puts_the_platforms_in_order_and_keeps_every_blob(tmp_path: Path) -> None:
    tarball = tmp_path / "i.tar"
    ids = write_layout(
        tarball, [(GZIP, layer_tar("a", b"1"))], nested=True, platforms=("linux/arm64", "linux/amd64")
    )
    expected = image_index(
        [
            IndexEntry(
                p, ids["platforms"][p]["manifest"], *_manifest_of(tarball, ids["platforms"][p]["manifest"])
            )
            for p in ("linux/amd64", "linux/arm64")
        ]
    )
    digest = canonical_export(tarball)
    assert digest == digest_of(expected) != ids["index"]
    with tarfile.open(tarball) as tar:
        top = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        assert top["manifests"][0]["digest"] == digest
        assert tar.extractfile(f"blobs/sha256/{digest.split(':')[1]}").read() == expected  # type: ignore[union-attr]
    assert [read_image(tarball, platform=p).digest for p in ("linux/amd64", "linux/arm64")] == [
        ids["platforms"][p]["manifest"] for p in ("linux/amd64", "linux/arm64")
    ]
    before = tarball.stat().st_mtime_ns
    assert canonical_export(tarball) == digest  # already canonical: nothing rewritten
    assert tarball.stat().st_mtime_ns == before


def _manifest_of(tarball: Path, digest: str) -> tuple[int, str]:
    with tarfile.open(tarball) as tar:
        data = tar.extractfile(f"blobs/sha256/{digest.split(':')[1]}").read()  # type: ignore[union-attr]
    return len(data), json.loads(data)["mediaType"]


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

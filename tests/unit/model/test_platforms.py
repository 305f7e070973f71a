"""Platforms: one grammar, one order, and one image index for the same per-platform manifests."""

from __future__ import annotations

import json

import pytest

from ci.model.platforms import (
    INDEX_MEDIA_TYPE,
    IndexEntry,
    PlatformError,
    canonical,
    digest_of,
    find,
    image_index,
    index_entries,
    parse,
    slug,
)

M = "application/vnd.oci.image.manifest.v1+json"
AMD64 = IndexEntry("linux/amd64", "sha256:" + "a" * 64, 1000, M)
ARM64 = IndexEntry("linux/arm64", "sha256:" + "b" * 64, 1001, M)


def test_the_grammar_is_os_arch_and_an_optional_variant() -> None:
    assert str(parse("linux/arm64/v8")) == "linux/arm64/v8"
    assert parse(" linux/amd64 ").architecture == "amd64"
    assert slug("linux/arm64") == "linux-arm64"
    for bad in ("arm64", "Linux/AMD64", "linux/", "/amd64", "linux/arm64/v8/x", ""):
        with pytest.raises(PlatformError, match="expected OS/ARCH such as 'linux/arm64'"):
            parse(bad)


def test_the_canonical_order_is_os_then_architecture_then_variant() -> None:
    assert canonical(["linux/arm64", "linux/amd64", "linux/arm64", "linux/arm/v7"]) == (
        "linux/amd64",
        "linux/arm/v7",
        "linux/arm64",
    )


def test_the_index_is_the_same_bytes_whatever_order_the_engine_used() -> None:
    """Dagger lists platforms at random; the index published here never depends on it."""
    one, other = image_index([ARM64, AMD64]), image_index([AMD64, ARM64])
    assert one == other
    data = json.loads(one)
    assert data["mediaType"] == INDEX_MEDIA_TYPE
    assert [m["platform"] for m in data["manifests"]] == [
        {"architecture": "amd64", "os": "linux"},
        {"architecture": "arm64", "os": "linux"},
    ]
    assert b" " not in one  # compact: the digest does not depend on a formatter
    assert digest_of(one).startswith("sha256:")
    with_variant = json.loads(image_index([IndexEntry("linux/arm64/v8", ARM64.digest, 1, M)]))
    assert with_variant["manifests"][0]["platform"] == {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
    }


def test_an_index_needs_one_manifest_per_platform() -> None:
    with pytest.raises(ValueError, match="at least one"):
        image_index([])
    with pytest.raises(ValueError, match="two manifests for one platform"):
        image_index([AMD64, AMD64])


def test_reading_an_index_skips_attestations_and_finds_a_platform_with_or_without_variant() -> None:
    raw = image_index([AMD64, IndexEntry("linux/arm64/v8", ARM64.digest, 1001, M)])
    data = json.loads(raw)
    data["manifests"].append({"mediaType": M, "digest": "sha256:" + "c" * 64, "size": 5,
                              "platform": {"os": "unknown", "architecture": "unknown"}})  # fmt: skip
    entries = index_entries(json.dumps(data))
    assert [e.platform for e in entries] == ["linux/amd64", "linux/arm64/v8"]
    assert index_entries(raw) == index_entries(data) == entries[:2]
    found = find(entries, "linux/arm64")
    assert found is not None
    assert found.digest == ARM64.digest
    assert find(entries, "linux/riscv64") is None
    with pytest.raises(ValueError, match="not an image index"):
        index_entries(b'{"layers": []}')

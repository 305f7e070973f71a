"""The multi-platform tag: an image index put over manifests already in the registry, and the
workflow's `assemble` of one result per platform (a registry in memory; skopeo itself is e2e)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci.model.platforms import digest_of, image_index, index_entries
from ci.model.refs import Reference, parse_repository
from ci.model.spec import ImageSpec
from ci.registry.assemble import AssembleRequest, assemble
from ci.registry.index import put_index
from ci.registry.skopeo import Credentials, Manifest, RegistryError
from tests.unit.registry.conftest import FakeRegistries, as_registries

M = "application/vnd.oci.image.manifest.v1+json"
STAGING = parse_repository("staging.example/tf", "--publish")


class DocumentRegistry(FakeRegistries):
    """FakeRegistries that also holds documents (manifests, configs) and takes OCI layouts."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: dict[str, bytes] = {}
        self.layouts: list[set[str]] = []  # the blobs of every layout pushed

    def image(self, platform: str) -> str:
        """Store one platform's manifest and config (as a build's push would); return its digest."""
        os_name, arch = platform.split("/")
        config = json.dumps({"os": os_name, "architecture": arch}).encode()
        manifest = json.dumps(
            {"mediaType": M, "config": {"digest": digest_of(config)}, "layers": []}
        ).encode()
        self.documents[digest_of(config)] = config
        self.documents[digest_of(manifest)] = manifest
        self.manifests.add(f"{STAGING.name}@{digest_of(manifest)}")
        return digest_of(manifest)

    def manifest(self, ref: Reference) -> Manifest | None:
        digest = ref.digest or self.tags.get(f"{ref.name}:{ref.tag}")
        if digest is None or f"{ref.name}@{digest}" not in self.manifests:
            return None
        return Manifest(digest, self.documents[digest])

    def config(self, ref: Reference) -> bytes:
        assert ref.digest is not None
        return self.documents[json.loads(self.documents[ref.digest])["config"]["digest"]]

    def push_layout(self, layout: Path, name: str, target: Reference) -> None:
        top = json.loads((layout / "index.json").read_text())
        (descriptor,) = top["manifests"]
        assert descriptor["annotations"]["org.opencontainers.image.ref.name"] == name
        blobs = {f"sha256:{p.name}": p.read_bytes() for p in (layout / "blobs" / "sha256").iterdir()}
        self.layouts.append(set(blobs))
        self.documents.update(blobs)
        self.push(str(target), descriptor["digest"])


def test_put_index_writes_the_canonical_index_and_moves_only_small_documents() -> None:
    fake = DocumentRegistry()
    arm64, amd64 = fake.image("linux/arm64"), fake.image("linux/amd64")
    digest = put_index(as_registries(fake), STAGING, "t", [("linux/arm64", arm64), ("linux/amd64", amd64)])
    assert fake.tags["staging.example/tf:t"] == digest
    stored = fake.documents[digest]
    assert [(e.platform, e.digest) for e in index_entries(stored)] == [
        ("linux/amd64", amd64),
        ("linux/arm64", arm64),
    ]
    assert digest == digest_of(image_index(index_entries(stored)))
    (blobs,) = fake.layouts
    assert len(blobs) == 5  # the index, two manifests, two configs: never a layer


def test_put_index_refuses_what_is_not_that_platforms_image() -> None:
    fake = DocumentRegistry()
    amd64 = fake.image("linux/amd64")
    with pytest.raises(RegistryError, match="is a linux/amd64 image, not linux/arm64"):
        put_index(as_registries(fake), STAGING, "t", [("linux/arm64", amd64)])
    with pytest.raises(RegistryError, match="no such manifest in the registry"):
        put_index(as_registries(fake), STAGING, "t", [("linux/amd64", "sha256:" + "0" * 64)])
    assert "staging.example/tf:t" not in fake.tags


def _result(platform: str, digest: str, *, ok: bool = True, repository: str = STAGING.name) -> dict[str, Any]:
    pushed = {"repository": repository, "tag": f"t-{platform.replace('/', '-')}", "digest": digest}
    return {
        "tag": "t", "tags": ["t"], "ok": ok, "pushed": pushed, "digest": digest,
        "checks": [{"name": "build", "status": "pass" if ok else "fail", "platform": platform}],
        "platforms": [{"platform": platform, "ok": ok, "digest": digest}],
    }  # fmt: skip


def _assemble(fake: DocumentRegistry, entries: list[dict[str, Any]], targets: dict[str, ImageSpec]) -> Any:
    request = AssembleRequest(tuple(entries), targets, Credentials("u", "p"))
    lines: list[str] = []
    return assemble(request, as_registries(fake), echo=lines.append), lines


def test_assemble_tags_a_complete_image_with_its_index_and_the_tables_aliases(multi_spec: ImageSpec) -> None:
    fake = DocumentRegistry()
    spec = _target(multi_spec)
    amd64, arm64 = fake.image("linux/amd64"), fake.image("linux/arm64")
    gpu = {
        **_result("linux/amd64", amd64),
        "tag": "g",
        "pushed": {"repository": STAGING.name, "tag": "g", "digest": amd64},
    }
    outcome, lines = _assemble(
        fake, [_result("linux/arm64", arm64), gpu, _result("linux/amd64", amd64)], {"t": spec}
    )
    assert outcome.problems == []
    merged, passed_through = outcome.entries
    assert passed_through == gpu  # one platform pushed under its own tag: nothing to do
    index = fake.tags["staging.example/tf:t"]
    assert merged["pushed"] == {
        "repository": STAGING.name, "tag": "t", "digest": index,
        "platforms": {"linux/amd64": amd64, "linux/arm64": arm64},
    }  # fmt: skip
    assert merged["tags"] == ["t", "latest-cpu"]
    assert [c["platform"] for c in merged["checks"]] == ["linux/arm64", "linux/amd64"]
    assert lines == [f"assembled {STAGING.name}:t@{index} (linux/amd64 {amd64}, linux/arm64 {arm64})"]
    assert fake.logins == [("staging.example", Credentials("u", "p"))]


def _target(spec: ImageSpec) -> ImageSpec:
    import dataclasses

    return dataclasses.replace(spec, tag="t", aliases=("latest-cpu",))


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("failed", "t: linux/arm64 failed its checks; no platform of it is published under the tag"),
        ("missing", "t: no result for linux/arm64 (the tag holds linux/amd64, linux/arm64)"),
        ("elsewhere", "t: the platforms were pushed to different repositories"),
        ("twice", "t: a platform appears in two results"),
    ],
)
def test_an_incomplete_image_gets_no_index(multi_spec: ImageSpec, case: str, problem: str) -> None:
    fake = DocumentRegistry()
    amd64, arm64 = fake.image("linux/amd64"), fake.image("linux/arm64")
    entries = {
        "failed": [_result("linux/amd64", amd64), _result("linux/arm64", arm64, ok=False)],
        "missing": [_result("linux/amd64", amd64)],
        "elsewhere": [
            _result("linux/amd64", amd64),
            _result("linux/arm64", arm64, repository="other.example/tf"),
        ],
        "twice": [
            _result("linux/amd64", amd64),
            _result("linux/amd64", amd64),
            _result("linux/arm64", arm64),
        ],
    }[case]
    outcome, _ = _assemble(fake, entries, {"t": _target(multi_spec)})
    (found,) = outcome.problems
    assert found.startswith(problem)
    (entry,) = outcome.entries
    assert entry["pushed"] is None
    assert "staging.example/tf:t" not in fake.tags  # nothing half-published

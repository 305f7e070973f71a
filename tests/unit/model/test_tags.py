"""Tag shapes, floating aliases across a target set, and OCI labels."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ci.model.spec import ImageSpec
from ci.model.tags import TagCollision, compute_aliases, oci_labels, primary_tag
from ci.table.resolve import BuildRequest, resolve, resolve_targets
from ci.table.rows import Table


def test_seed_tag_shape() -> None:
    tag = primary_tag(
        tf="2.15.0",
        python="3.10",
        variant="gpu",
        cuda_source="base",
        cuda="12.1.0",
        cudnn="8.9",
        os_id="ubuntu22.04",
    )
    assert tag == "2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04"


def test_cpu_and_pip_tag_shapes() -> None:
    cpu = primary_tag(
        tf="2.21.0",
        python="3.12",
        variant="cpu",
        cuda_source="none",
        cuda=None,
        cudnn=None,
        os_id="ubuntu22.04",
    )
    assert cpu == "2.21.0-python3.12-cpu-ubuntu22.04"
    pip = primary_tag(
        tf="2.21.0",
        python="3.12",
        variant="gpu",
        cuda_source="pip",
        cuda="12.5",
        cudnn="9.3",
        os_id="debian12",
    )
    assert pip == "2.21.0-python3.12-cuda12.5-cudnn9-pip-debian12"


def test_gpu_tag_needs_versions() -> None:
    with pytest.raises(ValueError, match="CUDA"):
        primary_tag(
            tf="2.21.0", python="3.12", variant="gpu", cuda_source="base", cuda=None, cudnn=None, os_id="x1"
        )


def test_target_aliases(table: Table) -> None:
    by_tag = {s.tag: s.aliases for s in resolve_targets(table)}
    owners = {alias: tag for tag, aliases in by_tag.items() for alias in aliases}
    assert owners["latest"] == owners["latest-cpu"]
    assert owners["latest-cpu"].startswith("2.21.0-")
    assert owners["latest-gpu"].startswith("2.21.0-")
    assert "-devel-" in owners["latest-gpu"]
    assert "-pip-" in owners["latest-gpu-pip"]
    assert owners["2.15-gpu"] == "2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04"
    assert len(owners) == sum(len(a) for a in by_tag.values()), "an alias has two owners"


def _spec(table: Table, **kwargs: Any) -> ImageSpec:
    return resolve(table, BuildRequest(**kwargs))


def test_minor_alias_goes_to_the_newest_patch(table: Table) -> None:
    specs = [_spec(table, tf="2.15.0", variant="cpu"), _spec(table, tf="2.15.1", variant="cpu")]
    aliases = compute_aliases(specs, [True, True])
    assert "2.15-cpu" in aliases[1]
    assert "2.15-cpu" not in aliases[0]
    assert aliases[1][-1] == "latest"


def test_ineligible_specs_get_no_aliases(table: Table) -> None:
    specs = [_spec(table, tf="2.21.0", variant="cpu")]
    assert compute_aliases(specs, [False]) == ((),)


def test_two_targets_claiming_one_alias_collide(table: Table) -> None:
    a = _spec(table, tf="2.21.0", variant="cpu")
    b = _spec(table, tf="2.21.0", variant="cpu", os="debian12")
    with pytest.raises(TagCollision) as info:
        compute_aliases([a, b], [True, True])
    assert info.value.kind == "alias"
    assert (info.value.first, info.value.second) == (0, 1)


def test_duplicate_primary_tag_collides(table: Table) -> None:
    a = _spec(table, tf="2.21.0", variant="cpu")
    with pytest.raises(TagCollision, match="tag"):
        compute_aliases([a, a], [False, False])


def test_labels_are_sorted_and_reproducible(table: Table) -> None:
    spec = _spec(table, tf="2.15.0", variant="gpu")
    labels = dict(spec.labels)
    assert [k for k, _ in spec.labels] == sorted(labels)
    assert "org.opencontainers.image.created" not in labels
    assert labels["io.tfimages.tensorflow.version"] == "2.15.0"
    assert labels["io.tfimages.python.version"] == "3.10"
    assert labels["io.tfimages.cuda.version"] == "12.2.2"
    assert labels["io.tfimages.cudnn.version"] == "8.9"
    assert labels["io.tfimages.variant"] == "gpu"
    assert labels["org.opencontainers.image.version"] == spec.tag
    meta = dataclasses.replace(table.image, created="2024-01-01T00:00:00Z", revision="abc")
    stamped = dict(oci_labels(meta, spec))
    assert stamped["org.opencontainers.image.created"] == "2024-01-01T00:00:00Z"
    assert stamped["org.opencontainers.image.revision"] == "abc"


def test_cpu_labels_have_no_cuda(table: Table) -> None:
    labels = dict(_spec(table, tf="2.15.0", variant="cpu").labels)
    assert "io.tfimages.cuda.version" not in labels
    assert labels["io.tfimages.cuda.source"] == "none"


def test_source_label_only_when_configured(table: Table) -> None:
    spec = _spec(table, tf="2.15.0", variant="cpu")
    meta = dataclasses.replace(table.image, source="https://example.invalid/repo")
    assert dict(oci_labels(meta, spec))["org.opencontainers.image.source"] == "https://example.invalid/repo"

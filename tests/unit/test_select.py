"""Selecting images: the selector flags as a request, every target, and the lock merged into the table."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci import select
from ci.model.errors import UserError
from ci.select import Selection
from ci.table.load import load_table
from ci.table.lockfile import LockEntry, write_lock
from ci.table.resolve import BuildRequest, resolve
from tests.unit.conftest import SEED_TAG

DIGEST = "sha256:" + "c" * 64


def test_the_resolver_builds_from_the_locked_digest(table_copy: Path) -> None:
    request = BuildRequest(tf="2.15.0", python="3.11", variant="cpu", os="debian12", python_source="system")
    assert resolve(select.load(table_copy)[0], request).base_digest is None
    write_lock(table_copy, {"debian:bookworm": LockEntry("debian:bookworm", DIGEST, "t")})
    assert resolve(load_table(table_copy), request).base_digest is None  # the loader reads versions.yaml only
    spec = resolve(select.load(table_copy)[0], request)
    assert (spec.base_image, spec.base_digest) == ("debian:bookworm", DIGEST)
    assert ("org.opencontainers.image.base.digest", DIGEST) in spec.labels


def test_no_selectors_is_no_request() -> None:
    assert Selection().request is None
    assert Selection(fields={"tf": None, "python": None}).request is None
    assert Selection(fields={"format": "json"}).request is None  # only selector fields count


def test_selectors_become_one_build_request() -> None:
    selection = Selection(fields={"tf": "2.15.0", "python": "3.11", "variant": "cpu", "os": None})
    assert selection.request == BuildRequest(tf="2.15.0", python="3.11", variant="cpu")


def test_a_selector_without_tf_names_the_flag() -> None:
    with pytest.raises(UserError) as err:
        _ = Selection(fields={"python": "3.10"}).request
    assert err.value.message == (
        "--tf is required when selecting an image (or give no selectors for every target)"
    )


def test_variant_alone_filters_targets() -> None:
    assert Selection().only_variant
    assert Selection(fields={"variant": "gpu"}).only_variant
    assert not Selection(fields={"variant": "gpu", "tf": "2.15.0"}).only_variant
    assert not Selection(fields={"os": "debian12"}).only_variant


def test_every_target_without_selectors_and_only_with_all_when_explicit() -> None:
    _, targets = select.load()
    assert select.selected_specs(Selection()) == targets
    assert select.selected_specs(Selection(all=True), explicit=True) == targets
    with pytest.raises(UserError, match=r"^nothing selected: give --tf X\.Y\.Z"):
        select.selected_specs(Selection(), explicit=True)
    with pytest.raises(UserError, match=r"^--all cannot be combined with image selectors"):
        select.selected_specs(Selection(fields={"tf": "2.15.0"}, all=True))


def test_a_selected_target_keeps_its_aliases() -> None:
    fields = {"tf": "2.15.0", "python": "3.10", "gpu_base": "nvidia/cuda:12.1.0-cudnn8-devel-ubuntu22.04"}
    (spec,) = select.selected_specs(Selection(fields=fields))
    assert spec.tag == SEED_TAG
    assert "2.15.0-gpu" in spec.aliases


def test_request_errors_name_the_flag_the_user_typed() -> None:
    for fields, flag in (
        ({"tf": "2.15.0", "python": "3.12"}, "--python"),
        ({"tf": "2.15.0", "variant": "cpu", "os": "windows11"}, "--os"),
        ({"tf": "2.15.0", "gpu_base": "not an image"}, "--gpu-base"),
    ):
        with pytest.raises(UserError) as err:
            select.selected_specs(Selection(fields=fields))
        assert err.value.message.startswith(f"{flag}: "), err.value.message


def test_without_a_lock_file_nothing_is_locked(table_copy: Path) -> None:
    table, targets = select.load(table_copy)
    assert table.locks == {}
    assert all(spec.base_digest is None for spec in targets)


def test_an_image_is_selected_again_from_its_own_labels() -> None:
    table, targets = select.load()
    for spec in targets:
        request = select.request_from_labels(dict(spec.labels), spec.tag)
        assert select.resolve_selected(table, targets, request) == spec
    with pytest.raises(UserError) as err:
        select.request_from_labels({}, "r.example/tf:x")
    assert err.value.message == (
        "r.example/tf:x: no io.tfimages.tensorflow.version label; select it with --tf ..."
    )

"""Build preflight: where exports go, and a publish target that never shows its password."""

from __future__ import annotations

import dataclasses

import pytest

from ci.model.errors import UserError
from ci.model.spec import ImageSpec
from ci.pipeline.preflight import Publish, export_path
from ci.registry.skopeo import Credentials


def test_export_path(spec: ImageSpec) -> None:
    assert str(export_path("/out/img.tar", spec, False)) == "/out/img.tar"
    assert str(export_path("/out/{tag}.tar", spec, True)) == f"/out/{spec.tag}.tar"
    with pytest.raises(UserError, match=r"put \{tag\}"):
        export_path("/out/img.tar", spec, True)
    gpu = dataclasses.replace(spec, tag="other")
    assert export_path("/o/{tag}.tar", gpu, True).name == "other.tar"


def test_publish_repr_hides_the_password() -> None:
    publish = Publish("r.example", "r.example/tf", Credentials("ci", "s3cret-value"))
    assert "s3cret" not in repr(publish)
    assert "s3cret" not in str(publish)

"""Build preflight: where exports go, a publish target that never shows its password, the installer."""

from __future__ import annotations

import dataclasses

import pytest

from ci.build import installer
from ci.build.options import BuildOptions
from ci.model.errors import UserError
from ci.model.spec import ImageSpec
from ci.pipeline.preflight import PreflightFailed, Publish, export_path, fetch_installers
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


def test_an_installer_that_cannot_be_fetched_stops_the_build_before_the_engine(
    spec: ImageSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[object] = []

    def unreachable(pin: object, ca_bundle: object = None, **kwargs: object) -> None:
        asked.append(pin)
        raise installer.InstallerUnavailable("cannot download the pinned installer https://x.example/uv.whl")

    monkeypatch.setattr(installer, "binary", unreachable)
    with pytest.raises(PreflightFailed, match="pip layers' installer: cannot download"):
        fetch_installers((spec, dataclasses.replace(spec, tag="other")), BuildOptions())
    assert asked == [spec.installer], "one pin, fetched once for every image that shares it"

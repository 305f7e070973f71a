"""BuildOptions validation: every bad value is a one-line UserError naming the flag and what is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.build.options import DEFAULT_MINICONDA_BASE_URL, BuildOptions
from ci.model.errors import UserError

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def test_defaults_are_valid() -> None:
    options = BuildOptions()
    assert options.miniconda_base_url == DEFAULT_MINICONDA_BASE_URL
    assert options.ca_bundle is None
    assert not options.bake_ca


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"apt_mirror": "ftp://mirror"}, "--apt-mirror 'ftp://mirror': expected an http:// or https:// URL"),
        ({"apt_mirror": "http://"}, "--apt-mirror"),
        ({"pip_index_url": "pypi.org/simple"}, "--pip-index-url 'pypi.org/simple'"),
        ({"pip_extra_index_url": "https://a b"}, "--pip-extra-index-url"),
        ({"miniconda_base_url": "file:///x"}, "--miniconda-base-url"),
        (
            {"miniconda_file": Path("/nonexistent/installer.sh")},
            "--miniconda-file /nonexistent/installer.sh: no such file",
        ),
        ({"miniconda_file": Path("/tmp")}, "--miniconda-file /tmp: not a regular file"),
        ({"ca_bundle": Path("/x")}, "--ca-cert /x: no such file"),
        ({"bake_ca": True}, "--bake-ca needs --ca-cert"),
    ],
)
def test_bad_values_name_the_flag(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UserError) as info:
        BuildOptions(**kwargs)  # type: ignore[arg-type]
    assert message in info.value.message
    assert "\n" not in info.value.message


def test_ca_cert_must_be_pem(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(UserError, match="not a PEM certificate bundle"):
        BuildOptions(ca_bundle=bogus)


def test_values_are_normalised(tmp_path: Path) -> None:
    installer = tmp_path / "m.sh"
    installer.write_text("#!/bin/sh\n")
    options = BuildOptions(
        apt_mirror="http://mirror.example/",
        miniconda_base_url="https://mirror.example/miniconda",
        miniconda_file=installer,
        ca_bundle=HOST_CA,
        bake_ca=True,
    )
    assert options.apt_mirror == "http://mirror.example"
    assert options.miniconda_base_url == "https://mirror.example/miniconda/"
    assert options.miniconda_file == installer.resolve()
    assert options.ca_bundle == HOST_CA.resolve()

"""Image references are parsed strictly, so a typo never builds for hours or promotes to the wrong place;
skopeo's error output becomes one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.model.inputs import read_ca_bundle, read_password_file
from ci.model.refs import parse as parse_reference
from ci.model.refs import parse_repository
from ci.registry.skopeo import Credentials, _skopeo_message

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("ghcr.io/org/tensorflow:2.15-gpu", "ghcr.io", "org/tensorflow", "2.15-gpu", None),
        ("127.0.0.1:5000/tfci/smoke", "127.0.0.1:5000", "tfci/smoke", None, None),
        (f"localhost/x/y@{DIGEST}", "localhost", "x/y", None, DIGEST),
        (f"reg.example:443/a:b@{DIGEST}", "reg.example:443", "a", "b", DIGEST),
        ("localhost:5000/a__b/c-d.e:v1.0_x", "localhost:5000", "a__b/c-d.e", "v1.0_x", None),
    ],
)
def test_parse_reference(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert str(ref) == text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tensorflow:2.15", "must be REGISTRY/REPOSITORY"),
        ("tensorflow/tensorflow:2.15", "must start with a registry host"),
        ("ghcr.io/Org/TF:1", "lowercase"),
        ("ghcr.io/org/tf@sha256:abc", "64 lowercase hex digits"),
        ("ghcr.io/", "must be REGISTRY/REPOSITORY"),
        ("ghcr.io//", "empty component"),
        ("ghcr.io/org//tf", "empty component"),
        ("ghcr.io/org/tf/", "empty component"),
        ("https://ghcr.io/org/repo", "without a URL scheme"),
        ("localhost:abc/repo", "port 'abc' is not a number"),
        ("localhost:99999/repo", "out of range"),
        ("ghcr.io/org/my repo", "whitespace"),
        (" ghcr.io/org/repo", "whitespace"),
        ("", "empty"),
        ("ghcr.io/org/repo:bad:tag", "lowercase"),
        ("ghcr.io/org/repo:-bad", "not valid"),
        ("bad_host.example/org/repo", "not a valid registry host"),
    ],
)
def test_bad_references_are_one_line_user_errors(text: str, needle: str) -> None:
    with pytest.raises(UserError) as err:
        parse_reference(text)
    assert needle in err.value.message
    assert "\n" not in err.value.message


def test_repository_refuses_a_tag() -> None:
    with pytest.raises(UserError, match="without :tag or @digest"):
        parse_repository("ghcr.io/org/tf:1", "--to")
    assert parse_repository("ghcr.io/org/tf", "--to").name == "ghcr.io/org/tf"


def test_password_is_not_in_repr() -> None:
    assert "s3cret" not in repr(Credentials("u", "s3cret"))


def test_password_files_are_read_strictly(tmp_path: Path) -> None:
    good = tmp_path / "pw"
    good.write_text("t0ken\n")
    assert read_password_file(good, "--password-file") == "t0ken"
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00pw")
    for path, needle in (
        (binary, "not UTF-8"),
        (tmp_path, "is a directory"),
        (tmp_path / "missing", "no such file"),
    ):
        with pytest.raises(UserError, match=needle):
            read_password_file(path, "--password-file")
    several = tmp_path / "two"
    several.write_text("a\nb\n")
    with pytest.raises(UserError, match="several lines"):
        read_password_file(several, "--password-file")


def test_ca_bundle_must_be_pem(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82\x01\x0a")
    with pytest.raises(UserError, match="not a PEM certificate bundle"):
        read_ca_bundle(not_pem, "--registry-ca-cert")
    with pytest.raises(UserError, match="no such file"):
        read_ca_bundle(tmp_path / "none.pem", "--registry-ca-cert")


def test_skopeo_errors_become_one_line() -> None:
    stderr = (
        'time="2026-11-29T01:07:20Z" level=fatal msg="Error parsing image name \\"docker://h/x:1\\": '
        "reading manifest 1 in h/x: errors:\\ndenied: requested access to the resource is denied\\n"
        'unauthorized: authentication required\\n"\n'
    )
    assert _skopeo_message(stderr) == (
        "reading manifest 1 in h/x: errors: denied: requested access to the resource is denied "
        "unauthorized: authentication required"
    )
    assert _skopeo_message("plain failure\n") == "plain failure"


def test_a_plain_http_registry_error_names_the_flag() -> None:
    stderr = (
        'time="x" level=fatal msg="pinging container registry 127.0.0.1:5000: '
        'Get \\"https://127.0.0.1:5000/v2/\\": '
        'http: server gave HTTP response to HTTPS client"\n'
    )
    message = _skopeo_message(stderr)
    assert message.startswith("pinging container registry 127.0.0.1:5000")
    assert message.endswith("(a plain-HTTP registry: name it with --plain-http HOST:PORT)")

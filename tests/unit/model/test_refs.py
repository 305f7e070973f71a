"""Image references are parsed strictly, so a typo never builds for hours or promotes to the wrong place."""

from __future__ import annotations

import pytest

from ci.model.errors import UserError
from ci.model.refs import parse as parse_reference
from ci.model.refs import parse_registry, parse_repository

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


@pytest.mark.parametrize(
    "text",
    [
        "user:s3cretpw@ghcr.io/o/r",
        "user:s3cretpw@ghcr.io",
        "user:s3c/retpw@ghcr.io/o/r",
        "u:s3cretpw@ghcr.io/o/r:tag",
    ],
)
def test_credentials_in_a_reference_are_named_as_such_and_never_echoed(text: str) -> None:
    """Issue 16, finding 14: `user:pass@ghcr.io/o/r` was called a bad digest and showed the password
    (and one with a `/` in the password was shown whole)."""
    with pytest.raises(UserError) as err:
        parse_reference(text, what="--from")
    assert "s3cretpw" not in err.value.message
    assert "s3c/retpw" not in err.value.message
    assert "credentials do not belong in an image reference" in err.value.message
    assert err.value.message.startswith("--from '***@")


@pytest.mark.parametrize("port", ["²", "١٢٣", "0" * 5000, "5000\n"])
def test_a_port_is_ascii_digits_only(port: str) -> None:
    """Issue 16, finding 12: '²'.isdigit() is True but int('²') raised; 5000 digits were converted."""
    with pytest.raises(UserError, match=r"is not a number|whitespace"):
        parse_reference(f"localhost:{port}/repo")


def test_credentials_in_a_registry_address_are_never_echoed() -> None:
    """Found by the issue-16 sweep: `--base-mirror docker.io=u:s3cretpw@h` echoed the password as a
    "registry port"."""
    for text in ("u:s3cretpw@h", "u:s3cretpw@h:5000", "s3cretpw@h"):
        with pytest.raises(UserError) as err:
            parse_registry(text, "--base-mirror")
        assert "s3cretpw" not in err.value.message
        assert "credentials do not belong in a registry address" in err.value.message

"""Image references are parsed strictly, so a typo never promotes to the wrong place."""

from __future__ import annotations

import pytest

from ci.errors import UserError
from ci.registry import Credentials, parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("ghcr.io/org/tensorflow:2.15-gpu", "ghcr.io", "org/tensorflow", "2.15-gpu", None),
        ("127.0.0.1:5000/tfci/smoke", "127.0.0.1:5000", "tfci/smoke", None, None),
        (f"localhost/x/y@{DIGEST}", "localhost", "x/y", None, DIGEST),
        (f"reg.example:443/a:b@{DIGEST}", "reg.example:443", "a", "b", DIGEST),
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
        ("tensorflow:2.15", "must start with a registry host"),
        ("ghcr.io/Org/TF:1", "lowercase"),
        ("ghcr.io/org/tf@sha256:abc", "64 hex digits"),
        ("ghcr.io/", "must start with a registry host"),
    ],
)
def test_bad_references_are_one_line_user_errors(text: str, needle: str) -> None:
    with pytest.raises(UserError) as err:
        parse_reference(text)
    assert needle in err.value.message
    assert "\n" not in err.value.message


def test_password_is_not_in_repr() -> None:
    assert "s3cret" not in repr(Credentials("u", "s3cret"))

"""Mirror and index URLs: validated once, and never shown with their credentials."""

from __future__ import annotations

import pytest

from ci.model.errors import UserError
from ci.model.urls import check_url, has_credentials, redact, url_password


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://pypi.example/simple", "https://pypi.example/simple"),
        ("https://ci:t0ken@pypi.example/simple", "https://***@pypi.example/simple"),
        ("https://t0ken@pypi.example:8443/simple/", "https://***@pypi.example:8443/simple/"),
        ("http://u:p%40ss@mirror.example/debian", "http://***@mirror.example/debian"),
        ("https://ci:t0k&n%231@mirror.example/m", "https://***@mirror.example/m"),
    ],
)
def test_redact_hides_user_and_password_only(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert has_credentials(url) is (url != shown)


def test_credentials_are_found_in_the_netloc_only() -> None:
    assert not has_credentials("https://pypi.example/simple?user=a@b")
    assert not has_credentials("https://pypi.example/a@b/simple")
    assert has_credentials("https://user@pypi.example/simple")
    assert url_password("https://ci:t0ken@pypi.example/simple") == "t0ken"
    assert url_password("https://ci@pypi.example/simple") is None


def test_check_url_returns_the_value_and_adds_a_slash_when_asked() -> None:
    assert check_url("--apt-mirror", "http://mirror.example/m") == "http://mirror.example/m"
    assert (
        check_url("--pip-index-url", "https://h:8443/simple", require_slash=True) == "https://h:8443/simple/"
    )
    assert check_url("--pip-index-url", "https://h/simple/", require_slash=True) == "https://h/simple/"


@pytest.mark.parametrize(
    "value",
    ["ftp://mirror", "http://", "mirror.example/m", "https://a b/", "https://h:port/", "file:///x", ""],
)
def test_check_url_refuses_what_is_not_an_http_url_with_a_host(value: str) -> None:
    with pytest.raises(UserError) as err:
        check_url("--apt-mirror", value)
    assert err.value.message == (
        f"--apt-mirror {value!r}: expected an http:// or https:// URL with a host name"
    )


def test_a_refused_url_never_shows_its_credentials() -> None:
    with pytest.raises(UserError) as err:
        check_url("--pip-index-url", "ftp://ci:t0ken@pypi.example/simple")
    assert "t0ken" not in err.value.message
    assert "'ftp://***@pypi.example/simple'" in err.value.message

"""Mirror and index URLs: validated once, and never shown with their credentials."""

from __future__ import annotations

import pytest

from ci.model.errors import UserError
from ci.model.urls import check_url, has_credentials, redact, scrub, url_password


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


def test_any_at_sign_after_the_scheme_may_be_credentials() -> None:
    """An unencoded / ? # in a password ends the authority early, so its @ looks like a path's."""
    assert not has_credentials("https://pypi.example/simple")
    assert has_credentials("https://pypi.example/a@b/simple")
    assert has_credentials("https://user@pypi.example/simple")
    assert url_password("https://ci:t0ken@pypi.example/simple") == "t0ken"
    assert url_password("https://ci@pypi.example/simple") is None
    assert url_password("http://[::1/") is None


@pytest.mark.parametrize("password", ["pa#ss", "pa/ss", "pa?ss", "a/b?c#d"])
def test_redact_hides_a_password_with_an_unencoded_delimiter(password: str) -> None:
    """Issue 16: redact() showed https://ci:pa#ss@host/ whole (urlsplit ended the netloc at '#')."""
    url = f"https://ci:{password}@pypi.example/simple/"
    assert redact(url) == "https://***@pypi.example/simple/"
    assert has_credentials(url)
    assert password not in scrub(f"cannot read {url}: 401 for {password}", [url])
    with pytest.raises(UserError) as err:
        check_url("--pip-index-url", f"ftp://ci:{password}@pypi.example/")
    assert password not in err.value.message


def test_check_url_never_crashes_on_a_malformed_authority() -> None:
    """Issue 16, finding 12: `http://[::1/` was an UnboundLocalError traceback."""
    for value in ("http://[::1/", "https://[", "http://u:p#q@[x/"):
        with pytest.raises(UserError) as err:
            check_url("--apt-mirror", value)
        assert "expected an http:// or https:// URL with a host name" in err.value.message


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

"""skopeo's error output becomes one line, and credentials never show in a repr."""

from __future__ import annotations

from ci.registry.skopeo import Credentials, _skopeo_message


def test_password_is_not_in_repr() -> None:
    assert "s3cret" not in repr(Credentials("u", "s3cret"))


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

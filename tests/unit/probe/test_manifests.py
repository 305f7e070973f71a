"""The manifest pieces' parsers on canned outputs, and which pieces each variant carries."""

from __future__ import annotations

import json

import pytest

from ci.probe import manifests
from ci.probe.manifests import (
    PIECES,
    last_json_line,
    parse_conda_list,
    parse_dpkg,
    parse_os_release,
    parse_pip_list,
)

OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
# a comment
"""


def test_os_release() -> None:
    assert parse_os_release(OS_RELEASE) == {
        "os": "Debian GNU/Linux 12 (bookworm)",
        "os_id": "debian",
        "os_version_id": "12",
    }
    ubuntu = 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\nVERSION_ID="22.04"\n'
    assert parse_os_release(ubuntu)["os_version_id"] == "22.04"


def test_dpkg_lists_installed_packages_only() -> None:
    text = (
        "ii \tcurl\t7.88.1-10+deb12u5\tamd64\n"
        "rc \told-thing\t1.0\tamd64\n"  # removed, config files left: not in use
        "ii \tadduser\t3.134\tall\n"
        "garbage line\n"
    )
    packages = parse_dpkg(text)
    assert [(p.name, p.version, p.arch) for p in packages] == [
        ("adduser", "3.134", "all"),
        ("curl", "7.88.1-10+deb12u5", "amd64"),
    ]
    assert {p.source for p in packages} == {"dpkg"}


def test_pip_list_json() -> None:
    rows = [{"name": "tensorflow", "version": "2.15.0"}, {"name": "absl-py", "version": "2.1.0"}]
    assert [(p.name, p.version) for p in parse_pip_list(json.dumps(rows))] == [
        ("absl-py", "2.1.0"),
        ("tensorflow", "2.15.0"),
    ]
    with pytest.raises(ValueError, match="Expecting value"):
        parse_pip_list("WARNING: not json")


def test_conda_list_leaves_pip_installed_packages_to_the_pip_piece() -> None:
    rows = [
        {
            "name": "python",
            "version": "3.10.14",
            "build_string": "h955ad1f_1",
            "channel": "pkgs/main",
            "platform": "linux-64",
        },
        {
            "name": "tensorflow",
            "version": "2.15.0",
            "build_string": "pypi_0",
            "channel": "pypi",
            "platform": "pypi",
        },
    ]
    packages = parse_conda_list(json.dumps(rows))
    assert [(p.name, p.channel, p.build, p.arch) for p in packages] == [
        ("python", "pkgs/main", "h955ad1f_1", "linux-64")
    ]


def test_last_json_line_skips_warnings_before_it() -> None:
    assert last_json_line('warning: something\n{"python": "3.11.2"}\n') == {"python": "3.11.2"}
    with pytest.raises(ValueError, match="no output"):
        last_json_line("")
    with pytest.raises(ValueError, match="expected a JSON object"):
        last_json_line("[1, 2]")


def test_which_pieces_each_variant_carries() -> None:
    names = {variant: [piece.name for piece in pieces] for variant, pieces in PIECES.items()}
    assert names["cpu"] == ["os", "versions", "dpkg", "pip", "conda"]
    assert names["gpu"] == ["os", "versions", "cuda", "dpkg", "pip", "conda"]
    assert manifests.CUDA not in PIECES["cpu"]

"""The manifest pieces' parsers on canned outputs, and which pieces each variant carries (the
package lists come from the SBOM: tests/unit/report/test_sbom.py)."""

from __future__ import annotations

import pytest

from ci.probe import manifests
from ci.probe.manifests import PIECES, last_json_line, parse_os_release

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


def test_last_json_line_skips_warnings_before_it() -> None:
    assert last_json_line('warning: something\n{"python": "3.11.2"}\n') == {"python": "3.11.2"}
    with pytest.raises(ValueError, match="no output"):
        last_json_line("")
    with pytest.raises(ValueError, match="expected a JSON object"):
        last_json_line("[1, 2]")


def test_which_pieces_each_variant_carries() -> None:
    names = {variant: [piece.name for piece in pieces] for variant, pieces in PIECES.items()}
    assert names["cpu"] == ["os", "versions"]
    assert names["gpu"] == ["os", "versions", "cuda"]
    assert manifests.CUDA not in PIECES["cpu"]

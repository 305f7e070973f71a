"""apt-install.sh: a mirror rewrites Debian's and Ubuntu's sources for the exec and restores them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ci.build import apt
from ci.scripts import script_text

DEBIAN_SOURCES = """Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


UBUNTU_LIST = """deb http://archive.ubuntu.com/ubuntu/ jammy main restricted
deb http://security.ubuntu.com/ubuntu/ jammy-security main restricted
"""


@pytest.mark.parametrize(
    "mirror", ["http://mirror.example/m", "https://ci:t0k&n#1@mirror.example/m"], ids=["plain", "credentials"]
)
def test_apt_mirror_rewrites_debian_and_ubuntu_sources_and_restores_them(tmp_path: Path, mirror: str) -> None:
    etc = tmp_path / "etc" / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(DEBIAN_SOURCES)
    (etc / "sources.list").write_text(UBUNTU_LIST)
    script = script_text("apt-install.sh")
    assert mirror not in script, "the mirror URL must reach apt through the environment, not argv"
    # Run the real script against a copy of /etc/apt, apt-get replaced by a look at the sources.
    script = script.replace("/etc/apt", str(etc)).replace("/tmp/tfci-", str(tmp_path / "tfci-"))
    script = script.replace(
        '"${apt[@]}" update', f"cat {etc}/sources.list.d/debian.sources {etc}/sources.list"
    )
    script = script.replace('"${apt[@]}" install -y --no-install-recommends "$@"', ":")
    during = subprocess.run(
        ["bash", "-c", script, "apt-install.sh", "curl"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, apt.APT_MIRROR_ENV: mirror},
    ).stdout
    assert f"URIs: {mirror}/debian\n" in during
    assert f"URIs: {mirror}/debian-security\n" in during
    assert f"deb {mirror}/ubuntu/ jammy main" in during
    assert f"deb {mirror}/ubuntu/ jammy-security main" in during
    assert "deb.debian.org" not in during
    # Restored afterwards: the image keeps the distribution's own sources.
    assert (etc / "sources.list.d" / "debian.sources").read_text() == DEBIAN_SOURCES
    assert (etc / "sources.list").read_text() == UBUNTU_LIST

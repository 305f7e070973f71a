"""The stack's debian:bookworm is one image index of linux/amd64 and linux/arm64, and both work.

Why through verify.sh: it is the check a developer runs by hand after build-debian.sh; here it
runs against the registry the engine mirrors docker.io to, unpacking each platform's layer and
running its own bash and dpkg (arm64's through qemu's binfmt handler)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import Infra

pytestmark = [pytest.mark.engine]

VERIFY = Path(__file__).resolve().parent / "baseimage" / "verify.sh"


def test_the_base_image_is_an_index_of_both_platforms_that_each_run(infra: Infra) -> None:
    done = subprocess.run(["bash", str(VERIFY)], capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    out = done.stdout
    assert "ok    image index application/vnd.oci.image.index.v1+json" in out
    assert "ok    2 platforms: linux/amd64 linux/arm64" in out
    assert "the amd64 entry is the single-architecture build byte for byte" in out
    assert "ok    dpkg --print-architecture: arm64" in out
    assert "ok    archive digest matches the registry" in out
    assert "FAIL" not in out

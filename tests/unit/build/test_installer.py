"""The pinned installer on the host: downloaded over real HTTP from a local server, verified against
both digests and the wheel's RECORD, cached executable, reused, and refused when anything differs."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ci.build import installer
from ci.model.spec import Installer, InstallerFile
from ci.table.rows import Table

VERSION = "9.9.9"
BINARY = b"#!/bin/sh\necho uv 9.9.9\n"


def _wheel(binary: bytes = BINARY, record_binary: bytes | None = None) -> bytes:
    """A uv-shaped wheel: the executable under .data/scripts and a RECORD that lists its sha256."""
    member = f"uv-{VERSION}.data/scripts/uv"
    digest = hashlib.sha256(record_binary if record_binary is not None else binary).digest()
    record = f"{member},sha256={base64.urlsafe_b64encode(digest).rstrip(b'=').decode()},{len(binary)}\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(member, binary)
        archive.writestr(f"uv-{VERSION}.dist-info/RECORD", record)
    return out.getvalue()


@pytest.fixture
def server() -> Iterator[tuple[dict[str, bytes], list[str], str]]:
    """(files by path, requested paths, base URL) of a local HTTP server."""
    files: dict[str, bytes] = {}
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield files, requests, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@pytest.fixture
def pin(
    server: tuple[dict[str, bytes], list[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Installer]:
    """Serve WHEEL and return an Installer pinning it (binary digest: of BINARY unless given)."""
    files, _, base = server
    monkeypatch.setattr(installer, "cache_root", lambda: tmp_path / "cache")

    def make(wheel: bytes, binary_sha256: str | None = None) -> Installer:
        path = f"/packages/uv-{VERSION}-py3-none-musllinux_1_1_x86_64.whl"
        files[path] = wheel
        file = InstallerFile(
            platform="linux/amd64",
            url=base + path,
            sha256=hashlib.sha256(wheel).hexdigest(),
            binary_sha256=binary_sha256 or hashlib.sha256(BINARY).hexdigest(),
        )
        return Installer(name="uv", version=VERSION, files=(file,))

    return make


def test_downloaded_once_verified_and_cached_executable(
    pin: Callable[..., Installer], server: tuple[dict[str, bytes], list[str], str]
) -> None:
    _, requests, _ = server
    uv = pin(_wheel())
    path = installer.binary(uv)
    assert path.read_bytes() == BINARY
    assert path.stat().st_mode & 0o777 == 0o755  # a mounted host file keeps its mode
    assert installer.binary(uv) == path
    assert len(requests) == 1, "the second build reuses the cached, verified copy"


def test_a_tampered_cached_copy_is_fetched_again(
    pin: Callable[..., Installer], server: tuple[dict[str, bytes], list[str], str]
) -> None:
    _, requests, _ = server
    uv = pin(_wheel())
    path = installer.binary(uv)
    path.write_bytes(b"#!/bin/sh\necho evil\n")
    assert installer.binary(uv).read_bytes() == BINARY
    assert len(requests) == 2


def test_a_wheel_that_is_not_the_pinned_one_is_refused(pin: Callable[..., Installer], tmp_path: Path) -> None:
    uv = pin(_wheel())
    other = Installer(
        uv.name,
        uv.version,
        (InstallerFile("linux/amd64", uv.files[0].url, "0" * 64, uv.files[0].binary_sha256),),
    )
    with pytest.raises(installer.InstallerUnavailable, match="is not the pinned 0000"):
        installer.binary(other)
    assert not list((tmp_path / "cache").rglob("uv")), "nothing unverified is cached"


def test_a_binary_that_does_not_match_its_pin_or_record_is_refused(pin: Callable[..., Installer]) -> None:
    with pytest.raises(installer.InstallerUnavailable, match="the pin says"):
        installer.binary(pin(_wheel(), binary_sha256="1" * 64))
    with pytest.raises(installer.InstallerUnavailable, match="RECORD must agree"):
        installer.binary(pin(_wheel(record_binary=b"something else")))
    with pytest.raises(installer.InstallerUnavailable, match="not a uv wheel"):
        installer.binary(pin(b"PK not a zip"))


def test_an_unreachable_url_or_platform_is_a_clear_error(pin: Callable[..., Installer]) -> None:
    uv = pin(_wheel())
    gone = Installer(
        uv.name, uv.version, (InstallerFile("linux/amd64", uv.files[0].url + ".missing", "0" * 64, "0" * 64),)
    )
    with pytest.raises(installer.InstallerUnavailable, match="cannot download the pinned installer"):
        installer.binary(gone)
    with pytest.raises(installer.InstallerUnavailable, match="no uv wheel for linux/arm64"):
        installer.binary(uv, platform="linux/arm64")


def test_the_table_pins_a_static_uv_for_every_image_platform(table: Table) -> None:
    """One wheel per platform an engine may run on (compat.platforms): natively uv runs on the
    image's platform; an emulated platform's layers run the engine's uv (ci.build.cross)."""
    uv = table.installer
    assert uv.name == "uv"
    assert {f.platform for f in uv.files} == set(table.compat.machines) == {"linux/amd64", "linux/arm64"}
    amd64, arm64 = uv.file_for("linux/amd64"), uv.file_for("linux/arm64")
    assert amd64 is not None
    assert arm64 is not None
    assert amd64.url.endswith(f"/uv-{uv.version}-py3-none-musllinux_1_1_x86_64.whl")  # static: any base
    assert arm64.url.endswith("musllinux_1_1_aarch64.whl")  # also tagged manylinux: the same static build

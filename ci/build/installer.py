"""The pip layers' installer (uv) on the host: downloaded once from its pinned URL, verified, cached.

Why on the host, then mounted: uv must never be in an image (pip stays there, for users), and the
Jupyter and TensorFlow layers must depend on the binary's *content* only, so their cache keys change
exactly when versions.yaml's pin changes (not with a host path or an mtime). The wheel is checked
against the pinned sha256 (PyPI's), the executable against the pinned binary sha256 and the wheel's
own RECORD; a cached copy is reused only when its sha256 is still the pin's. Nothing but the
standard library is needed: the host running the pipeline may have no pip.

An air-gapped runner can pre-seed the cache (the path `binary` returns): the file is verified the
same way before use.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import ssl
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from ci.model.spec import Installer, InstallerFile

PLATFORM = "linux/amd64"  # the platform every image is built for (its installer wheel)
DOWNLOAD_TIMEOUT_S = 120


class InstallerUnavailable(Exception):
    """The pinned installer could not be fetched or did not match its pin: the build cannot run."""


def cache_root() -> Path:
    """$TMPDIR/tfimages-ci/uv: next to the context trees (ci.build.trees), per user and machine."""
    return Path(tempfile.gettempdir()) / "tfimages-ci" / "uv"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _member(installer: Installer) -> str:
    """Where a uv wheel keeps the executable (a wheel's `.data/scripts`)."""
    return f"{installer.name}-{installer.version}.data/scripts/{installer.name}"


def _download(url: str, ca_bundle: Path | None) -> bytes:
    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    try:
        with urllib.request.urlopen(url, context=context, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310 - https URL from the table
            data: bytes = response.read()
            return data
    except (urllib.error.URLError, OSError) as exc:
        raise InstallerUnavailable(f"cannot download the pinned installer {url}: {exc}") from None


def extract(installer: Installer, file: InstallerFile, wheel: bytes) -> bytes:
    """The executable from WHEEL, after checking the wheel, the binary and the wheel's RECORD."""
    name = file.url.rsplit("/", 1)[-1]
    if _sha256(wheel) != file.sha256:
        raise InstallerUnavailable(f"{name}: sha256 {_sha256(wheel)} is not the pinned {file.sha256}")
    member = _member(installer)
    try:
        with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
            binary = archive.read(member)
            record = archive.read(f"{installer.name}-{installer.version}.dist-info/RECORD").decode()
    except (KeyError, zipfile.BadZipFile) as exc:
        raise InstallerUnavailable(f"{name}: not a {installer.name} wheel ({exc})") from None
    digest = _sha256(binary)
    urlsafe = base64.urlsafe_b64encode(bytes.fromhex(digest)).rstrip(b"=").decode()
    if digest != file.binary_sha256 or f"{member},sha256={urlsafe}," not in record:
        raise InstallerUnavailable(
            f"{name}: {member} has sha256 {digest}; the pin says {file.binary_sha256} (and RECORD must agree)"
        )
    return binary


def _store(target: Path, binary: bytes) -> None:
    """Atomically: concurrent builds see either no file or the whole, executable one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(binary)
        # A mounted host file keeps its mode (a mount has no permissions argument): it must be 0755.
        os.chmod(tmp, 0o755)  # noqa: S103 - an executable, readable by the engine
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@functools.lru_cache(maxsize=8)
def _verified(target: Path, binary_sha256: str, mtime_ns: int) -> bool:
    """Whether TARGET (as of MTIME_NS) hashes to the pin; memoized so each build hashes it once."""
    return _sha256(target.read_bytes()) == binary_sha256


def binary(installer: Installer, ca_bundle: Path | None = None, *, platform: str = PLATFORM) -> Path:
    """The path of the verified executable for PLATFORM: from the cache, or downloaded into it."""
    file = installer.file_for(platform)
    if file is None:
        raise InstallerUnavailable(f"versions.yaml pins no {installer.name} wheel for {platform}")
    target = cache_root() / installer.version / file.binary_sha256[:16] / installer.name
    if target.is_file() and _verified(target, file.binary_sha256, target.stat().st_mtime_ns):
        return target
    _store(target, extract(installer, file, _download(file.url, ca_bundle)))
    return target

"""Registry operations, on skopeo (containers/image) instead of hand-written HTTP.

Why skopeo: promotion must put the exact bytes that were tested under new names, on registries
that behave like GHCR and Docker Hub (bearer tokens from a separate token service, blob GETs
redirected to a storage host that must never see the registry credentials, multi-GB layers). skopeo
is the containers project's maintained client for exactly this: `copy --all --preserve-digests`
copies manifests and indexes byte for byte and streams blobs; auth files are keyed by registry, so
each credential only goes to its own registry (and Go's HTTP client drops it on a redirect to
another host); it is a Debian/Ubuntu package and preinstalled on GitHub's Ubuntu runners. crane
(go-containerregistry) would do as well but is neither packaged here nor on the runners; running it
in an engine container would make promotion (a seconds-long, engine-free step) need an engine.

Secrets: a password only ever reaches `skopeo login --password-stdin` (never argv, never a log);
the resulting auth file lives in a private 0700 temporary directory for this process and names one
registry, and is passed only to operations on that registry.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from ci.model import refs
from ci.model.errors import UserError
from ci.model.inputs import read_authfile, read_ca_bundle
from ci.model.refs import Reference

SKOPEO = "skopeo"
DEFAULT_TIMEOUT_S = 600.0  # one operation; a multi-GB layer copy on a slow link takes minutes
LOGIN_TIMEOUT_S = 25.0  # with start-up, a registry that never answers ends a command within 30 s


class RegistryError(Exception):
    """A registry refused or failed an operation; the message is one line and holds no secret."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)  # never in repr, logs or exceptions


def _skopeo_message(stderr: str) -> str:
    """skopeo's fatal line -> the message alone, on one line."""
    messages = re.findall(r'level=(?:fatal|error) msg="((?:[^"\\]|\\.)*)"', stderr)
    text = messages[-1] if messages else (stderr.strip().splitlines() or ["(no output)"])[-1]
    text = text.replace("\\n", " ").replace('\\"', '"')
    text = re.sub(r'^Error parsing image name "[^"]*": ', "", text)
    text = " ".join(text.split())
    if "server gave HTTP response to HTTPS client" in text:
        text += " (a plain-HTTP registry: name it with --plain-http HOST:PORT)"
    return text


def answered(error: str) -> bool:
    """Did the registry answer (a refusal or a 404 counts), as opposed to not being reached at all?"""
    words = ("manifest unknown", "unauthorized", "denied", "authentication required", "not found")
    return any(word in error.lower() for word in words)


@dataclass(frozen=True)
class Transport:
    """How to reach registries: --registry-ca-cert, --plain-http, --authfile (shared by every command)."""

    ca_bundle: Path | None = None
    plain_http: frozenset[str] = frozenset()
    authfile: Path | None = None

    def open(self, timeout: float | None = None) -> Registries:
        return Registries(
            ca_bundle=self.ca_bundle,
            plain_http=self.plain_http,
            authfile=self.authfile,
            timeout=DEFAULT_TIMEOUT_S if timeout is None else timeout,
        )


@dataclass(frozen=True)
class Manifest:
    digest: str
    raw: bytes


class Registries:
    """skopeo with per-registry credentials and TLS settings, for the lifetime of one command.

    Use as a context manager: the private directory holding auth files and CA certificates is
    removed on exit.
    """

    def __init__(
        self,
        *,
        ca_bundle: Path | None = None,
        plain_http: frozenset[str] = frozenset(),
        authfile: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry_times: int = 2,
    ) -> None:
        ca = read_ca_bundle(ca_bundle, "--registry-ca-cert") if ca_bundle is not None else None
        auth = read_authfile(authfile) if authfile is not None else None
        if shutil.which(SKOPEO) is None:
            raise UserError(
                "skopeo is not installed: apt-get install skopeo (GitHub's Ubuntu runners ship it)"
            )
        self._dir = Path(tempfile.mkdtemp(prefix="tfci-registry-"))  # 0700 by mkdtemp
        self._certs: Path | None = None
        self._authfile: Path | None = None
        self.authfile_registries: frozenset[str] = frozenset()
        try:
            if ca is not None:
                self._certs = self._dir / "certs"
                self._certs.mkdir(mode=0o700)
                (self._certs / "ca.crt").write_bytes(ca)
            # skopeo reads the copy that was validated, in this private directory, never the
            # original path again (which could have been swapped for a pipe meanwhile).
            if auth is not None:
                self._authfile = self._dir / "authfile.json"
                fd = os.open(self._authfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as stream:
                    stream.write(auth.data)
                self.authfile_registries = auth.registries
        except BaseException:  # a full disk, a signal: the directory never outlives a failed start
            self.close()
            raise
        self._plain_http = plain_http
        self._timeout = timeout
        self._retry_times = retry_times
        self._logins: dict[str, Path] = {}

    def __enter__(self) -> Registries:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    # ------------------------------------------------------------------ plumbing

    def _run(
        self, args: list[str], *, what: str, stdin: str | None = None, timeout: float | None = None
    ) -> str:
        try:
            done = subprocess.run(
                [SKOPEO, *args],
                input=stdin,
                capture_output=True,
                text=True,
                timeout=timeout or self._timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RegistryError(f"{what}: no answer within {timeout or self._timeout:.0f}s") from None
        if done.returncode != 0:
            raise RegistryError(f"{what}: {_skopeo_message(done.stderr)}")
        return done.stdout

    def _copy_all(self) -> list[str]:
        """`skopeo copy` as every copy here runs it: every platform of an index, the digests kept
        (a promoted or pushed image must be the bytes that were tested), transient errors retried."""
        return ["copy", "--all", "--preserve-digests", "--retry-times", str(self._retry_times)]

    def _tls(self, registry: str, prefix: str = "") -> list[str]:
        if refs.plain_http(registry, self._plain_http):
            return [f"--{prefix}tls-verify=false"]
        return [f"--{prefix}cert-dir", str(self._certs)] if self._certs is not None else []

    def _auth(self, registry: str, prefix: str = "") -> list[str]:
        login = self._logins.get(registry)
        if login is not None:
            return [f"--{prefix}authfile", str(login)]
        if self._authfile is not None:
            return [f"--{prefix}authfile", str(self._authfile)]
        return []

    # ------------------------------------------------------------------ operations

    def login(self, registry: str, credentials: Credentials) -> None:
        """Check the credentials against `registry` now and use them for it (and only it) later.

        Why up front: a wrong password or an unreachable registry must stop a command in seconds,
        before any build or copy starts.
        """
        path = self._dir / f"auth-{len(self._logins)}.json"
        self._run(
            [
                "login",
                "--authfile",
                str(path),
                *self._tls(registry),
                "--username",
                credentials.username,
                "--password-stdin",
                registry,
            ],
            what=f"login to {registry} as {credentials.username}",
            stdin=credentials.password + "\n",
            timeout=LOGIN_TIMEOUT_S,
        )
        self._logins[registry] = path

    def check_reachable(self, registry: str) -> None:
        """Without credentials: the registry answers (any HTTP answer counts, a 401 included)."""
        try:
            self._run(
                [
                    "inspect",
                    "--raw",
                    *self._tls(registry),
                    *self._auth(registry),
                    f"docker://{registry}/tfci-preflight/probe:none",
                ],
                what=f"registry {registry}",
                timeout=LOGIN_TIMEOUT_S,
            )
        except RegistryError as err:
            if answered(str(err)):
                return
            raise

    def manifest(self, ref: Reference) -> Manifest | None:
        """The raw manifest (or index) and its digest; None when the registry has no such tag/digest."""
        try:
            raw = self._run(
                ["inspect", "--raw", *self._tls(ref.registry), *self._auth(ref.registry), ref.transport],
                what=f"inspect {ref}",
            )
        except RegistryError as err:
            if "manifest unknown" in str(err).lower():
                return None
            raise
        data = raw.encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if ref.digest and ref.digest != digest:
            raise RegistryError(f"inspect {ref}: the registry returned a manifest with digest {digest}")
        return Manifest(digest, data)

    def digest(self, ref: Reference) -> str | None:
        found = self.manifest(ref)
        return None if found is None else found.digest

    def copy(self, source: Reference, target: Reference) -> str:
        """Copy source (pinned by digest) to target's tag, byte for byte; return the target digest."""
        if source.digest is None:
            raise RegistryError(f"copy {source}: the source must be pinned by digest")
        self._run(
            [
                *self._copy_all(),
                *self._tls(source.registry, "src-"),
                *self._auth(source.registry, "src-"),
                *self._tls(target.registry, "dest-"),
                *self._auth(target.registry, "dest-"),
                source.transport,
                target.transport,
            ],
            what=f"copy {source} -> {target}",
        )
        stored = self.digest(target)
        if stored != source.digest:
            raise RegistryError(
                f"copy {source} -> {target}: the target now has {stored}, not {source.digest}"
            )
        return stored

    def config(self, ref: Reference) -> bytes:
        """The raw image configuration of a manifest (pinned by digest)."""
        raw = self._run(
            [
                "inspect",
                "--config",
                "--raw",
                *self._tls(ref.registry),
                *self._auth(ref.registry),
                ref.transport,
            ],
            what=f"inspect the configuration of {ref}",
        )
        return raw.encode()

    def push_layout(self, layout: Path, name: str, target: Reference) -> None:
        """Copy the image `name` of the OCI layout directory `layout` to `target`, byte for byte.

        Blobs the target registry already has are not read from the layout (skopeo asks the
        registry first), so a layout may hold only manifests and configurations.
        """
        self._run(
            [
                *self._copy_all(),
                *self._tls(target.registry, "dest-"),
                *self._auth(target.registry, "dest-"),
                f"oci:{layout}:{name}",
                target.transport,
            ],
            what=f"push {name} -> {target}",
        )

    # ------------------------------------------------------------------ for other registry clients

    def auth_file(self, registry: str) -> Path | None:
        """The auth file (Docker config format) used for `registry`: its login's, else --authfile.

        cosign reads the same file (ci/supply/cosign.py), so both clients send a registry only
        its own credential.
        """
        return self._logins.get(registry) or self._authfile

    @property
    def ca_file(self) -> Path | None:
        """The PEM bundle trusted for TLS registries (--registry-ca-cert), inside the private dir."""
        return self._certs / "ca.crt" if self._certs is not None else None

    def is_plain_http(self, registry: str) -> bool:
        return refs.plain_http(registry, self._plain_http)

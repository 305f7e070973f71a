"""Registry side of releasing: move tested images between tags and repositories by digest.

Why talk to the registry API directly instead of rebuilding or re-exporting through Dagger:
promotion must put *the bytes that were tested* under new names. Pulling and re-pushing can
re-compress layers or rewrite the manifest and so change the digest; copying the manifest (and
mounting blobs across repositories) keeps it identical, and the copy is verified by comparing
the digest the registry reports with the source digest.

Credentials come from the caller (never from this module's logs): basic auth for registries
that accept it, and the Docker token flow (WWW-Authenticate: Bearer) for Docker Hub, GHCR and
friends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ci.errors import UserError

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[0], MANIFEST_TYPES[2]


class RegistryError(Exception):
    """The registry refused or failed an operation; the message is one line and has no secret."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)  # never in repr, logs or exceptions


@dataclass(frozen=True)
class Reference:
    """registry/repository[:tag][@digest], split the way the distribution spec defines it."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def ref(self) -> str:
        """The manifest reference to ask for: the digest when known, else the tag."""
        if self.digest:
            return self.digest
        if self.tag:
            return self.tag
        raise UserError(f"image reference {self}: needs a :tag or an @sha256:digest")

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None)

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str, *, what: str = "image reference") -> Reference:
    """Parse `host[:port]/path[:tag][@sha256:...]`; the registry host is required."""
    rest, _, digest = text.partition("@")
    if digest and not (digest.startswith("sha256:") and len(digest) == 71):
        raise UserError(f"{what} {text!r}: digest must be sha256: followed by 64 hex digits")
    host, slash, path = rest.partition("/")
    if not slash or not path or not ("." in host or ":" in host or host == "localhost"):
        raise UserError(f"{what} {text!r}: must start with a registry host, e.g. ghcr.io/org/tensorflow:TAG")
    tag: str | None = None
    if ":" in path.rsplit("/", 1)[-1]:
        path, _, tag = path.rpartition(":")
    if not path or path != path.lower():
        raise UserError(f"{what} {text!r}: repository path must be lowercase and non-empty")
    return Reference(host, path, tag or None, digest or None)


def _is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    return host in ("localhost", "::1") or host.startswith("127.")


class RegistryClient:
    """A minimal OCI distribution client: manifests and blob mounts, with auth."""

    def __init__(
        self,
        credentials: Mapping[str, Credentials] | None = None,
        *,
        ca_bundle: Path | None = None,
        plain_http: frozenset[str] = frozenset(),
        timeout: float = 60.0,
    ) -> None:
        self._credentials = dict(credentials or {})
        self._plain_http = plain_http
        self._timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
        self._tokens: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------------ HTTP plumbing

    def _base(self, registry: str) -> str:
        scheme = "http" if registry in self._plain_http or _is_loopback(registry) else "https"
        return f"{scheme}://{registry}/v2/"

    def _request(
        self,
        method: str,
        registry: str,
        path: str,
        *,
        scope: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        url = self._base(registry) + path
        hdrs = dict(headers or {})
        token = self._tokens.get((registry, scope))
        if token:
            hdrs["Authorization"] = token
        for attempt in range(2):
            req = urllib.request.Request(url, data=body, method=method, headers=hdrs)  # noqa: S310
            try:
                with urllib.request.urlopen(req, timeout=self._timeout, context=self._ssl) as resp:  # noqa: S310
                    return resp.status, dict(resp.headers.items()), resp.read()
            except urllib.error.HTTPError as err:
                if err.code == 401 and attempt == 0:
                    hdrs["Authorization"] = self._authorize(
                        registry, scope, err.headers.get("WWW-Authenticate")
                    )
                    continue
                detail = err.read()[:300].decode("utf-8", "replace").strip()
                raise RegistryError(f"{method} {url}: HTTP {err.code} {' '.join(detail.split())}") from None
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise RegistryError(f"{method} {url}: {reason}") from None
        raise RegistryError(f"{method} {url}: still unauthorized after login")  # pragma: no cover

    def _authorize(self, registry: str, scope: str, challenge: str | None) -> str:
        creds = self._credentials.get(registry)
        if not challenge:
            raise RegistryError(f"{registry}: unauthorized and no WWW-Authenticate challenge")
        kind, _, params = challenge.partition(" ")
        if kind.lower() == "basic":
            if creds is None:
                raise RegistryError(f"{registry}: needs credentials (--registry-user and a password)")
            raw = f"{creds.username}:{creds.password}".encode()
            value = "Basic " + base64.b64encode(raw).decode()
        elif kind.lower() == "bearer":
            value = "Bearer " + self._bearer_token(registry, scope, params, creds)
        else:
            raise RegistryError(f"{registry}: unsupported auth scheme {kind!r}")
        self._tokens[(registry, scope)] = value
        return value

    def _bearer_token(self, registry: str, scope: str, params: str, creds: Credentials | None) -> str:
        fields: dict[str, str] = {}
        for part in params.split(","):
            key, _, val = part.strip().partition("=")
            fields[key] = val.strip('"')
        realm = fields.pop("realm", "")
        if not realm.startswith("https://") and not _is_loopback(urllib.parse.urlsplit(realm).netloc):
            raise RegistryError(f"{registry}: refusing token realm {realm!r} (not https)")
        fields["scope"] = scope
        req = urllib.request.Request(realm + "?" + urllib.parse.urlencode(fields))  # noqa: S310
        if creds is not None:
            raw = f"{creds.username}:{creds.password}".encode()
            req.add_header("Authorization", "Basic " + base64.b64encode(raw).decode())
        try:
            with urllib.request.urlopen(req, timeout=self._timeout, context=self._ssl) as resp:  # noqa: S310
                data = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise RegistryError(f"{registry}: token request failed: {getattr(err, 'reason', err)}") from None
        token = data.get("token") or data.get("access_token")
        if not isinstance(token, str):
            raise RegistryError(f"{registry}: token endpoint returned no token")
        return token

    # ------------------------------------------------------------------ operations

    def get_manifest(self, ref: Reference) -> tuple[str, str, bytes]:
        """Return (media type, digest, raw bytes) of ref's manifest, checking the digest."""
        scope = f"repository:{ref.repository}:pull"
        _, headers, body = self._request(
            "GET",
            ref.registry,
            f"{ref.repository}/manifests/{ref.ref}",
            scope=scope,
            headers={"Accept": ", ".join(MANIFEST_TYPES)},
        )
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if ref.digest and ref.digest != digest:
            raise RegistryError(f"{ref}: registry returned a manifest with digest {digest}")
        media_type = headers.get("Content-Type") or json.loads(body).get("mediaType", "")
        return media_type.split(";")[0].strip(), digest, body

    def digest_of(self, ref: Reference) -> str:
        return self.get_manifest(ref)[1]

    def _blob_exists(self, registry: str, repository: str, digest: str) -> bool:
        try:
            self._request(
                "HEAD", registry, f"{repository}/blobs/{digest}", scope=f"repository:{repository}:pull,push"
            )
        except RegistryError as err:
            if "HTTP 404" in str(err):
                return False
            raise
        return True

    def _copy_blob(self, src: Reference, dst: Reference, digest: str) -> None:
        if self._blob_exists(dst.registry, dst.repository, digest):
            return
        scope = f"repository:{dst.repository}:pull,push"
        if src.registry == dst.registry:
            # Cross-repository mount: the registry links the blob, nothing is transferred.
            query = urllib.parse.urlencode({"mount": digest, "from": src.repository})
            status, headers, _ = self._request(
                "POST", dst.registry, f"{dst.repository}/blobs/uploads/?{query}", scope=scope
            )
            if status == 201:
                return
            self._request(
                "DELETE", dst.registry, headers.get("Location", "").split("/v2/", 1)[-1], scope=scope
            )
        _, _, data = self._request(
            "GET", src.registry, f"{src.repository}/blobs/{digest}", scope=f"repository:{src.repository}:pull"
        )
        _, headers, _ = self._request("POST", dst.registry, f"{dst.repository}/blobs/uploads/", scope=scope)
        location = headers.get("Location", "")
        path = location.split("/v2/", 1)[-1] if "/v2/" in location else location
        sep = "&" if "?" in path else "?"
        self._request(
            "PUT",
            dst.registry,
            f"{path}{sep}{urllib.parse.urlencode({'digest': digest})}",
            scope=scope,
            headers={"Content-Type": "application/octet-stream"},
            body=data,
        )

    def copy(self, src: Reference, dst: Reference) -> str:
        """Copy src's manifest (and, across repositories, its blobs) to dst; return the digest."""
        media_type, digest, body = self.get_manifest(src)
        if (src.registry, src.repository) != (dst.registry, dst.repository):
            self._copy_content(src, dst, media_type, body)
        scope = f"repository:{dst.repository}:pull,push"
        _, headers, _ = self._request(
            "PUT",
            dst.registry,
            f"{dst.repository}/manifests/{dst.ref}",
            scope=scope,
            headers={"Content-Type": media_type},
            body=body,
        )
        stored = headers.get("Docker-Content-Digest", digest)
        if stored != digest or self.digest_of(dst) != digest:
            raise RegistryError(f"{dst}: registry stored digest {stored}, expected {digest}")
        return digest

    def _copy_content(self, src: Reference, dst: Reference, media_type: str, body: bytes) -> None:
        manifest = json.loads(body)
        if media_type in INDEX_TYPES:
            for child in manifest.get("manifests", []):
                child_src = Reference(src.registry, src.repository, None, child["digest"])
                child_type, _, child_body = self.get_manifest(child_src)
                self._copy_content(child_src, dst, child_type, child_body)
                self._request(
                    "PUT",
                    dst.registry,
                    f"{dst.repository}/manifests/{child['digest']}",
                    scope=f"repository:{dst.repository}:pull,push",
                    headers={"Content-Type": child_type},
                    body=child_body,
                )
            return
        for blob in [manifest["config"], *manifest.get("layers", [])]:
            self._copy_blob(src, dst, blob["digest"])

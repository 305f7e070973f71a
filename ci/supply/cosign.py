"""cosign (sigstore/cosign v3): sign an image digest, attest to it, verify both, carry them along.

Why cosign: it is what users already run to check an image (`cosign verify`), it signs with a key
pair or keylessly with a CI's OIDC identity and the public transparency log, and v3 stores each
signature and attestation as a Sigstore bundle referring to the image digest (an OCI 1.1 referrer;
on registries without the referrers API, GHCR included, under the tag `sha256-<hex>`). Every call
names the image by digest, never by tag.

Secrets never reach a command line or a log:
- the signing key's password goes to cosign as COSIGN_PASSWORD in its environment only;
- registry credentials are the auth file skopeo's login wrote for that registry (ci/registry/skopeo),
  handed to cosign as DOCKER_CONFIG, one registry per call, so a credential only reaches its own
  registry (cosign's keychain is keyed by registry too);
- TUF metadata goes to a private directory of this process (not ~/.sigstore).

Key-based signing writes no transparency log entry (a signing config with no services, made by
`cosign signing-config create`), so verification with a key skips the log (`--insecure-ignore-tlog`);
keyless signing (no key: the workflow's OIDC token) uses Sigstore's public Fulcio and Rekor, and is
verified against the certificate identity and issuer with the log.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from ci.model.refs import Reference
from ci.registry.skopeo import Registries

SIGNATURE_TYPE = "https://sigstore.dev/cosign/sign/v1"  # the predicate type of cosign v3's signatures
SBOM_TYPE = "https://cyclonedx.org/bom"  # what `cosign attest --type cyclonedx` writes
TIMEOUT_S = 300.0
NOISE = (
    "WARNING:",
    "Using payload from",
    "Signing artifact",
    "Pushing signature",
    "tlog entry",
    "Verification for",
)


class CosignError(Exception):
    """cosign refused or failed; the message is one line and holds no secret."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Signer:
    """How to sign: a key (a file, or a URI cosign understands such as env://VAR) and its password,
    or keyless (key None: the CI's OIDC identity, a Fulcio certificate and the public Rekor log)."""

    key: str | None = None
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Verifier:
    """Whose signatures count: a public key, or a keyless identity (certificate SAN and issuer)."""

    key: str | None = None
    identity: str | None = None
    issuer: str | None = None

    def args(self) -> list[str]:
        if self.key is not None:
            return ["--key", self.key, "--insecure-ignore-tlog"]
        assert self.identity is not None
        assert self.issuer is not None
        return ["--certificate-identity", self.identity, "--certificate-oidc-issuer", self.issuer]

    def describe(self) -> str:
        return f"key {self.key}" if self.key is not None else f"identity {self.identity} ({self.issuer})"


class Cosign:
    """cosign for one command: a private directory for TUF, the signing config and the per-registry
    docker configs, removed on exit. Registry TLS and credentials come from `registries`."""

    def __init__(self, binary: Path, registries: Registries) -> None:
        self._binary = binary
        self._registries = registries
        self._dir = Path(tempfile.mkdtemp(prefix="tfci-cosign-"))  # 0700 by mkdtemp
        self._signing_config: Path | None = None
        self._configs = 0

    def __enter__(self) -> Cosign:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)

    # ------------------------------------------------------------------ plumbing

    def _docker_config(self, registry: str) -> Path:
        """A directory whose config.json is the auth file for `registry` (or none: anonymous)."""
        self._configs += 1
        directory = self._dir / f"docker-{self._configs}"
        directory.mkdir(mode=0o700)
        auth = self._registries.auth_file(registry)
        if auth is not None:
            (directory / "config.json").symlink_to(auth.resolve())
        return directory

    def _registry_args(self, registry: str) -> list[str]:
        if self._registries.is_plain_http(registry):
            return ["--allow-http-registry", "--allow-insecure-registry"]
        ca = self._registries.ca_file
        return ["--registry-cacert", str(ca)] if ca is not None else []

    def _run(self, args: list[str], ref: Reference, what: str, *, password: str | None = None) -> str:
        env = {
            **{k: v for k, v in os.environ.items() if k not in ("COSIGN_PASSWORD", "DOCKER_CONFIG")},
            "DOCKER_CONFIG": str(self._docker_config(ref.registry)),
            "TUF_ROOT": str(self._dir / "tuf"),
        }
        if password is not None:
            env["COSIGN_PASSWORD"] = password  # cosign reads it only when a key needs it
        if ref.digest is None:
            raise CosignError(f"{what}: {ref} is not pinned by digest")  # never sign or trust a tag
        argv = [str(self._binary), *args, *self._registry_args(ref.registry), f"{ref.name}@{ref.digest}"]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False
            )
        except subprocess.TimeoutExpired:
            raise CosignError(f"{what}: cosign did not answer within {TIMEOUT_S:.0f}s") from None
        except OSError as exc:
            raise CosignError(f"{what}: cannot run {self._binary}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            raise CosignError(
                f"{what}: {_message(done.stderr)} (cosign exit {done.returncode})", done.returncode
            )
        return done.stdout

    def _config(self) -> Path:
        """Key-based signing: a signing config with no Fulcio, no Rekor, no timestamp authority."""
        if self._signing_config is None:
            path = self._dir / "signing-config.json"
            try:
                done = subprocess.run(
                    [str(self._binary), "signing-config", "create", "--out", str(path)],
                    capture_output=True, text=True, timeout=60, check=False,
                    env={**os.environ, "TUF_ROOT": str(self._dir / "tuf")},
                )  # fmt: skip
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise CosignError(f"cosign signing-config create: {exc}") from None
            if done.returncode != 0:
                raise CosignError(f"cosign signing-config create: {_message(done.stderr)}")
            self._signing_config = path
        return self._signing_config

    def _signing_args(self, signer: Signer) -> list[str]:
        if signer.key is None:
            return ["--yes"]  # keyless: the default signing config (Fulcio, Rekor) from Sigstore's TUF root
        return ["--yes", "--key", signer.key, "--signing-config", str(self._config())]

    # ------------------------------------------------------------------ operations

    def sign(self, ref: Reference, signer: Signer) -> None:
        self._run(["sign", *self._signing_args(signer)], ref, f"sign {ref}", password=signer.password)

    def attest(self, ref: Reference, predicate: Path, predicate_type: str, signer: Signer) -> None:
        args = [
            "attest",
            *self._signing_args(signer),
            "--type",
            predicate_type,
            "--predicate",
            str(predicate),
        ]
        self._run(args, ref, f"attest {predicate_type} to {ref}", password=signer.password)

    def verify(self, ref: Reference, verifier: Verifier) -> None:
        """A signature by the verifier's key or identity refers to the digest (what users run)."""
        self._run(["verify", *verifier.args(), "--output", "json"], ref, "cosign verify")

    def verify_attestations(
        self, ref: Reference, predicate_type: str, verifier: Verifier
    ) -> list[dict[str, Any]]:
        """The DSSE envelopes of `predicate_type` that verify (others, e.g. foreign keys', are left out)."""
        out = self._run(
            ["verify-attestation", *verifier.args(), "--type", predicate_type],
            ref,
            f"verify-attestation {predicate_type}",
        )
        return [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]

    def bundles(self, ref: Reference) -> list[dict[str, Any]]:
        """Every Sigstore bundle referring to the digest, UNVERIFIED (filter with verified envelopes)."""
        out = self._run(["download", "attestation"], ref, f"download attestation {ref}")
        return [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]

    def attach(self, ref: Reference, bundle: dict[str, Any]) -> None:
        """Store a bundle (signed elsewhere) as a referrer of the same digest in another repository."""
        with tempfile.NamedTemporaryFile("w", dir=self._dir, suffix=".json", delete=False) as file:
            json.dump(bundle, file)
        self._run(["attach", "attestation", "--attestation", file.name], ref, f"attach attestation to {ref}")


def envelope_key(envelope: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """What identifies a DSSE envelope: its payload and signatures (a bundle carries the same)."""
    sigs = tuple(str(s.get("sig", "")) for s in envelope.get("signatures", []) if isinstance(s, dict))
    return str(envelope.get("payload", "")), sigs


def _message(stderr: str) -> str:
    """cosign's reason, on one line: its `Error:` line, else the last line that is not noise."""
    lines = [" ".join(line.split()) for line in stderr.splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error:")]
    if errors:
        return errors[-1][:300]
    rest = [line for line in lines if not line.startswith(NOISE)]
    return (rest[-1] if rest else "(no output)")[:300]

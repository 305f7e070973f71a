"""`sign`: sign each tested, pushed image's digest and attest its SBOM and its check results.

Why after the push and from index.json: only an image that passed every check (the vulnerability
gate included) is pushed, and index.json is the build's record of exactly which digest that was; the
signature and the two attestations then say, verifiably, who vouches for that digest (the key's
owner, or in CI the build workflow's identity), what is in it (the SBOM syft wrote) and how it was
checked (ci/supply/predicate.py). promote checks all three before it copies anything.

Why one image at a time, and each image's three writes one after another: cosign stores every
signature and attestation of a digest in one referrers index (the tag `sha256-<hex>` on registries
without the referrers API) with a read-modify-write; concurrent writes to it lose entries (measured:
4 parallel attests left 3).

An image of several platforms (pushed as one image index; its index.json entry, as `assemble` or a
multi-platform `build --publish` writes it, names each platform's manifest digest and files): the
signature and the check-results attestation (every platform's checks) are about the index digest,
what the tag points to and what promote copies; each platform's SBOM attestation is about that
platform's manifest digest, the image its SBOM describes (syft reads one platform's image; a
scanner or `cosign verify-attestation --platform` looks there). One rule, whatever the count: sign
the pushed digest, attest each SBOM where its root component says.

Why a command of its own: in the workflow, signing runs in a job of its own that alone holds the
OIDC token (`id-token: write`); the build job, which runs third-party build steps, never gets it.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci.model import refs
from ci.model.errors import UserError
from ci.registry.skopeo import Credentials, RegistryError, Transport
from ci.report.results import RunResult, read_index
from ci.supply import tools
from ci.supply.cosign import SBOM_TYPE, Cosign, CosignError, Signer
from ci.supply.predicate import CHECK_RESULTS_TYPE, check_results
from ci.supply.sbom import root_digest


@dataclass(frozen=True)
class SignRequest:
    """What `sign` was asked; the password and key password never in a repr."""

    results: tuple[Path, ...]
    signer: Signer
    credentials: Credentials | None
    transport: Transport = field(default_factory=Transport)


@dataclass(frozen=True)
class ToSign:
    result: RunResult
    entry: Mapping[str, Any]
    sbom: Path  # the single platform's SBOM, or the first platform's of an image index
    where: str  # the index.json and entry, for messages
    # An image index: (platform, its manifest digest, its SBOM file) for every platform; else empty.
    platforms: tuple[tuple[str, str, Path], ...] = ()

    @property
    def ref(self) -> refs.Reference:
        assert self.result.pushed is not None
        pushed = self.result.pushed
        return refs.parse_repository(pushed.repository, self.where).with_digest(pushed.digest)

    def sboms(self) -> list[tuple[refs.Reference, Path]]:
        """(the digest an SBOM is attested on, the SBOM): the pushed one, or each platform's manifest."""
        if not self.platforms:
            return [(self.ref, self.sbom)]
        return [(self.ref.with_digest(digest), sbom) for _, digest, sbom in self.platforms]


def images_to_sign(paths: tuple[Path, ...], warn: Callable[[str], None]) -> list[ToSign]:
    """Every image of the results that passed and was pushed, with its SBOM file; bad input: exit 2."""
    found: list[ToSign] = []
    for path in paths:
        index = read_index(path, "--results")
        for number, (entry, result) in enumerate(zip(index.entries, index.results, strict=True)):
            where = f"--results {index.path}: images[{number}]"
            if not result.ok or result.pushed is None:
                why = "failed its checks" if not result.ok else "was not pushed"
                warn(f"{result.tag}: not signed, it {why}")
                continue
            sbom = _sbom_file(index.path.parent, entry.get("sbom"), where)
            manifests = dict(result.pushed.platforms)
            platforms: list[tuple[str, str, Path]] = []
            if len(manifests) > 1:
                parts = entry.get("platforms")
                for part in parts if isinstance(parts, list) else []:
                    platform = part.get("platform")
                    if platform not in manifests:
                        raise UserError(f"{where}: platform {platform!r} is not one of the pushed index's")
                    at = f"{where}.platforms[{platform}]"
                    platforms.append(
                        (platform, manifests[platform], _sbom_file(index.path.parent, part.get("sbom"), at))
                    )
                if {p for p, _, _ in platforms} != set(manifests):
                    raise UserError(f"{where}: the entry does not list every platform of the pushed index")
            found.append(ToSign(result, entry, sbom, where, tuple(platforms)))
    if not found:
        raise UserError("nothing to sign: the results name no image that passed and was pushed")
    return found


def _sbom_file(directory: Path, name: object, where: str) -> Path:
    if not isinstance(name, str) or not (directory / name).is_file():
        raise UserError(f"{where}: no SBOM file next to the index (build with --report-dir writes it)")
    return directory / name


def sign_image(cosign: Cosign, image: ToSign, signer: Signer, workdir: Path) -> None:
    """Signature, then the SBOM attestation(s), then the check-results attestation, in that order."""
    ref = image.ref
    sboms = image.sboms()
    for subject, sbom in sboms:  # every SBOM is checked before anything is written
        try:
            described = root_digest(json.loads(sbom.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise CosignError(f"{sbom}: not a readable SBOM ({exc})") from None
        if described != subject.digest:
            raise CosignError(f"{sbom} describes {described or 'no digest'}, not the pushed {subject.digest}")
    predicate = workdir / f"check-results-{ref.digest.removeprefix('sha256:') if ref.digest else 'x'}.json"
    predicate.write_text(json.dumps(check_results(image.entry), indent=2), encoding="utf-8")
    cosign.sign(ref, signer)
    for subject, sbom in sboms:
        cosign.attest(subject, sbom, SBOM_TYPE, signer)
    cosign.attest(ref, predicate, CHECK_RESULTS_TYPE, signer)


def run_sign(request: SignRequest, echo: Callable[[str], None] = print) -> int:
    """0 every image signed and attested; 1 a registry or cosign refused one (each said in one line)."""
    binary = tools.find(tools.COSIGN, "sign")
    images = images_to_sign(request.results, lambda m: print(f"warning: {m}", file=sys.stderr))
    registries = {image.ref.registry for image in images}
    if request.credentials is not None and len(registries) > 1:
        raise UserError(
            f"the results name {len(registries)} registries ({', '.join(sorted(registries))}); "
            "--registry-user is for one: sign each registry's results separately, or use --authfile"
        )
    failures = 0
    with request.transport.open() as client, Cosign(binary, client) as cosign:
        if request.credentials is not None:
            try:
                client.login(next(iter(registries)), request.credentials)
            except RegistryError as err:
                print(f"error: sign: {err}", file=sys.stderr)
                return 1
        with tempfile.TemporaryDirectory(prefix="tfci-sign-") as workdir:
            for image in images:
                started = time.monotonic()
                try:
                    sign_image(cosign, image, request.signer, Path(workdir))
                except CosignError as err:
                    failures += 1
                    print(f"error: sign: {image.result.tag}: {err}", file=sys.stderr)
                    continue
                echo(
                    f"signed {image.ref}: signature, SBOM and check-results attestations "
                    f"({time.monotonic() - started:.1f}s)"
                )
    return 1 if failures else 0

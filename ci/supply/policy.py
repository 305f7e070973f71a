"""What promote checks before it copies an image, and how the evidence travels with the image.

Why before: a release repository is what users pull; an image gets there only if (1) its digest is
signed by the configured key or, in the workflow, the build workflow's identity, (2) a verified
check-results attestation about that digest says every check passed, and (3) its verified SBOM
attestation, scanned again now (the database has news since the build), passes the vulnerability
gate with the waivers as of today (a waiver that expired since the build no longer waives). Each
statement's subject must be the image's digest. Any failure refuses the image in one line, and
nothing of it is copied.

An image index (a multi-platform image): the signature and the check-results attestation are about
the index digest, each platform's SBOM attestation about that platform's manifest digest (ci.supply.sign
says why); each SBOM is verified, scanned and gated, and every bundle travels with its digest (the
manifests are copied with the index, digests unchanged).

Why carry the bundles: `cosign verify` against the release repository must work for users, and
signatures live next to the image in the repository it was signed in. `cosign download
attestation` lists every bundle referring to the digest (unverified, foreign ones included); only
those whose DSSE envelope was among the verified ones are attached to the target (`cosign attach
attestation` keeps the bundle and its artifact type; the signed bytes are unchanged, so they verify
there too), and the target is verified the way a user would before promote says so. skopeo cannot
copy them (it drops the referrers index's artifactType and then refuses --preserve-digests), and
`cosign copy` is deprecated and copies only the older signature tags.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci.model.refs import Reference
from ci.model.vulns import Severity, Waiver, evaluate
from ci.registry.skopeo import RegistryError
from ci.supply import osv, tools
from ci.supply.cosign import SBOM_TYPE, SIGNATURE_TYPE, Cosign, CosignError, Verifier, envelope_key
from ci.supply.osv import ScanError, Scanner
from ci.supply.predicate import CHECK_RESULTS_TYPE, PredicateError, require_passed
from ci.table.waivers import load_waivers

EVIDENCE = "signature, SBOM and check-results attestations"


class Refused(Exception):
    """The image may not be promoted; the message is one line saying why."""


@dataclass(frozen=True)
class Policy:
    """Whose signatures count and which vulnerability gate applies, as of which day, and the tools
    that check them."""

    verifier: Verifier
    gate: Severity | None
    waivers: tuple[Waiver, ...]
    scanner: Scanner
    today: datetime.date
    cosign: Path

    def describe(self) -> str:
        gate = f"vulnerability gate {self.gate}" if self.gate else "no vulnerability gate"
        return f"signed by {self.verifier.describe()}; {gate} with the waivers as of {self.today}"


def make_policy(verifier: Verifier, gate: Severity | None, waivers: Path, database: Path | None) -> Policy:
    """Read the waivers, find cosign and osv-scanner, check the database: every problem is exit 2,
    before any registry is asked anything."""
    return Policy(
        verifier=verifier,
        gate=gate,
        waivers=load_waivers(waivers),
        scanner=Scanner(
            tools.find(tools.OSV_SCANNER, "promote (the vulnerability gate)"), osv.database(database)
        ),
        today=datetime.date.today(),
        cosign=tools.find(tools.COSIGN, "promote (verifying signatures)"),
    )


def statements(envelopes: list[dict[str, Any]], digest: str, predicate_type: str) -> list[dict[str, Any]]:
    """The in-toto statements of verified envelopes; each must be about `digest`."""
    found = []
    for envelope in envelopes:
        try:
            statement = json.loads(base64.b64decode(str(envelope.get("payload", ""))))
        except ValueError:
            raise Refused(f"a verified {predicate_type} attestation has no readable statement") from None
        if not isinstance(statement, dict) or statement.get("predicateType") != predicate_type:
            continue
        subjects = statement.get("subject")
        hexes = {
            s["digest"].get("sha256")
            for s in (subjects if isinstance(subjects, list) else [])
            if isinstance(s, dict) and isinstance(s.get("digest"), dict)
        }
        if digest.removeprefix("sha256:") not in hexes:
            raise Refused(f"a verified {predicate_type} attestation is about another image, not {digest}")
        found.append(statement)
    if not found:
        raise Refused(f"no verified {predicate_type} attestation")
    return found


class Gatekeeper:
    """The policy applied with one cosign and one scanner, for one promote run."""

    def __init__(self, cosign: Cosign, policy: Policy) -> None:
        self.cosign = cosign
        self.policy = policy
        self._verified: dict[str, frozenset[tuple[str, tuple[str, ...]]]] = {}  # digest -> envelopes

    def _envelopes(self, ref: Reference, predicate_type: str) -> list[dict[str, Any]]:
        return self.cosign.verify_attestations(ref, predicate_type, self.policy.verifier)

    def check(self, source: Reference, manifests: Sequence[str] = ()) -> str:
        """Verify the source digest; returns a one-line summary, raises Refused with the reason.

        manifests: an image index's platform manifest digests, each of which carries its own SBOM
        attestation (empty: the source is one image and carries it).
        """
        digest = source.digest
        assert digest is not None
        verifier = self.policy.verifier
        subjects = [source.with_digest(m) for m in manifests] or [source]
        try:
            self.cosign.verify(source, verifier)
            signatures = self._envelopes(source, SIGNATURE_TYPE)
            checks = self._envelopes(source, CHECK_RESULTS_TYPE)
            sboms = {str(s.digest): self._envelopes(s, SBOM_TYPE) for s in subjects}
        except CosignError as err:
            raise Refused(str(err)) from None
        statements(signatures, digest, SIGNATURE_TYPE)
        for statement in statements(checks, digest, CHECK_RESULTS_TYPE):
            try:
                require_passed(statement.get("predicate"))
            except PredicateError as err:
                raise Refused(str(err)) from None
        messages = []
        for subject, envelopes in sboms.items():
            messages.append(self._gate(statements(envelopes, subject, SBOM_TYPE)[-1].get("predicate")))
            self._verified[subject] = frozenset(envelope_key(e) for e in envelopes)
        own = sboms.get(digest, [])
        self._verified[digest] = frozenset(envelope_key(e) for e in (*signatures, *checks, *own))
        return f"{EVIDENCE} verified; vulnerabilities: {'; '.join(dict.fromkeys(messages))}"

    def _gate(self, sbom: object) -> str:
        """Scan one verified SBOM now and apply the gate; the verdict's message, or Refused."""
        if not isinstance(sbom, dict):
            raise Refused("the verified SBOM attestation holds no CycloneDX document")
        try:
            findings = self.policy.scanner.scan(json.dumps(sbom))
        except ScanError as err:
            raise Refused(f"vulnerability scan of the attested SBOM failed: {err}") from None
        result = evaluate(findings, self.policy.gate, self.policy.waivers, self.policy.today)
        if not result.passed:
            raise Refused(f"vulnerabilities: {result.message()} (as of {self.policy.today})")
        return result.message()

    def verified_at(self, ref: Reference, manifests: Sequence[str] = ()) -> bool:
        """Would a user's `cosign verify` and `verify-attestation` (both types) pass at `ref`
        (the SBOMs: at each platform manifest of an image index)?"""
        try:
            self.cosign.verify(ref, self.policy.verifier)
            subjects = [ref.with_digest(m) for m in manifests] or [ref]
            return bool(
                all(self._envelopes(s, SBOM_TYPE) for s in subjects)
                and self._envelopes(ref, CHECK_RESULTS_TYPE)
                and self._envelopes(ref, SIGNATURE_TYPE)
            )
        except CosignError:
            return False

    def carry(self, source: Reference, target: Reference, manifests: Sequence[str] = ()) -> bool:
        """Attach the verified bundles of `source` (and of its platform manifests) to the same
        digests at `target`; False when they were there already. Raises RegistryError (one line)
        when they cannot be put there."""
        assert source.digest is not None
        assert target.digest is not None
        if self.verified_at(target, manifests):
            return False
        try:
            for digest in (source.digest, *manifests):
                wanted = self._verified.get(digest, frozenset())
                bundles = [
                    b
                    for b in self.cosign.bundles(source.with_digest(digest))
                    if isinstance(b.get("dsseEnvelope"), dict) and envelope_key(b["dsseEnvelope"]) in wanted
                ]
                for bundle in bundles:
                    self.cosign.attach(target.with_digest(digest), bundle)
        except CosignError as err:
            raise RegistryError(f"copy the {EVIDENCE} to {target}: {err}") from None
        if not self.verified_at(target, manifests):
            raise RegistryError(f"{target}: `cosign verify` does not pass after copying the {EVIDENCE}")
        return True

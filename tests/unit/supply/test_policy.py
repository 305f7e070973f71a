"""promote's reading of verified attestations: the in-toto statements must be about the image's
digest (the whole check, with cosign, is tests/e2e/test_release.py)."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any, cast

import pytest

from ci.model.refs import parse
from ci.supply.cosign import SBOM_TYPE, SIGNATURE_TYPE, Cosign, CosignError, Verifier, envelope_key
from ci.supply.osv import Scanner
from ci.supply.policy import Gatekeeper, Policy, Refused, statements
from ci.supply.predicate import CHECK_RESULTS_TYPE

DIGEST = "sha256:" + "e" * 64


def envelope(predicate_type: str, digest_hex: str = "e" * 64, **predicate: Any) -> dict[str, Any]:
    statement = {
        "_type": "https://in-toto.io/Statement/v0.1",
        "subject": [{"name": "staging.example/tf", "digest": {"sha256": digest_hex}}],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return {
        "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
        "signatures": [{"sig": "x"}],
    }


def test_statements_of_the_type_about_the_digest() -> None:
    found = statements([envelope("urn:a", status="passed"), envelope("urn:b")], DIGEST, "urn:a")
    assert [s["predicate"] for s in found] == [{"status": "passed"}]


def test_a_statement_about_another_digest_or_none_at_all_is_refused() -> None:
    with pytest.raises(Refused, match="about another image"):
        statements([envelope("urn:a", digest_hex="f" * 64)], DIGEST, "urn:a")
    with pytest.raises(Refused, match="no verified urn:a attestation"):
        statements([envelope("urn:b")], DIGEST, "urn:a")
    with pytest.raises(Refused, match="no readable statement"):
        statements([{"payload": "not base64 json!"}], DIGEST, "urn:a")


class FakeCosign:
    """Verified envelopes per (digest, predicate type); bundles carry them; attach records."""

    def __init__(self, envelopes: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
        self.envelopes = envelopes
        self.attached: list[tuple[str, str]] = []

    def verify(self, ref: Any, verifier: Any) -> None:
        if ref.registry == "release.example" and not self.attached:
            raise CosignError("no signatures found")

    def verify_attestations(self, ref: Any, predicate_type: str, verifier: Any) -> list[dict[str, Any]]:
        found = self.envelopes.get((str(ref.digest), predicate_type), [])
        if ref.registry == "release.example":
            mine = {d for d, _ in self.attached if d == str(ref.digest)}
            return found if mine else []
        return found

    def bundles(self, ref: Any) -> list[dict[str, Any]]:
        return [
            {"dsseEnvelope": e}
            for (digest, _), found in self.envelopes.items()
            if digest == str(ref.digest)
            for e in found
        ]

    def attach(self, ref: Any, bundle: dict[str, Any]) -> None:
        self.attached.append((str(ref.digest), envelope_key(bundle["dsseEnvelope"])[0][:8]))


class CleanScanner:
    def __init__(self) -> None:
        self.scanned = 0

    def scan(self, sbom: str) -> list[Any]:
        self.scanned += 1
        return []


def test_an_image_index_is_verified_on_the_index_and_each_platforms_manifest() -> None:
    """Signature and check results on the index digest; an SBOM per platform manifest, each scanned;
    every bundle is carried to its own digest at the target."""
    index, amd64, arm64 = DIGEST, "sha256:" + "a" * 64, "sha256:" + "b" * 64
    hexes = {d: d.removeprefix("sha256:") for d in (index, amd64, arm64)}
    envelopes = {
        (index, SIGNATURE_TYPE): [envelope(SIGNATURE_TYPE, hexes[index])],
        (index, CHECK_RESULTS_TYPE): [
            envelope(
                CHECK_RESULTS_TYPE, hexes[index], status="passed", checks=[{"name": "x", "status": "pass"}]
            )
        ],
        (amd64, SBOM_TYPE): [envelope(SBOM_TYPE, hexes[amd64], bomFormat="CycloneDX")],
        (arm64, SBOM_TYPE): [envelope(SBOM_TYPE, hexes[arm64], bomFormat="CycloneDX")],
    }
    cosign = FakeCosign(envelopes)
    scanner = CleanScanner()
    policy = Policy(
        verifier=Verifier(key="cosign.pub"),
        gate=None,
        waivers=(),
        scanner=cast(Scanner, scanner),
        today=datetime.date(2026, 12, 2),
        cosign=Path("cosign"),
    )
    keeper = Gatekeeper(cast(Cosign, cosign), policy)
    source = parse(f"staging.example/tf@{index}")
    with pytest.raises(Refused, match=r"no verified https://cyclonedx\.org/bom attestation"):
        keeper.check(source)  # an index carries no SBOM of its own
    keeper = Gatekeeper(cast(Cosign, cosign), policy)
    assert keeper.check(source, (amd64, arm64)).startswith("signature, SBOM and check-results")
    assert scanner.scanned == 2  # each platform's SBOM, scanned again now
    target = parse(f"release.example/tf@{index}")
    assert keeper.carry(source, target, (amd64, arm64))
    assert {d for d, _ in cosign.attached} == {index, amd64, arm64}

"""promote's reading of verified attestations: the in-toto statements must be about the image's
digest (the whole check, with cosign, is tests/e2e/test_release.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ci.supply.policy import Refused, statements

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

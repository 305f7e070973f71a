"""How cosign is called: by digest only, the key's password only in its environment, each registry's
credentials only for that registry (as a docker config), TLS and plain HTTP as the flags say.

cosign itself signs and verifies in tests/e2e/test_release.py; here a stand-in records how it was
called, because what must never happen (a secret on the command line) is a property of the call.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ci.model.refs import parse
from ci.registry.skopeo import Registries
from ci.supply.cosign import Cosign, CosignError, Signer, Verifier, _message, envelope_key

DIGEST = "sha256:" + "d" * 64
PASSWORD = "s3cret-pw"  # noqa: S105 - a test value, looked for where it must not be
RECORDER = """#!/bin/sh
# a stand-in for cosign: records its arguments and what it was given, one JSON line per call
python3 - "$@" <<'PY'
import json, os, sys
conf = os.path.join(os.environ.get("DOCKER_CONFIG", ""), "config.json")
print(json.dumps({"argv": sys.argv[1:], "password": os.environ.get("COSIGN_PASSWORD"),
                  "docker_config": open(conf).read() if os.path.exists(conf) else None,
                  "tuf": os.environ.get("TUF_ROOT")}), file=open(os.environ["RECORD"], "a"))
if sys.argv[1:3] == ["signing-config", "create"]:
    open(sys.argv[4], "w").write("{}")
PY
"""


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    binary = tmp_path / "cosign"
    binary.write_text(RECORDER)
    binary.chmod(0o755)
    record = tmp_path / "calls.jsonl"
    monkeypatch.setenv("RECORD", str(record))
    monkeypatch.setenv("COSIGN_PASSWORD", "from-the-callers-environment")
    return binary, record


def calls(record: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in record.read_text().splitlines()]


def test_signing_by_digest_with_the_password_in_the_environment_only(
    recorder: tuple[Path, Path], tmp_path: Path
) -> None:
    binary, record = recorder
    authfile = tmp_path / "auth.json"
    authfile.write_text('{"auths": {"staging.example": {"auth": "dTpw"}}}')
    ca = tmp_path / "ca.pem"
    ca.write_bytes(Path("/etc/ssl/certs/ca-certificates.crt").read_bytes())  # a bundle ssl can load
    ref = parse(f"staging.example/tf@{DIGEST}")
    with Registries(authfile=authfile, ca_bundle=ca) as registries, Cosign(binary, registries) as cosign:
        cosign.sign(ref, Signer(key=str(tmp_path / "cosign.key"), password=PASSWORD))
        cosign.attest(ref, tmp_path / "p.json", "urn:x", Signer(key="env://KEY", password=PASSWORD))
        with pytest.raises(CosignError, match="not pinned by digest"):
            cosign.sign(parse("staging.example/tf:latest"), Signer(key="k", password=PASSWORD))
    config, sign, attest = calls(record)
    assert config["argv"][:2] == ["signing-config", "create"]  # type: ignore[index]
    for call in (sign, attest):
        argv = call["argv"]
        assert isinstance(argv, list)
        assert argv[-1] == f"staging.example/tf@{DIGEST}"
        assert PASSWORD not in " ".join(argv)
        assert call["password"] == PASSWORD
        assert call["docker_config"] == authfile.read_text()  # the registry's own auth file
        assert "--signing-config" in argv  # key-based: no transparency log, no Fulcio
        assert argv[argv.index("--registry-cacert") + 1].endswith("/certs/ca.crt")
    assert attest["argv"][:1] == ["attest"]  # type: ignore[index]
    assert "--type" in attest["argv"]  # type: ignore[operator]


def test_verification_carries_no_password_and_plain_http_is_named(
    recorder: tuple[Path, Path], tmp_path: Path
) -> None:
    binary, record = recorder
    ref = parse(f"127.0.0.1:5000/tf@{DIGEST}")
    with (
        Registries(plain_http=frozenset({"127.0.0.1:5000"})) as registries,
        Cosign(binary, registries) as cosign,
    ):
        cosign.verify(ref, Verifier(key="cosign.pub"))
        cosign.verify_attestations(ref, "urn:x", Verifier(identity="https://id", issuer="https://issuer"))
        cosign.sign(ref, Signer())  # keyless
    verify, attestations, keyless = calls(record)
    assert verify["password"] is None  # the caller's COSIGN_PASSWORD is not passed on
    assert verify["docker_config"] is None  # no credential for this registry: anonymous
    assert verify["argv"][:4] == ["verify", "--key", "cosign.pub", "--insecure-ignore-tlog"]  # type: ignore[index]
    assert "--allow-http-registry" in verify["argv"]  # type: ignore[operator]
    assert attestations["argv"][1:5] == [  # type: ignore[index]
        "--certificate-identity", "https://id", "--certificate-oidc-issuer", "https://issuer",
    ]  # fmt: skip
    assert keyless["argv"][:2] == ["sign", "--yes"]  # type: ignore[index]
    assert "--key" not in keyless["argv"]  # type: ignore[operator]
    assert all(os.path.basename(str(c["tuf"])) == "tuf" for c in (verify, attestations, keyless))


def test_cosigns_reason_on_one_line() -> None:
    stderr = (
        "WARNING: Skipping tlog verification is an insecure practice\n"
        "Error: no signatures found\nerror during command execution: no signatures found\n"
    )
    assert _message(stderr) == "no signatures found"
    assert _message("WARNING: x\nsomething broke\n") == "something broke"
    assert _message("") == "(no output)"


def test_an_envelope_is_its_payload_and_signatures() -> None:
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": "cA==",
        "signatures": [{"sig": "c2ln"}],
    }
    assert envelope_key(envelope) == ("cA==", ("c2ln",))
    assert envelope_key({**envelope, "payloadType": "other"}) == envelope_key(envelope)
    assert envelope_key({**envelope, "signatures": [{"sig": "b3RoZXI="}]}) != envelope_key(envelope)

"""promote's argument handling: every bad value is one line and exit 2, before any registry is contacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.cli import main
from ci.model.errors import UserError

TO = ("--to", "r.example/org/release")
UNVERIFIED = ("--no-verify",)  # for the cases about other flags: verification is checked after them


def _run(*argv: str) -> int:
    args = main.build_parser().parse_args(list(argv))
    code: int = args.run(args)
    return code


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    not_pem = tmp_path / "ca.der"
    not_pem.write_bytes(b"\x30\x82\x01\x0a")
    binary = tmp_path / "password.bin"
    binary.write_bytes(b"\xff\xfe\xfd")
    pub = tmp_path / "cosign.pub"
    pub.write_text("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n")
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - {id: CVE-1, package: openssl, reason: r, expires: '2027-01-01'}\n")
    return {"not_pem": not_pem, "binary": binary, "dir": tmp_path, "pub": pub, "waivers": waivers}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--from", "localhost:abc/repo", *TO), "port 'abc' is not a number"),
        (("--from", "r.example/org/my repo", *TO), "whitespace"),
        (("--from", "https://r.example/org/staging", *TO), "without a URL scheme"),
        (("--from", "r.example/org/staging", "--to", "r.example//x"), "empty component"),
        (("--from", "r.example/org/staging:tag", *TO), "without :tag"),
        ((*TO,), "--from REGISTRY/REPO is required without --results"),
        (
            ("--from", "r.example/s", *TO, *UNVERIFIED, "--registry-ca-cert", "{not_pem}"),
            "not a PEM certificate",
        ),
        (("--from", "r.example/s", *TO, "--to-user", "u", "--to-password-file", "{binary}"), "not UTF-8"),
        (("--from", "r.example/s", *TO, "--from-password-file", "{binary}"), "needs --from-user"),
        (("--from", "r.example/s", *TO, "--to-user", "u"), "set TO_REGISTRY_PASSWORD"),
        (("--from", "r.example/s", *TO, "--to-user", "a b"), "no whitespace"),
        (("--from", "r.example/s", *TO, "--journal", "{dir}"), "is a directory"),
        (("--results", "{dir}/none.json", *TO), "no such file"),
        (("--results", "{dir}/none.json", "--tf", "2.15.0", *TO), "no selectors"),
        (("--from", "r.example/s", *TO, "--plain-http", "host:port"), "not a number"),
        (("--from", "r.example/s", *TO), "promote verifies each image before copying it: give --verify-key"),
        (("--from", "r.example/s", *TO, "--verify-key", "{dir}/none.pub"), "no such file"),
        (("--from", "r.example/s", *TO, "--certificate-identity", "x"), "needs both --certificate-identity"),
        (("--from", "r.example/s", *TO, "--verify-key", "{pub}", "--certificate-identity", "x"), "not both"),
        (("--from", "r.example/s", *TO, "--no-verify", "--verify-key", "{pub}"), "give it alone"),
        (
            ("--from", "r.example/s", *TO, "--verify-key", "{pub}", "--vuln-gate", "severe"),
            "--vuln-gate 'severe': expected one of CRITICAL, HIGH, MEDIUM, LOW or none",
        ),
        (
            ("--from", "r.example/s", *TO, "--verify-key", "{pub}", "--waivers", "{waivers}"),
            r"waivers.yaml: waivers\[0\]: field 'expires': expected a date like 2027-03-31 \(unquoted",
        ),
    ],
)
def test_bad_promote_input_is_a_user_error(
    argv: tuple[str, ...], message: str, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TO_REGISTRY_PASSWORD", raising=False)
    argv = tuple(a.format(**files) for a in argv)
    with pytest.raises(UserError, match=message):
        _run("promote", *argv)


def test_promote_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["promote", "--from", "localhost:abc/repo", *TO]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: --from 'localhost:abc/repo'")

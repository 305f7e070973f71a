"""promote's argument handling: every bad value is one line and exit 2, before any registry is contacted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.cli import main
from ci.model.errors import UserError
from tests.unit import hostile

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


def _results(path: Path, *tags: str, repository: str = "127.0.0.1:1/tfci/staging") -> Path:
    pushed = {"repository": repository, "tag": tags[0], "digest": "sha256:" + "a" * 64}
    image = {"tag": tags[0], "tags": list(tags), "ok": True, "pushed": pushed}
    path.write_text(json.dumps({"schema": 1, "images": [image]}))
    return path


def test_from_user_without_from_is_refused_with_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, finding 1: `--results` without `--from` sent --from-user's password to every
    registry the results named; now that is exit 2 before any registry is contacted."""
    monkeypatch.setenv("FROM_REGISTRY_PASSWORD", "staging-s3cret")
    results = _results(tmp_path / "index.json", "t1")
    argv = ["promote", "--results", str(results), "--to", "127.0.0.1:1/tfci/release"]
    assert main.main([*argv, "--from-user", "ci", "--journal", str(tmp_path / "j.json")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: --from-user needs --from REGISTRY/REPO with --results: source credentials are only sent "
        "to the --from registry (or use --authfile, keyed by registry)\n"
    )
    assert not (tmp_path / "j.json").exists()


def test_bad_tags_and_empty_results_stop_promote_before_any_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16, findings 8 and 12: a tag "bad tag!" among the aliases moved two tags first; a
    results file with "images": [] was an AssertionError. Both are exit 2, nothing written."""
    journal = tmp_path / "j.json"
    common = ["--to", "127.0.0.1:1/tfci/release", "--plain-http", "127.0.0.1:1", "--journal", str(journal)]
    hostile = _results(tmp_path / "bad.json", "t1", "2.15-cpu", "bad tag!", "latest")
    assert main.main(["promote", "--results", str(hostile), *common]) == 2
    assert capsys.readouterr().err == (
        f"error: --results {hostile}: images[0]: field 'tags[2]' 'bad tag!' is not a valid tag "
        "(letters, digits, _ . -; not starting with . or -; at most 128)\n"
    )
    empty = tmp_path / "empty.json"
    empty.write_text('{"schema": 1, "images": []}')
    assert main.main(["promote", "--results", str(empty), *common]) == 2
    assert capsys.readouterr().err == f"error: --results {empty}: lists no images to promote\n"
    bad_digest = tmp_path / "digest.json"
    bad_digest.write_text(hostile.read_text().replace("a" * 64, "xyz").replace("bad tag!", "ok"))
    assert main.main(["promote", "--results", str(bad_digest), *common]) == 2
    assert capsys.readouterr().err == (
        f"error: --results {bad_digest}: images[0]: field 'pushed.digest' must be 'sha256:' and 64 "
        "lowercase hex digits\n"
    )
    assert not journal.exists()


# --------------------------------------------------------------------------- property (issue 16)


@hostile.PROPERTY
@given(data=st.data())
def test_promote_on_hostile_command_lines(data: st.DataObject, tmp_path: Path) -> None:
    """Registries at a closed port (or behind a closed proxy): the passwords in the environment and
    in the password file must never show, whatever fails."""
    files = hostile.hostile_files(tmp_path / "files")
    document = hostile.write(tmp_path / "generated.json", data.draw(hostile.index_documents()))
    repos = st.one_of(
        st.sampled_from([f"{hostile.NOWHERE}/tfci/staging", f"{hostile.NOWHERE}/tfci/release"]), hostile.refs
    )
    flags = {
        **hostile.SELECTORS,
        "--results": st.one_of(st.just(str(document)), hostile.text),
        "--from": repos,
        "--to": repos,
        "--no-aliases": None,
        "--dry-run": None,
        "--journal": hostile.text,
        "--from-user": st.one_of(st.just("ci"), hostile.text),
        "--to-user": st.one_of(st.just("ci"), hostile.text),
        "--from-password-file": hostile.text,
        "--to-password-file": hostile.text,
        "--authfile": hostile.text,
        "--registry-ca-cert": hostile.text,
        "--plain-http": st.one_of(st.just(hostile.NOWHERE), hostile.refs),
    }
    base = [
        *hostile.CPU_IMAGE,
        "--from",
        f"{hostile.NOWHERE}/tfci/staging",
        "--to",
        f"{hostile.NOWHERE}/tfci/release",
    ]
    base += [
        "--plain-http",
        hostile.NOWHERE,
        "--from-user",
        "ci",
        "--journal",
        str(tmp_path / "journal.json"),
    ]
    argv = data.draw(hostile.command_lines("promote", flags, paths=files, base=base))
    code, out, err = hostile.run(argv)
    hostile.assert_contained(code, out, err, argv)
    assert "moved " not in out  # nothing can have been copied

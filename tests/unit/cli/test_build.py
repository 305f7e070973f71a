"""The build/test commands' argument handling: every bad value is a UserError before any engine work,
and no secret is taken from a flag value."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.cli import main
from ci.model.errors import UserError
from tests.unit import hostile


def _run(*argv: str) -> int:
    args = main.build_parser().parse_args(list(argv))
    code: int = args.run(args)
    return code


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("build", "--tf", "2.15.0", "--ca-cert", "/x"), "--ca-cert /x: no such file"),
        (("build",), "nothing selected"),
        (("build", "--all", "--tf", "2.15.0"), "--all"),
        (("build", "--all", "--export", "/tmp/x.tar"), r"\{tag\}"),
        (("build", "--tf", "2.15.0", "--export", "/tmp"), "--export /tmp: is a directory"),
        (("build", "--tf", "2.15.0", "--export", "/etc/hostname/y.tar"), "is not a directory"),
        (("build", "--tf", "2.15.0", "--jobs", "0"), "--jobs 0"),
        (("build", "--tf", "2.15.0", "--publish", "tensorflow"), "--publish 'tensorflow': must be REGISTRY"),
        (("build", "--tf", "2.15.0", "--publish", "r.example/tf:a b"), "'a b' is not a tag"),
        (
            ("build", "--all", "--publish", "r.example/tf:1.0"),
            "several images are built; put {tag} in the tag",
        ),
        (("build", "--tf", "2.15.0", "--publish", "https://ghcr.io/org/repo"), "without a URL scheme"),
        (("build", "--tf", "2.15.0", "--publish", "ghcr.io//"), "empty component"),
        (("build", "--tf", "2.15.0", "--publish", "ghcr.io/org/my repo"), "whitespace"),
        (("build", "--tf", "2.15.0", "--publish", "localhost:abc/repo"), "not a number"),
        (("build", "--tf", "2.15.0", "--registry-user", "ci"), "only used with --publish"),
        (("build", "--tf", "2.15.0", "--password-file", "/etc/hostname"), "only used with --publish"),
        (
            ("build", "--tf", "2.15.0", "--publish", "r.example/tf", "--password-file", "/etc/hostname"),
            "--password-file needs --registry-user",
        ),
        (("build", "--tf", "2.15.0", "--report-dir", "/etc/hostname"), "not a directory"),
        (("build", "--tf", "9.9.9"), "--tf"),
        (
            ("build", "--tf", "2.15.0", "--pip-index-url", "https://ci:t0ken@pypi.example/simple"),
            "carries credentials.*TFCI_PIP_INDEX_URL",
        ),
        (("build", "--tf", "2.15.0", "--apt-mirror", "https://h:x/"), "--apt-mirror"),
    ],
)
def test_bad_build_input_is_a_user_error(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(UserError, match=message):
        _run(*argv)


def test_a_credential_in_a_flag_is_never_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    code = main.main(["build", "--tf", "2.15.0", "--pip-index-url", "https://ci:t0ken@pypi.example/simple"])
    err = capsys.readouterr().err
    assert code == 2
    assert "t0ken" not in err
    assert "***@pypi.example" in err


def test_cli_prints_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["build", "--tf", "2.15.0", "--publish", "nohost"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: --publish 'nohost'")


# --------------------------------------------------------------------------- property (issue 16)


@hostile.PROPERTY
@given(data=st.data())
def test_build_preflight_on_hostile_command_lines(data: st.DataObject, tmp_path: Path) -> None:
    """Engine-free: the engine address is a closed port (a session that starts anyway runs
    /bin/false as its CLI), registries are a closed port or behind a closed proxy. Nothing builds."""
    files = hostile.hostile_files(tmp_path / "files")
    flags = {
        **hostile.SELECTORS,
        "--export": hostile.text,
        "--publish": st.one_of(st.just(f"{hostile.NOWHERE}/tfci/staging"), hostile.refs),
        "--registry-user": st.one_of(st.just("ci"), hostile.text),
        "--password-file": hostile.text,
        "--authfile": hostile.text,
        "--registry-ca-cert": hostile.text,
        "--plain-http": st.one_of(st.just(hostile.NOWHERE), hostile.refs),
        "--base-mirror": st.one_of(st.just(f"docker.io={hostile.NOWHERE}"), hostile.text),
        "--no-base-check": None,
        "--apt-mirror": hostile.urls,
        "--pip-index-url": hostile.urls,
        "--pip-extra-index-url": hostile.urls,
        "--miniconda-base-url": hostile.urls,
        "--miniconda-file": hostile.text,
        "--ca-cert": hostile.text,
        "--bake-ca": None,
        "--require-gpu": None,
        "--skip-service-checks": None,
        "--jobs": st.one_of(st.sampled_from(["1", "0", "-1", "99999999999999999999"]), hostile.text),
        "--report-dir": hostile.text,
        "--engine": st.one_of(st.just(f"tcp://{hostile.NOWHERE}"), hostile.urls, hostile.text),
        "--cache-to": st.one_of(
            st.sampled_from(
                [
                    f"{hostile.NOWHERE}/cache",
                    "type=gha,scope=x",
                    "type=s3,bucket=b,region=r",
                    "type=local,dest=d",
                ]
            ),
            hostile.text,
            hostile.refs,
        ),
        "--cache-from": st.one_of(st.just(f"{hostile.NOWHERE}/cache"), hostile.text, hostile.refs),
        "--table": hostile.text,
    }
    argv = data.draw(hostile.command_lines("build", flags, paths=files, base=hostile.CPU_IMAGE))
    hostile.assert_contained(*hostile.run(argv), argv)


def test_vulnerability_flags_are_checked_before_any_engine_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build = ("build", "--tf", "2.15.0", "--report-dir", str(tmp_path / "r"))
    with pytest.raises(
        UserError, match="--vuln-gate 'severe': expected one of CRITICAL, HIGH, MEDIUM, LOW or none"
    ):
        _run(*build, "--vuln-gate", "severe")
    with pytest.raises(UserError, match="--vuln-gate needs --report-dir DIR"):
        _run("build", "--tf", "2.15.0", "--vuln-gate", "HIGH")
    bad = tmp_path / "waivers.yaml"
    bad.write_text("waivers:\n  - {id: CVE-1, package: openssl, reason: r, expires: 2027-02-30}\n")
    assert main.main([*build, "--waivers", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "waivers.yaml: " in err
    assert "Traceback" not in err
    monkeypatch.setenv("TFCI_SYFT", str(tmp_path / "no-syft"))
    assert main.main(list(build)) == 2
    needed = "(syft, --report-dir (the image's SBOM))"
    assert (
        capsys.readouterr().err
        == f"error: $TFCI_SYFT {tmp_path / 'no-syft'}: not an executable file {needed}\n"
    )

"""The build/test commands' argument handling: every bad value is a UserError before any engine work,
and no secret is taken from a flag value."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ci.cli import flags, main
from ci.model.errors import UserError
from ci.pipeline.preflight import Publish, publish_target


def publish_from(args: argparse.Namespace) -> Publish:
    """What `build` makes of --publish and its credential flags."""
    return publish_target(args.publish, flags.credentials(args, flags.PUBLISH))


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
        (("build", "--tf", "2.15.0", "--publish", "r.example/tf:1.0"), "without :tag"),
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


def test_publish_password_comes_from_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_PASSWORD", raising=False)
    parser = main.build_parser()
    argv = ["build", "--tf", "2.15.0", "--publish", "r.example/org/tf", "--registry-user", "ci"]
    args = parser.parse_args(argv)
    with pytest.raises(UserError, match="set REGISTRY_PASSWORD or pass --password-file"):
        publish_from(args)
    monkeypatch.setenv("REGISTRY_PASSWORD", "from-env")
    publish = publish_from(args)
    assert publish is not None
    assert (publish.registry, publish.repository) == ("r.example", "r.example/org/tf")
    assert publish.credentials is not None
    assert publish.credentials.password == "from-env"  # noqa: S105 - a fake
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    args.password_file = secret
    publish = publish_from(args)
    assert publish is not None
    assert publish.credentials is not None
    assert publish.credentials.password == "from-file"  # noqa: S105 - a fake
    assert "from-file" not in repr(publish)
    args.password_file = tmp_path / "missing"
    with pytest.raises(UserError, match="--password-file"):
        publish_from(args)
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe")
    args.password_file = binary
    with pytest.raises(UserError, match="not UTF-8"):
        publish_from(args)


def test_url_with_credentials_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from ci.cli.flags import options_from

    monkeypatch.setenv("TFCI_PIP_INDEX_URL", "https://ci:t0ken@pypi.example/simple")
    args = main.build_parser().parse_args(["build", "--tf", "2.15.0"])
    assert options_from(args).pip_index_url == "https://ci:t0ken@pypi.example/simple"


def test_cli_prints_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["build", "--tf", "2.15.0", "--publish", "nohost"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: --publish 'nohost'")

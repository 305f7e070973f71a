"""The build/test commands' argument handling: every bad value is a UserError before any engine work,
and no secret is taken from a flag value."""

from __future__ import annotations

import pytest

from ci.cli import main
from ci.model.errors import UserError


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

"""The build/test commands' argument handling: every bad value is a UserError before any engine work."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci import main
from ci.errors import UserError


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
        (("build", "--tf", "2.15.0", "--jobs", "0"), "--jobs 0"),
        (("build", "--tf", "2.15.0", "--publish", "tensorflow"), "--publish 'tensorflow': must start with a"),
        (("build", "--tf", "2.15.0", "--publish", "r.example/tf:1.0"), "without :tag"),
        (("build", "--tf", "2.15.0", "--registry-user", "ci"), "only used with --publish"),
        (("build", "--tf", "9.9.9"), "--tf"),
    ],
)
def test_bad_build_input_is_a_user_error(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(UserError, match=message):
        _run(*argv)


def test_publish_password_comes_from_file_or_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ci.cli_build import publish_from

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
    assert publish.password == "from-env"  # noqa: S105 - a fake
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    args.password_file = secret
    publish = publish_from(args)
    assert publish is not None
    assert publish.password == "from-file"  # noqa: S105 - a fake
    args.password_file = tmp_path / "missing"
    with pytest.raises(UserError, match="--password-file"):
        publish_from(args)


def test_cli_prints_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["build", "--tf", "2.15.0", "--publish", "nohost"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: --publish 'nohost'")

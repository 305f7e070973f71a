"""sign's argument handling: how to sign must be said, the key's password never comes from a flag
value, and every problem is one line (exit 2) before any registry is contacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.cli import main
from ci.model.errors import UserError


def _run(*argv: str) -> int:
    args = main.build_parser().parse_args(["sign", *argv])
    code: int = args.run(args)
    return code


@pytest.fixture
def index(tmp_path: Path) -> Path:
    path = tmp_path / "index.json"
    path.write_text('{"schema": 1, "images": []}')
    (tmp_path / "cosign.key").write_text("key")
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "give --key KEY (a cosign key pair) or --keyless"),
        (("--keyless", "--key", "{dir}/cosign.key"), "give --key KEY (a cosign key pair) or --keyless"),
        (("--keyless", "--key-password-file", "{dir}/cosign.key"), "--key-password-file is for --key"),
        (("--key", "{dir}/cosign.key"), "set $COSIGN_PASSWORD (empty for a key without a password)"),
        (("--key", "{dir}/none.key", "--key-password-file", "{dir}/cosign.key"), "none.key: no such file"),
        (("--key", "{dir}/cosign.key", "--key-password-file", "{dir}/none"), "no such file"),
        (("--keyless", "--password-file", "{dir}/cosign.key"), "--password-file needs --registry-user"),
        (("--keyless",), "nothing to sign: the results name no image that passed and was pushed"),
    ],
)
def test_bad_sign_input_is_a_user_error(
    argv: tuple[str, ...], message: str, index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    monkeypatch.setenv("TFCI_COSIGN", "/bin/true")
    values = tuple(a.format(dir=index.parent) for a in argv)
    with pytest.raises(UserError) as err:
        _run("--results", str(index), *values)
    assert message in err.value.message


def test_results_are_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["sign", "--keyless"]) == 2
    assert "--results" in capsys.readouterr().err

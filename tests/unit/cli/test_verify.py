"""`verify`'s flags: which images it checks, and every bad value one line and exit 2 (on the recorded
index responses, tests/fixtures/index)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit import hostile
from tests.unit.conftest import RunCli

pytestmark = pytest.mark.usefixtures("recorded_index")


def test_targets_only_with_all(run_cli: RunCli) -> None:
    code, out, _ = run_cli("verify", "--all", "--no-releases")
    assert code == 0, out
    assert out.splitlines()[-1].startswith("verify: 15 images (")  # 11 targets, 4 of them also arm64


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--tf", "9.9.9"), "error: --tf: unknown TensorFlow version '9.9.9'; valid: 1.15.5"),
        (
            ("--tf", "2.21.0", "--python", "3.9"),
            "error: --python: TensorFlow 2.21.0 has wheels for Python 3.10",
        ),
        (("--python", "3.10"), "error: --tf is required"),
        (("--tf", "2.15.0", "--all"), "error: --all cannot be combined"),
        (("--tf", "2.15.0", "--platform", "arm"), "error: --platform: platform 'arm' is not a platform"),
        (("--tf", "2.15.0", "--platform", "linux/mips"), "error: --platform: 'linux/mips' is not a platform"),
        (("--tf", "2.15.0", "--os", "windows11"), "error: --os: unknown os 'windows11'"),
        (
            ("--pip-index-url", "ftp://x"),
            "error: --pip-index-url 'ftp://x': expected an http:// or https:// URL",
        ),
        (("--ca-cert", "/nonexistent.pem"), "error: --ca-cert /nonexistent.pem: no such file"),
    ],
)
def test_bad_flags_are_one_line_exit_2(run_cli: RunCli, argv: tuple[str, ...], fragment: str) -> None:
    code, out, err = run_cli("verify", *argv)
    assert code == 2
    assert out == ""
    assert err.strip().startswith(fragment), err
    assert len(err.strip().splitlines()) == 1


def test_an_index_url_with_credentials_is_refused_as_a_flag_value(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, finding 2: the password went into the summary, the error line and JSON `indexes`."""
    monkeypatch.delenv("TFCI_PIP_INDEX_URL", raising=False)
    for flag in ("--pip-index-url", "--pip-extra-index-url"):
        code, out, err = run_cli("verify", "--tf", "2.15.0", flag, "https://ci:s3cretpw@pypi.org/simple/")
        assert (code, out) == (2, "")
        assert "s3cretpw" not in err
        env = "TFCI_PIP_INDEX_URL" if flag == "--pip-index-url" else "TFCI_PIP_EXTRA_INDEX_URL"
        assert (
            f"the URL carries credentials; a flag value shows in `ps` and shell history, so put it in ${env}"
            in err
        )


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_index_url_comes_from_tfci_pip_index_url_and_is_shown_redacted(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """Issue 16, finding 2: verify ignored TFCI_PIP_INDEX_URL, so the secret had to go in a flag."""
    monkeypatch.setenv("TFCI_PIP_INDEX_URL", "https://ci:pa%23s3cret@pypi.org/simple/")
    monkeypatch.setenv("TFCI_PIP_EXTRA_INDEX_URL", "https://ci:x%2Fs3cret@mirror.example/simple/")
    code, out, err = run_cli(
        "verify", "--tf", "2.15.0", "--python", "3.11", "--variant", "cpu", "--format", fmt
    )
    assert "s3cret" not in out + err
    assert "https://***@pypi.org/simple/" in out
    assert "https://***@mirror.example/simple/" in out  # unreachable in the replay: named, redacted
    assert code == 0, out


# --------------------------------------------------------------------------- property (issue 16)


@settings(hostile.PROPERTY, max_examples=20)
@given(data=st.data())
def test_verify_on_hostile_command_lines(data: st.DataObject, tmp_path: Path) -> None:
    """On the recorded index (no network); TFCI_PIP_INDEX_URL carries a password that must never show."""
    files = hostile.hostile_files(tmp_path / "files")
    flags = {
        **hostile.SELECTORS,
        "--table": hostile.text,
        "--pip-index-url": hostile.urls,
        "--pip-extra-index-url": hostile.urls,
        "--ca-cert": hostile.text,
        "--format": st.sampled_from(["text", "json", "yaml"]),
        "--no-releases": None,
    }
    narrow = ["--tf", "2.15.0", "--python", "3.11", "--variant", "cpu", "--no-releases"]  # keeps it quick
    command = data.draw(hostile.command_lines("verify", flags, paths=files, base=narrow))
    argv = [command[0], *narrow, *command[1:]]
    hostile.assert_contained(*hostile.run(argv), argv)

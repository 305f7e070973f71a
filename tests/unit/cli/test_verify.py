"""`verify`'s flags: which images it checks, and every bad value one line and exit 2 (on the recorded
index responses, tests/fixtures/index)."""

from __future__ import annotations

import pytest

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

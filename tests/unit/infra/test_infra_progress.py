"""A newcomer's first run says what it is doing: provisioning lines reach the terminal through
pytest's capture, one per step of tests/infra/stack.sh, with the elapsed time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import stack_up

pytest_plugins = ["pytester"]


def test_a_fixture_line_reaches_the_terminal_despite_capture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from tests.conftest import terminal_lines

        @pytest.fixture(scope="session")
        def provisioned(request):
            terminal_lines(request.config)("building the engine")

        def test_uses_it(provisioned):
            print("captured test output")
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*[[]infra     0s] building the engine*"])
    assert "captured test output" not in result.stdout.str()


def test_stack_up_forwards_the_scripts_step_lines_only(tmp_path: Path) -> None:
    script = tmp_path / "stack.sh"
    script.write_text(
        "echo '[registry] started'\necho 'go: downloading x'\necho '[engine] building dagger' >&2\n"
        "echo '[stack] stack up in 3s'\n"
    )
    said: list[str] = []
    stack_up(said.append, script)
    assert said == ["[registry] started", "[engine] building dagger", "[stack] stack up in 3s"]


def test_a_failing_stack_up_says_why(tmp_path: Path) -> None:
    script = tmp_path / "stack.sh"
    script.write_text("echo 'apt-get: no network' >&2\nexit 3\n")
    with pytest.raises(RuntimeError, match="apt-get: no network"):
        stack_up(lambda _line: None, script)

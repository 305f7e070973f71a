"""`lock`'s flags: the selected images' bases, mirrors, transport and --check reach the lock step
exactly, and a bad value is one line and exit 2 before any registry is asked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci.cli import lock
from ci.registry.skopeo import Transport
from ci.select import Selection, selected_specs
from ci.table.rows import Table
from tests.e2e.specs import CPU_CLI_ARGS
from tests.unit import hostile
from tests.unit.conftest import RunCli


@dataclass
class Calls:
    seen: list[dict[str, object]] = field(default_factory=list)
    code: int = 0


@pytest.fixture
def lock_step(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Records what `lock` hands to ci.registry.bases.lock_bases instead of asking registries."""
    calls = Calls()

    def record(
        table: Table, images: list[str], mirrors: Mapping[str, str], transport: Transport, *, check: bool
    ) -> int:
        calls.seen.append(
            {
                "table": table.path,
                "images": images,
                "mirrors": mirrors,
                "transport": transport,
                "check": check,
            }
        )
        return calls.code

    monkeypatch.setattr(lock, "lock_bases", record)
    return calls


def test_one_image_locks_its_own_base(lock_step: Calls, run_cli: RunCli) -> None:
    argv = ["lock", *CPU_CLI_ARGS, "--check", "--base-mirror", "docker.io=127.0.0.1:5000"]
    code, _, err = run_cli(*argv, "--plain-http", "127.0.0.1:5000")
    assert code == 0, err
    (call,) = lock_step.seen
    assert call["images"] == ["debian:bookworm"]
    assert call["mirrors"] == {"docker.io": "127.0.0.1:5000"}
    assert call["transport"] == Transport(plain_http=frozenset({"127.0.0.1:5000"}))
    assert call["check"] is True


def test_no_selectors_locks_every_target_base_once(lock_step: Calls, run_cli: RunCli) -> None:
    lock_step.code = 1
    code, _, _ = run_cli("lock")
    assert code == 1  # lock_bases' answer is the exit code
    (call,) = lock_step.seen
    assert call["images"] == sorted({spec.base_image for spec in selected_specs(Selection())})
    assert call["check"] is False


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--base-mirror", "docker.io"), "error: --base-mirror 'docker.io': expected REGISTRY=MIRROR"),
        (("--base-mirror", "docker.io=https://m/x"), "error: --base-mirror 'https://m/x"),
        (("--plain-http", "host:port"), "error: --plain-http 'host:port"),
        (("--tf", "9.9.9"), "error: --tf: "),
    ],
)
def test_bad_flags_are_one_line_before_any_registry(
    lock_step: Calls, run_cli: RunCli, argv: tuple[str, ...], fragment: str
) -> None:
    code, out, err = run_cli("lock", *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(fragment), err
    assert err.count("\n") == 1
    assert lock_step.seen == []


# --------------------------------------------------------------------------- property (issue 16)

TRANSPORT: hostile.Flags = {
    "--authfile": hostile.text,
    "--registry-ca-cert": hostile.text,
    "--plain-http": st.one_of(st.just(hostile.NOWHERE), hostile.refs),
}


@hostile.PROPERTY
@given(data=st.data())
def test_lock_on_hostile_command_lines(data: st.DataObject, tmp_path: Path) -> None:
    """Never the repository's table: a copy, so a lock that were written lands in tmp_path."""
    files = hostile.hostile_files(tmp_path / "files")
    flags = {
        **hostile.SELECTORS,
        **TRANSPORT,
        "--check": None,
        "--base-mirror": st.one_of(st.just(f"docker.io={hostile.NOWHERE}"), hostile.text, hostile.refs),
        "--table": hostile.text,
    }
    command = data.draw(hostile.command_lines("lock", flags, paths=files, base=hostile.CPU_IMAGE))
    argv = [command[0], "--table", str(files[0]), *command[1:]]
    hostile.assert_contained(*hostile.run(argv), argv)
    assert not (Path(hostile.__file__).parents[2] / "versions.lock.yaml").exists()

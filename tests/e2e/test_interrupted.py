"""Issue 16 on real processes: signals, unreachable engines, and credentials only for their registry.

Why subprocesses: what is tested is what happens to the CLI's own children (skopeo, `dagger
session`) and files when the process is signalled or its engine never answers; only a real process
tree shows whether anything survives. The "registry" or "engine" that accepts connections and
never answers is a listening socket nobody reads (the kernel completes the handshakes).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Infra
from tests.e2e import specs

pytestmark = [pytest.mark.engine]

REPO = Path(__file__).resolve().parents[2]
PASSWORD_VARS = ("REGISTRY_PASSWORD", "FROM_REGISTRY_PASSWORD", "TO_REGISTRY_PASSWORD")


@pytest.fixture
def blackhole() -> Iterator[str]:
    """HOST:PORT that accepts TCP connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def start(*argv: str, env: dict[str, str]) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if k not in PASSWORD_VARS}
    full.update(env)
    return subprocess.Popen(
        [sys.executable, str(REPO / "ci" / "main.py"), *argv],
        cwd=REPO,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: object, seconds: float) -> None:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def children(pid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if ppid == str(pid):
            found.append((int(entry.name), cmdline))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_promote_removes_its_credential_files(
    infra: Infra, blackhole: str, tmp_path: Path, signum: int
) -> None:
    """Issue 16, finding 4: a promote killed by SIGTERM left tfci-registry-*/auth-0.json behind.

    The target login succeeds (a real auth file with the password is written), then reading the
    source hangs on a registry that never answers; the signal arrives there."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    password = infra.auth_password_file.read_text().strip()
    process = start(
        "promote", *specs.CPU_CLI_ARGS,
        "--from", f"{blackhole}/tfci/src", "--plain-http", blackhole,
        "--to", f"{infra.auth_registry}/tfci-e2e/signalled", "--plain-http", infra.auth_registry,
        "--to-user", infra.auth_user, "--journal", str(tmp_path / "journal.json"),
        "--no-verify",  # what is tested is the credential files, not the evidence
        env={"TMPDIR": str(tmpdir), "TO_REGISTRY_PASSWORD": password},
    )  # fmt: skip
    try:
        wait_for(lambda: list(tmpdir.glob("tfci-registry-*/auth-*.json")), 30)
        wait_for(lambda: any("skopeo" in cmd for _, cmd in children(process.pid)), 10)
        skopeo = [pid for pid, cmd in children(process.pid) if "skopeo" in cmd]
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, stderr
    assert stderr.startswith("warning: --no-verify: ")  # said once, first
    assert stderr.splitlines()[1:] == [
        f"error: stopped by {signal.Signals(signum).name}; temporary files removed"
    ]
    assert list(tmpdir.iterdir()) == []
    assert not any(alive(pid) for pid in skopeo)
    assert password not in stdout + stderr


def test_an_engine_that_never_answers_is_one_line_within_30_s_and_no_child_survives(
    infra: Infra, blackhole: str, tmp_path: Path
) -> None:
    """Issue 16, finding 9: with the engine address at a port that takes connections and never
    answers, build printed nothing for 300 s."""
    started = time.monotonic()
    process = start(
        "build", *specs.CPU_CLI_ARGS, "--engine", f"tcp://{blackhole}",
        env={"TFCI_LOG_DIR": str(tmp_path / "logs")},
    )  # fmt: skip
    sessions: list[int] = []
    try:
        wait_for(lambda: any(" session " in cmd for _, cmd in children(process.pid)), 20)
        sessions = [pid for pid, cmd in children(process.pid) if " session " in cmd]
        stdout, stderr = process.communicate(timeout=40)
    finally:
        process.kill()
    took = time.monotonic() - started
    assert process.returncode == 1, stderr
    assert took < 30, f"{took:.0f} s"
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(
        f"error: the Dagger engine at tcp://{blackhole} (from --engine) did not accept a session "
        "within 20 s; point --engine (or $_EXPERIMENTAL_DAGGER_RUNNER_HOST) at a running engine"
    )
    assert "Traceback" not in stdout + stderr
    assert not any(alive(pid) for pid in sessions)


def test_sigterm_while_connecting_leaves_no_dagger_session_behind(
    infra: Infra, blackhole: str, tmp_path: Path
) -> None:
    """Issue 16, finding 9: after SIGTERM the `dagger session` child (which ignores SIGTERM) survived."""
    process = start(
        "build", *specs.CPU_CLI_ARGS, "--engine", f"tcp://{blackhole}",
        env={"TFCI_LOG_DIR": str(tmp_path / "logs")},
    )  # fmt: skip
    try:
        wait_for(lambda: any(" session " in cmd for _, cmd in children(process.pid)), 20)
        sessions = [pid for pid, cmd in children(process.pid) if " session " in cmd]
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    assert stderr == "error: stopped by SIGTERM; temporary files removed\n"
    wait_for(lambda: not any(alive(pid) for pid in sessions), 5)


def test_no_engine_configured_uses_the_dagger_cli_on_path_and_says_how_to_point_at_one(
    infra: Infra, tmp_path: Path
) -> None:
    """Issue 16, finding 9: with no engine configured and `dagger` installed, build failed with
    "Failed to download the Dagger CLI". Docker is replaced by one that fails, as on a runner
    without it."""
    cli_bin = os.environ["_EXPERIMENTAL_DAGGER_CLI_BIN"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dagger").symlink_to(cli_bin)
    (bin_dir / "docker").write_text("#!/bin/sh\necho 'docker: not here' >&2\nexit 1\n")
    (bin_dir / "docker").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("_EXPERIMENTAL_DAGGER_")}
    env.update(PATH=f"{bin_dir}:/usr/bin:/bin", TFCI_LOG_DIR=str(tmp_path / "logs"))
    done = subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), "build", *specs.CPU_CLI_ARGS],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Failed to download" not in done.stderr
    assert f"(dagger CLI: {bin_dir}/dagger; engine: CLI default" in done.stderr  # the CLI on PATH
    logs = list((tmp_path / "logs").glob("dagger-*.log"))
    assert "docker version" in logs[0].read_text()  # it ran, and tried the (failing) docker
    assert "point --engine (or $_EXPERIMENTAL_DAGGER_RUNNER_HOST) at a running engine" in done.stderr


def test_source_credentials_never_reach_a_registry_only_a_results_file_names(
    infra: Infra, tmp_path: Path
) -> None:
    """Issue 16, finding 1: `promote --results` without `--from` logged in with --from-user's
    password to every registry the results named; the release registry received the staging
    account. Now: exit 2 before any registry is contacted; and without source credentials a
    registry the results name is read anonymously, never with the target's password."""
    staging, release = infra.staging, infra.release
    index = tmp_path / "index.json"
    pushed = {
        "repository": f"{release.address}/tfci-e2e/elsewhere",
        "tag": "t1",
        "digest": "sha256:" + "a" * 64,
    }
    index.write_text(
        json.dumps({"schema": 1, "images": [{"tag": "t1", "tags": ["t1"], "ok": True, "pushed": pushed}]})
    )
    release_log = release.token_log.stat().st_size if release.token_log.exists() else 0
    # --no-verify: these images carry no signatures; what is tested is where credentials go
    common = (
        "--registry-ca-cert",
        str(infra.registry_ca),
        "--journal",
        str(tmp_path / "j.json"),
        "--no-verify",
    )
    done = subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), "promote", "--results", str(index),
         "--to", f"{staging.address}/tfci-e2e/target", "--from-user", staging.user, *common],
        cwd=REPO, env={**os.environ, "FROM_REGISTRY_PASSWORD": staging.password},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --from-user needs --from REGISTRY/REPO with --results")
    asked = release.token_log.read_text()[release_log:] if release.token_log.exists() else ""
    assert staging.user not in asked

    # No source credentials: the results' registry (staging, which needs a login to read) is read
    # anonymously; the target's password goes to the target's own registry only.
    pushed["repository"] = f"{staging.address}/tfci-e2e/anonymous"
    index.write_text(
        json.dumps({"schema": 1, "images": [{"tag": "t1", "tags": ["t1"], "ok": True, "pushed": pushed}]})
    )
    staging_log = staging.token_log.stat().st_size if staging.token_log.exists() else 0
    done = subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), "promote", "--results", str(index),
         "--to", f"{release.address}/tfci-e2e/target", "--to-user", release.user, *common],
        cwd=REPO, env={**os.environ, "TO_REGISTRY_PASSWORD": release.password},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("warning: --no-verify")]
    assert len(errors) == 1, done.stderr
    asked = staging.token_log.read_text()[staging_log:] if staging.token_log.exists() else ""
    assert release.user not in asked
    assert release.password not in done.stdout + done.stderr

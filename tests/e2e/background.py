"""The multi-platform image build, started early in the background and awaited by its tests.

Why: the linux/arm64 half runs under qemu on this amd64 host (apt, locale-gen, the checks' Python
start-ups: minutes of CPU), while most engine tests spend much of their time waiting (on
downloads, registries, services coming up). Started when the first engine test starts, as the real
`build` command in a subprocess on the shared engine, it overlaps them; its tests run last
(tests/conftest.py orders them) and only wait for what is left. The command is exactly what a user
runs: one tag, both platforms, checked and published as one image index.
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import Infra
from tests.e2e import specs
from tests.e2e.signing import waivers

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 3600


@dataclass
class BackgroundBuild:
    """`build` of specs.MULTI_CLI_ARGS with --publish, --report-dir and the vulnerability gate (the
    TEST DATA advisory waived for a month, `waivers`), running as a subprocess."""

    repository: str
    report_dir: Path
    waivers: Path
    log: Path
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None

    def wait(self) -> tuple[int, str]:
        """Exit code and output of the build (the output also stays in `log`)."""
        try:
            code = self.process.wait(timeout=max(1.0, TIMEOUT_S - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self.seconds is None:
            self.seconds = time.monotonic() - self.started
        return code, self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the build if it still runs and delete its directory (the export is about 1 GB)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.log.parent, ignore_errors=True)


def start(infra: Infra) -> BackgroundBuild:
    """Register qemu's handlers (idempotent, in case the stack predates them) and start the build.

    Its directory is its own, not pytest's tmp_path: other pytest sessions of the same user prune
    old tmp_path trees when they start, which must not happen under a running build.
    """
    subprocess.run(["bash", str(REPO / "tests" / "infra" / "binfmt.sh"), "install"], check=True)
    workdir = Path(tempfile.mkdtemp(prefix="tfci-e2e-platforms-"))
    repository = f"{infra.registry}/tfci-e2e/platforms-{secrets.token_hex(4)}"
    report_dir = workdir / "reports"
    log = workdir / "build.log"
    valid = waivers(workdir / "waivers.yaml", datetime.date.today() + datetime.timedelta(days=30))
    argv = [
        sys.executable, str(REPO / "ci" / "main.py"), "build", *specs.MULTI_CLI_ARGS,
        "--ca-cert", str(infra.ca_bundle), "--skip-service-checks", "--report-dir", str(report_dir),
        "--vuln-gate", "HIGH", "--waivers", str(valid),
        "--export", str(workdir / "image.tar"), "--publish", repository, "--plain-http", infra.registry,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=REPO, env=os.environ.copy(), stdout=out, stderr=subprocess.STDOUT
        )
    return BackgroundBuild(repository, report_dir, valid, log, process)

"""What a release engineer keeps for signing in these tests: a cosign key pair made for the run, and
a reviewed waiver file for the TEST DATA advisory (tests/fixtures/osv). Shared by the release tests
and the workflow's act run (whose repository keeps the pair in its secrets)."""

from __future__ import annotations

import datetime
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import Infra, TokenRegistry


def waivers(path: Path, expires: datetime.date) -> Path:
    """A waiver file for the TEST DATA advisory on openssl (tests/fixtures/osv), ending on `expires`."""
    path.write_text(
        "waivers:\n  - id: TFCI-TEST-2026-0001\n    package: openssl\n"
        '    reason: "TEST DATA: the fixture advisory, waived to test the waiver path"\n'
        f"    expires: {expires}\n"
    )
    return path


@dataclass(frozen=True)
class Keys:
    """A cosign key pair made for this module, its password, and per-registry docker configs."""

    private: Path
    public: Path
    password: str
    root: Path

    def docker_config(self, infra: Infra, registry: TokenRegistry) -> Path:
        """What a user does before `cosign verify`: log in (skopeo writes a docker config)."""
        directory = self.root / f"docker-{registry.address.replace(':', '-')}"
        if not (directory / "config.json").exists():
            directory.mkdir(mode=0o700)
            subprocess.run(
                ["skopeo", "login", "--authfile", str(directory / "config.json"), "--cert-dir",
                 str(self.root / "certs"), "-u", registry.user, "--password-stdin", registry.address],
                input=registry.password, text=True, capture_output=True, check=True,
            )  # fmt: skip
        return directory


def make_keys(infra: Infra, root: Path) -> Keys:
    """`cosign generate-key-pair` in `root`, with a random password."""
    (root / "certs").mkdir()
    (root / "certs" / "ca.crt").write_bytes(infra.registry_ca.read_bytes())
    password = secrets.token_hex(12)
    env = {**os.environ, "COSIGN_PASSWORD": password, "TUF_ROOT": str(root / "tuf")}
    subprocess.run(
        [str(infra.cosign), "generate-key-pair"], cwd=root, env=env, capture_output=True, check=True
    )
    return Keys(root / "cosign.key", root / "cosign.pub", password, root)

"""What a release engineer keeps for signing in these tests: a cosign key pair made for the run, the
real cosign run as a user runs it (one registry's credentials only), and a reviewed waiver file for
the TEST DATA advisory (tests/fixtures/osv). Shared by the release tests and the workflow's act run
(whose repository keeps the pair in its secrets)."""

from __future__ import annotations

import datetime
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import Infra, TokenRegistry

REPO = Path(__file__).resolve().parents[2]
# Never inherited by a command under test: each gets only the password meant for it.
PASSWORD_VARS = ("REGISTRY_PASSWORD", "FROM_REGISTRY_PASSWORD", "TO_REGISTRY_PASSWORD", "COSIGN_PASSWORD")


def cli(
    *argv: str, env: dict[str, str] | None = None, timeout: int = 1800
) -> subprocess.CompletedProcess[str]:
    """The CLI as CI runs it; registry and key passwords only from `env`, never inherited."""
    full = {k: v for k, v in os.environ.items() if k not in PASSWORD_VARS}
    full.update(env or {})
    return subprocess.run(
        [sys.executable, str(REPO / "ci" / "main.py"), *argv],
        cwd=REPO,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


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


def cosign(
    infra: Infra, keys: Keys, registry: TokenRegistry | None, *argv: str
) -> subprocess.CompletedProcess[str]:
    """The real cosign, as a user runs it against one registry (its credentials only; None: no
    registry at all)."""
    env = {k: v for k, v in os.environ.items() if k not in PASSWORD_VARS}
    env |= {"TUF_ROOT": str(keys.root / "tuf"), "COSIGN_PASSWORD": keys.password}
    tls: tuple[str, ...] = ()
    if registry is not None:
        env["DOCKER_CONFIG"] = str(keys.docker_config(infra, registry))
        tls = ("--registry-cacert", str(infra.registry_ca))
    return subprocess.run(
        [str(infra.cosign), *argv, *tls], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def verify_args(keys: Keys) -> tuple[str, ...]:
    return ("--key", str(keys.public), "--insecure-ignore-tlog")

"""The sshd configuration init.py generates, for the OpenSSH of every OS in versions.yaml.

Why a model of sshd here: only Debian 12 runs in this project's CI, so the Ubuntu bases (and
Ubuntu 18.04's OpenSSH 7.6, which has no sshd_config `Include`) cannot be booted. The generator
is a pure function of (OpenSSH version, the distribution's sshd_config), so it is run for each
OS's version and stock file, and its output is read the way sshd reads it: `Include` is a
fatal "Bad configuration option" before 8.2, and the first value of a keyword wins. The real
`sshd -t`/`sshd -T` run on the Debian image in ci/probe/checks.py (check_sshd_config).
"""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from ci.model import contract
from ci.table.load import load_table
from tests.unit.context_env import SSHD_SETTINGS, load_init_module, run_init, snapshot

# Stock /etc/ssh/sshd_config of each base (directives only; comments as the packages ship them).
# Ubuntu 18.04 (openssh 1:7.6p1-4ubuntu0.7): no Include, no sshd_config.d.
BIONIC = """#\t$OpenBSD: sshd_config,v 1.101 2017/03/14 07:19:07 djm Exp $
#Port 22
#PermitRootLogin prohibit-password
#PasswordAuthentication yes
ChallengeResponseAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""
# Ubuntu 20.04+ and Debian 11+: the distribution's file starts with the Include.
WITH_INCLUDE = """
# This is the sshd server system-wide configuration file.
Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#PermitRootLogin prohibit-password
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""
# An operator (or cloud image) that locked things down after the Include: ours must still win.
HARDENED_TAIL = "PermitRootLogin no\nPasswordAuthentication no\n"

# OpenSSH per OS (packages.ubuntu.com / packages.debian.org, openssh-server in each release).
OPENSSH_BY_OS: dict[str, tuple[int, int]] = {
    "ubuntu18.04": (7, 6),  # bionic 1:7.6p1-4ubuntu0.7
    "ubuntu20.04": (8, 2),  # focal 1:8.2p1-4ubuntu0.x
    "ubuntu22.04": (8, 9),  # jammy 1:8.9p1-3ubuntu0.x
    "ubuntu24.04": (9, 6),  # noble 1:9.6p1-3ubuntu13.x
    "debian12": (9, 2),  # bookworm 1:9.2p1-2+deb12u6
}
# Every version is tried with a stock file without the Include; from 8.2 also with it first.
CASES = [
    (os_id, stock)
    for os_id, version in sorted(OPENSSH_BY_OS.items())
    for stock in (("bionic", "with-include") if version >= (8, 2) else ("bionic",))
]
STOCKS = {"bionic": BIONIC, "with-include": WITH_INCLUDE}
DROPIN = "/etc/ssh/sshd_config.d/tfimage.conf"


@pytest.fixture(scope="module")
def init() -> types.ModuleType:
    return load_init_module()


def effective(version: tuple[int, int], main: str, dropin: str | None) -> dict[str, list[str]]:
    """Keyword -> values as sshd resolves them (first wins; Port accumulates), or raise like sshd."""
    values: dict[str, list[str]] = {}

    def read(text: str, depth: int) -> None:
        for line in text.splitlines():
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            key = words[0].lower()
            if key == "include":
                if version < (8, 2):
                    raise ValueError(f"OpenSSH {version}: Bad configuration option: Include")
                assert depth == 0
                if words[1] == "/etc/ssh/sshd_config.d/*.conf" and dropin is not None:
                    read(dropin, depth + 1)
            elif key == "port":
                values.setdefault("port", []).append(words[1])
            elif key not in values:
                values[key] = words[1:]

    read(main, 0)
    return values


def test_every_os_in_versions_yaml_has_its_openssh_version() -> None:
    assert set(OPENSSH_BY_OS) == set(load_table().os_bases)


@pytest.mark.parametrize("hardened", [False, True], ids=["stock", "hardened"])
@pytest.mark.parametrize(("os_id", "stock_name"), CASES)
def test_generated_config_per_openssh_version(
    init: types.ModuleType, os_id: str, stock_name: str, hardened: bool
) -> None:
    version, stock = OPENSSH_BY_OS[os_id], STOCKS[stock_name]
    if hardened:
        stock += HARDENED_TAIL
    settings = init.sshd_settings(SSHD_SETTINGS.read_text(), str(contract.SSH.port))
    main, dropin = init.plan_sshd_config(version, stock, settings)
    has_include = any(line.split()[:1] == ["Include"] for line in main.splitlines())
    if version >= (8, 2):
        assert dropin == settings
        assert has_include
    else:
        assert dropin is None
        assert not has_include, "OpenSSH < 8.2 rejects Include: sshd would not start"
        assert "sshd_config.d" not in main
    resolved = effective(version, main, dropin)
    assert resolved["port"] == [str(contract.SSH.port)]
    assert resolved["permitrootlogin"] == ["yes"]
    assert resolved["passwordauthentication"] == ["yes"]
    assert resolved["pubkeyauthentication"] == ["yes"]
    assert resolved["permitemptypasswords"] == ["no"]
    assert resolved["subsystem"] == ["sftp", "/usr/lib/openssh/sftp-server"]  # distro settings kept
    assert main.endswith(stock)  # the distribution's file is kept below our block
    # Idempotent: generating again from the result changes nothing.
    assert init.plan_sshd_config(version, main, settings) == (main, dropin)


def test_unknown_version_takes_the_path_every_sshd_accepts(init: types.ModuleType) -> None:
    main, dropin = init.plan_sshd_config(None, WITH_INCLUDE, "PermitRootLogin yes\n")
    assert dropin is None
    assert main.index("PermitRootLogin yes") < main.index("Include")


def test_the_image_keeps_the_distributions_include_when_it_is_first(init: types.ModuleType) -> None:
    main, _ = init.plan_sshd_config((9, 2), WITH_INCLUDE, "PermitRootLogin yes\n")
    assert main == WITH_INCLUDE  # Debian 12 / Ubuntu 22.04+: nothing to add


def test_settings_hold_only_keywords_openssh_76_knows(init: types.ModuleType) -> None:
    # e.g. KbdInteractiveAuthentication only exists from 8.7; an unknown keyword is fatal.
    known_in_7_6 = {"port", "permitrootlogin", "passwordauthentication", "pubkeyauthentication"}
    known_in_7_6 |= {"permitemptypasswords"}
    settings = init.sshd_settings(SSHD_SETTINGS.read_text(), "22")
    assert {line.split()[0].lower() for line in settings.splitlines()} <= known_in_7_6


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("OpenSSH_9.2p1 Debian-2+deb12u6, OpenSSL 3.0.15 3 Sep 2024\n", (9, 2)),
        # OpenSSH 7.6 has no -V: the version is the first line of its usage message.
        (
            "unknown option -- V\nOpenSSH_7.6p1 Ubuntu-4ubuntu0.7, OpenSSL 1.0.2n  7 Dec 2017\n"
            "usage: sshd [-46DdeiqTt] [-C connection_spec] [-c host_cert_file]\n",
            (7, 6),
        ),
        ("sshd: not found\n", None),
    ],
)
def test_openssh_version_parsing(
    init: types.ModuleType, output: str, version: tuple[int, int] | None
) -> None:
    assert init.parse_openssh_version(output) == version


def test_init_writes_no_include_for_openssh_7_6(root: Path) -> None:
    """init.py end to end against a fake OpenSSH 7.6: settings in sshd_config, no drop-in."""
    sshd_config = root / "etc" / "ssh" / "sshd_config"
    sshd_config.write_text(BIONIC)
    run_init(root, {"FAKE_SSHD_VERSION": "7.6"}, "--build")
    text = sshd_config.read_text()
    assert "Include" not in text
    assert not (root / DROPIN.lstrip("/")).exists()
    assert effective((7, 6), text, None)["permitrootlogin"] == ["yes"]
    state = snapshot(root)
    run_init(root, {"FAKE_SSHD_VERSION": "7.6"}, "--build")
    assert snapshot(root) == state


def test_init_uses_the_dropin_for_openssh_9(root: Path) -> None:
    run_init(root, None, "--build")
    dropin = (root / DROPIN.lstrip("/")).read_text()
    assert f"\nPort {contract.SSH.port}\n" in dropin
    assert "\nPermitRootLogin yes\n" in dropin
    main = (root / "etc" / "ssh" / "sshd_config").read_text()
    assert main.splitlines()[0] == "Include /etc/ssh/sshd_config.d/*.conf"  # the stock first line

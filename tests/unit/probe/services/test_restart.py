"""The parsing helpers of the service checks, on canned outputs (the checks themselves run against a
real image in tests/e2e/test_cpu_image.py)."""

from __future__ import annotations

from ci.model import contract
from ci.probe.services import restart as services
from ci.scripts import script_text

PUB = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 root@buildkitsandbox\n"
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhKey2 root@buildkitsandbox\n"
)
KEYSCAN = (
    "tfimage ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1\n"
    "# tfimage:22 SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\n"
    "tfimage ecdsa-sha2-nistp256 AAAAE2VjZHNhKey2\n"
)


def test_host_keys_compare_pub_files_with_keyscan() -> None:
    assert services._key_set(PUB) == services._key_set(KEYSCAN)
    assert len(services._key_set(PUB)) == 2
    assert services._key_set(PUB) != services._key_set(KEYSCAN.replace("Key2", "Other"))


def test_first_files_sections() -> None:
    out = "key\n---shadow---\nroot:$6$x:1\n---log---\nstopped: sshd\n---sync---\ndeleted\n"
    assert services._section(out, "shadow") == "root:$6$x:1"
    assert services._section(out, "sync") == "deleted\n"
    assert services._section(out, "missing") == ""


def test_first_boot_is_the_real_cmd_stopped_by_the_shutdown_wrapper() -> None:
    argv = services.first_boot_argv()
    script = script_text("first-boot.sh")
    _, _, boot, shutdown, ssh_port, jupyter = argv
    assert (boot, shutdown, ssh_port) == (
        contract.BOOT_SCRIPT,
        contract.SHUTDOWN_COMMAND,
        str(contract.SSH.port),
    )
    assert jupyter.endswith(f":{contract.JUPYTER.port}{contract.JUPYTER.path}api/status")
    assert script.rstrip().endswith('exec bash "$boot"')
    assert '"$shutdown" -h now' in script
    assert "/dev/tcp/127.0.0.1/$ssh_port" in script
    assert script.index("boot=$1 shutdown=$2 ssh_port=$3 jupyter=$4") < script.index('"$shutdown" -h now')

"""The restart scenario: `docker stop` + `docker start` (or a saved image run again), with hostile inputs.

Dagger services are ephemeral, so the first boot runs in an exec (ci/scripts/first-boot.sh) whose
background helper waits for the services and calls the image's `shutdown` wrapper: the exec exiting
0 in bounded time is the clean stop. The resulting container keeps that boot's filesystem (host
keys, password hash, environment snapshot, token) like a stopped container does, and is started
again as a service with different `-e` values and every hostile input at once (a password with a
line break, a blank token, a read-only authorized_keys, a remote init script that never answers),
so one extra boot covers them all.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from ci.model import contract
from ci.model.spec import ImageSpec
from ci.probe.runner import SCRIPT_DIR, Output, Runner
from ci.probe.services.session import (
    BOOT_LOG,
    EXEC_TIMEOUT_S,
    FIRST_BOOT_TIMEOUT_S,
    HOST,
    JUPYTER_URL,
    KEY_SSH,
    PASSWORD_SSH,
    TARPIT_HOST,
    Session,
    clean,
    status_once_running,
    value_of,
    wait_for_ssh,
    with_sync_password,
)
from ci.report.model import CheckResult, failed, passed, tail
from ci.scripts import script_text

if TYPE_CHECKING:
    from dagger import Container, File, Secret

OLD_ENV = (("NCCL_SOCKET_IFNAME", "tfci-old0"), ("LD_LIBRARY_PATH", "/tfci/old/lib"))
NEW_ENV = (("NCCL_SOCKET_IFNAME", "tfci-new0"), ("LD_LIBRARY_PATH", "/tfci/new/lib"))
# chpasswd reads lines: before the fix this also set www-data's password and truncated root's.
HOSTILE_PASSWORD = "tfci-pw1\nwww-data:hacked"  # noqa: S105 - a refused input, not a secret
BLANK_TOKEN = "   "  # noqa: S105 - a refused input


@dataclass
class Restart:
    """The first boot (stopped by `shutdown`) and the same filesystem booted again as a service."""

    first_boot: Output  # the exec's output: boot log, supervisord, the shutdown helper
    first_boot_seconds: float
    first_files: Output  # host keys, shadow lines, supervisord.log of the stopped container
    second: Session  # the restarted container (hostile inputs, fresh -e values)
    host_keys: frozenset[str]  # "type base64" of the first boot's host keys


def first_boot_argv() -> list[str]:
    """ci/scripts/first-boot.sh with the contract's boot script, shutdown wrapper and ports."""
    jupyter = contract.JUPYTER
    return [
        "bash",
        f"{SCRIPT_DIR}/first-boot.sh",
        contract.BOOT_SCRIPT,
        contract.SHUTDOWN_COMMAND,
        str(contract.SSH.port),
        f"http://127.0.0.1:{jupyter.port}{jupyter.path}api/status",
    ]


def first_files_argv() -> list[str]:
    return ["bash", f"{SCRIPT_DIR}/first-files.sh", contract.SUPERVISOR_LOG_DIR, contract.ROOT_PASSWORD_FILE]


def _script(name: str) -> File:
    from dagger import dag

    return dag.directory().with_new_file(name, script_text(name)).file(name)


def _section(text: str, name: str) -> str:
    """The part of first-files.sh's output after ---NAME--- (up to the next marker)."""
    after = text.split(f"---{name}---\n", 1)[1] if f"---{name}---\n" in text else ""
    return after.split("\n---", 1)[0]


def _key_set(text: str) -> frozenset[str]:
    """Host keys as 'type base64', from .pub files or from ssh-keyscan ('host type base64')."""
    keys = set()
    for line in text.splitlines():
        fields = line.split()
        for i, word in enumerate(fields[:-1]):
            if word.startswith(("ssh-", "ecdsa-")):
                keys.add(f"{word} {fields[i + 1]}")
                break
    return frozenset(keys)


async def start_restart(
    image: Container, spec: ImageSpec, keyed: Container, password: Secret, nonce: str
) -> Restart:
    from dagger import ReturnType, dag

    # 1. First boot, in an exec: blank token, sync-file password, the "old" environment.
    first = with_sync_password(image, password).with_env_variable("JUPYTER_TOKEN", BLANK_TOKEN)
    for name, value in OLD_ENV:
        first = first.with_env_variable(name, value)
    scripts = ("first-boot.sh", "first-files.sh")
    for name in scripts:
        first = first.with_mounted_file(f"{SCRIPT_DIR}/{name}", _script(name))
    first = first.with_env_variable("TFCI_SERVICE_NONCE", nonce).with_exec(
        ["timeout", str(FIRST_BOOT_TIMEOUT_S), *first_boot_argv()], expect=ReturnType.ANY
    )
    started = time.monotonic()
    with anyio.fail_after(FIRST_BOOT_TIMEOUT_S + 60):
        first_boot = Output(await first.exit_code(), await first.stdout(), await first.stderr())
    seconds = time.monotonic() - started
    files_exec = first.with_exec(first_files_argv(), expect=ReturnType.ANY)
    first_files = Output(await files_exec.exit_code(), await files_exec.stdout(), "")
    for name in scripts:  # the restarted container keeps the first boot's files, not our mounts
        first = first.without_mount(f"{SCRIPT_DIR}/{name}")

    # 2. The same filesystem started again with new -e values and every hostile input.
    tarpit = image.with_env_variable("TFCI_SERVICE_NONCE", nonce)
    for service_port in contract.SERVICES:  # the image EXPOSEs them: the engine would wait for them
        tarpit = tarpit.without_exposed_port(service_port.port)
    tarpit_service = (
        tarpit.with_mounted_file(f"{SCRIPT_DIR}/tarpit.py", _script("tarpit.py"))
        .with_exposed_port(443)
        .as_service(args=[spec.python, f"{SCRIPT_DIR}/tarpit.py"])
    )
    mounted_key = dag.set_secret(
        f"tfci-authorized-keys-{nonce}", (await keyed.file("/keys/id.pub").contents()).strip() + "\n"
    )
    other_key = (await keyed.file("/keys/other.pub").contents()).strip()
    second = (
        first.with_env_variable("ROOT_PASSWORD", HOSTILE_PASSWORD)
        .with_env_variable("JUPYTER_TOKEN", BLANK_TOKEN)
        .with_env_variable("SSH_PUBLIC_KEY", other_key)
        .with_mounted_secret("/root/.ssh/authorized_keys", mounted_key)  # read-only, like `-v ...:ro`
        .with_env_variable("INIT_SCRIPT_URL", f"https://{TARPIT_HOST}/init.sh")
        .with_env_variable("INIT_SCRIPT_SHA256", "0" * 64)
        .with_service_binding(TARPIT_HOST, tarpit_service)
    )
    for name, value in NEW_ENV:
        second = second.with_env_variable(name, value)
    service = (
        second.with_exposed_port(contract.SSH.port)
        .with_exposed_port(contract.JUPYTER.port, experimental_skip_healthcheck=True)
        .with_exposed_port(contract.TENSORBOARD.port, experimental_skip_healthcheck=True)
        # The image's CMD, its output also teed to a file the checks read back over ssh.
        .as_service(args=["bash", "-c", f"exec bash {contract.BOOT_SCRIPT} > >(tee {BOOT_LOG}) 2>&1"])
    )
    with anyio.fail_after(EXEC_TIMEOUT_S):
        service = await service.start()
    client = keyed.with_service_binding(HOST, service).with_secret_variable("SSHPASS", password)
    return Restart(
        first_boot=first_boot,
        first_boot_seconds=seconds,
        first_files=first_files,
        second=Session(service, Runner(client, spec, nonce, EXEC_TIMEOUT_S)),
        host_keys=_key_set(first_files.stdout.split("---shadow---", 1)[0]),
    )


async def check_shutdown(r: Restart) -> CheckResult:
    """The `shutdown` wrapper stops supervisord and every program; the container exits 0."""
    name = f"{contract.SHUTDOWN_COMMAND} stops the container cleanly"
    log = _section(r.first_files.stdout, "log")
    boot = clean(r.first_boot.both)
    problems = []
    if r.first_boot.code != 0:
        code, limit = r.first_boot.code, FIRST_BOOT_TIMEOUT_S
        problems.append(f"the boot exec exited {code} (124: not stopped within {limit} s)")
    if "[tfci] shutdown exited 0" not in boot:
        problems.append(f"the shutdown wrapper did not succeed: {tail(boot, 3)}")
    for service in contract.SERVICES:
        if f"stopped: {service.name}" not in log:
            problems.append(f"supervisord.log does not show {service.name} stopped")
    if "SIGKILL" in log:
        problems.append("supervisord had to SIGKILL a program")
    if _section(r.first_files.stdout, "sync").strip() != "deleted":
        problems.append(f"{contract.ROOT_PASSWORD_FILE} was not deleted")
    if problems:
        return failed(name, "; ".join(problems))
    took = f"{r.first_boot_seconds:.0f} s"
    return passed(name, f"boot -> services up -> shutdown -> exit 0 in {took}; every program stopped")


async def check_restart_keeps_identity(r: Restart) -> CheckResult:
    name = "restarted container keeps its host keys and root password"
    out = await r.second.sh(
        wait_for_ssh(KEY_SSH)
        + f"""ssh-keyscan -T 10 {HOST} 2>/dev/null >/tmp/keys; echo "SCAN_RC=$?"
{PASSWORD_SSH} 'echo TFCI_PW=ok' 2>&1
echo ---keys---; cat /tmp/keys
"""
    )
    scanned = _key_set(out.stdout.split("---keys---", 1)[-1])
    problems = []
    if not r.host_keys:
        problems.append("the first boot left no host keys")
    elif scanned != r.host_keys:
        problems.append(f"host keys changed: {len(r.host_keys & scanned)} of {len(r.host_keys)} kept")
    if value_of(out.stdout, "TFCI_PW") != "ok":
        problems.append(f"the first boot's password no longer works: {tail(clean(out.both), 3)}")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"{len(scanned)} host keys identical (ssh-keyscan); first boot's password accepted")


def _line_index(lines: list[str], text: str) -> int | None:
    return next((i for i, line in enumerate(lines) if text in line), None)


async def _boot_log(r: Restart) -> str:
    out = await r.second.sh(f"{KEY_SSH} 'cat {BOOT_LOG}'")
    return clean(out.stdout)


async def check_hostile_password(r: Restart) -> CheckResult:
    name = "ROOT_PASSWORD with a line break is refused (one log line, nothing changed)"
    log = await _boot_log(r)
    out = await r.second.sh(f"{KEY_SSH} \"grep -E '^(root|www-data):' /etc/shadow\"")
    refusals = [line for line in log.splitlines() if "ROOT_PASSWORD refused" in line]
    problems = []
    if len(refusals) != 1:
        problems.append(f"{len(refusals)} 'ROOT_PASSWORD refused' lines in the boot log, expected 1")
    if out.code != 0 or out.stdout.strip() != _section(r.first_files.stdout, "shadow").strip():
        problems.append("root's or www-data's /etc/shadow entry changed")
    if "hacked" in log:
        problems.append("the boot log shows part of the password")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, "refused in one line; root and www-data shadow entries unchanged; sshd serves")


async def check_blank_token(r: Restart) -> CheckResult:
    name = "blank JUPYTER_TOKEN is refused; the generated token is printed and works"
    first = clean(r.first_boot.stdout)
    printed = re.findall(r"lab\?token=([0-9a-f]{48})", first)
    out = await r.second.sh(
        f"""
token=$({KEY_SSH} 'cat {contract.JUPYTER_TOKEN_FILE}')
echo "FILE_TOKEN=$token"
code=000
for i in $(seq 90); do
  code=$(curl -s -o /dev/null -w '%{{http_code}}' -H "Authorization: token $token" {JUPYTER_URL}/api/status)
  [ "$code" = 200 ] && break
  sleep 2
done
echo "WITH=$code"
echo "BLANK=$(curl -s -o /dev/null -w '%{{http_code}}' -H 'Authorization: token  ' {JUPYTER_URL}/api/status)"
echo "WITHOUT=$(curl -s -o /dev/null -w '%{{http_code}}' {JUPYTER_URL}/api/status)"
"""
    )
    log = await _boot_log(r)
    problems = []
    for which, text in (("first", first), ("restarted", log)):
        if sum("JUPYTER_TOKEN refused" in line for line in text.splitlines()) != 1:
            problems.append(f"the {which} boot did not log exactly one 'JUPYTER_TOKEN refused' line")
        if "taken from JUPYTER_TOKEN" in text:
            problems.append(f"the {which} boot accepted the blank token")
    if len(printed) != 1 or value_of(out.stdout, "FILE_TOKEN") != printed[0]:
        problems.append("the first boot did not print the generated token (once) that the token file holds")
    if value_of(out.stdout, "WITH") != "200":
        problems.append(f"the generated token gets {value_of(out.stdout, 'WITH')}, not 200")
    refused = (value_of(out.stdout, "WITHOUT"), value_of(out.stdout, "BLANK"))
    if not set(refused) <= {"401", "403"}:
        problems.append(f"no token / a blank token get {refused}, expected 403")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, "refused (one line per boot); generated token printed once, kept, answers 200")


async def check_readonly_authorized_keys(r: Restart) -> CheckResult:
    name = "read-only authorized_keys plus SSH_PUBLIC_KEY: services still start"
    log = await _boot_log(r)
    programs = (contract.SSH.name, contract.JUPYTER.name)
    out = await r.second.sh(status_once_running(programs, programs))
    warnings = [line for line in log.splitlines() if "authorized_keys" in line and "WARNING" in line]
    problems = []
    if len(warnings) != 1 or "cannot write" not in warnings[0]:
        problems.append(f"expected one 'cannot write' warning about authorized_keys, got {warnings[:2]}")
    if "starting supervisord" not in log:
        problems.append("boot did not reach supervisord")
    if out.code != 0 or out.stdout.count("RUNNING") != 2:
        problems.append(f"sshd/jupyterlab not RUNNING: {tail(clean(out.both), 3)}")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, "one warning; boot went on; sshd (key from the read-only file) and JupyterLab run")


async def check_hanging_init_script(r: Restart) -> CheckResult:
    """An init-script URL that never answers: the services are up while it still hangs."""
    name = "a hanging remote init script does not hold up the services"
    program = contract.REMOTE_INIT_PROGRAM
    out = await r.second.sh(
        wait_for_ssh(KEY_SSH) + status_once_running((program, contract.SSH.name), (contract.SSH.name,))
    )
    log = await _boot_log(r)
    status = clean(out.stdout)
    lines = log.splitlines()
    started = _line_index(lines, "starting supervisord")
    problems = []
    if not re.search(rf"^{re.escape(program)}\s+RUNNING", status, re.MULTILINE):
        # Already given up (curl's --max-time passed)? Then sshd must have been up before that.
        sshd_up = _line_index(lines, f"success: {contract.SSH.name} entered RUNNING")
        gave_up = _line_index(lines, f"exited: {program}")
        if sshd_up is None or gave_up is None or sshd_up > gave_up or "took over" not in log:
            problems.append(f"{program} neither hangs nor gave up after sshd was up: {tail(status, 2)}")
    if not re.search(rf"^{re.escape(contract.SSH.name)}\s+RUNNING", status, re.MULTILINE):
        problems.append(f"sshd is not RUNNING: {tail(status, 2)}")
    if started is None:
        problems.append("boot did not reach supervisord")
    elif any("remote init script" in line for line in lines[:started]):
        problems.append("boot handled the remote init script before starting supervisord")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"sshd answers while {program} still waits on its URL (bounded by curl --max-time)")


async def check_fresh_env_wins(r: Restart) -> CheckResult:
    name = "a new container's -e values win over the saved environment snapshot"
    names = [n for n, _ in NEW_ENV]
    show = "; ".join(f'echo "TFCI_{n}=${n}"' for n in names)
    out = await r.second.sh(
        f"""
{KEY_SSH} {shlex.quote(show)} | sed 's/^TFCI_/CMD_/'
{KEY_SSH} {shlex.quote(f"bash -lc {shlex.quote(show)}")} | sed 's/^TFCI_/LOGIN_/'
{KEY_SSH} 'tr "\\0" "\\n" </proc/$(cat /run/supervisord.pid)/environ' | grep -E '^({"|".join(names)})=' \
  | sed 's/^/SUPERVISORD_/'
{KEY_SSH} 'cat {contract.ENV_SNAPSHOT_FILE}' | sed -n 's/^export /SNAPSHOT_/p'
"""
    )
    text = clean(out.stdout)
    problems = []
    for where in ("CMD", "LOGIN", "SUPERVISORD", "SNAPSHOT"):
        for var, value in NEW_ENV:
            got = value_of(text, f"{where}_{var}").strip("'")
            if got != value:
                problems.append(f"{where.lower()}: {var}={got or 'unset'}, expected {value}")
    if problems:
        return failed(name, "; ".join(problems[:4]))
    return passed(name, "ssh command, login shell, supervisord and the new snapshot all see the new values")


# The hanging init script is checked first: it stays RUNNING only until curl's --max-time.
RESTART_CHECKS: tuple[Callable[[Restart], Awaitable[CheckResult]], ...] = (
    check_shutdown,
    check_hanging_init_script,
    check_restart_keeps_identity,
    check_hostile_password,
    check_readonly_authorized_keys,
    check_blank_token,
    check_fresh_env_wins,
)

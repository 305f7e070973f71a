"""Service checks: boot the image's real CMD and use it like a user would, over the network.

Why a service and a separate client container: the image's promise is "docker run it, then ssh in
(or `ssh host CMD`, scp), open JupyterLab under /jupyter/ and TensorBoard under /monitor/". Only
the real boot path (boot.sh -> supervisord -> sshd/jupyter/tensorboard) proves that; running the
programs by hand in a build container would not. The client (the image's own base +
openssh-client, sshpass, curl) reaches the image by a service binding, exactly like a second
machine on the network.

Two scenarios, each a real boot:

- the main session: root password from /sync/root-passwd (as the README documents), a key, and
  every everyday use (interactive login, command mode, scp, JupyterLab, TensorBoard, autorestart);
- the restart scenario, i.e. `docker stop` + `docker start`/a saved image run again. Dagger
  services are ephemeral, so the first boot runs in an exec whose background helper waits for
  the services and calls the image's `shutdown` wrapper: the exec exiting 0 in bounded time is
  the clean stop. The resulting container keeps that boot's filesystem (host keys, password
  hash, environment snapshot, token) like a stopped container does, and is started again as a
  service with different `-e` values and every hostile input at once (a password with a line
  break, a blank token, a read-only authorized_keys, a remote init script that never answers),
  so one extra boot covers them all.

Secrets: the root password and the Jupyter token are generated per run, handed to both sides as
Dagger secrets (the engine scrubs them from any output) and never printed. The SSH key pairs are
made inside the engine; only the public halves leave it.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import shlex
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import anyio

from ci import contract
from ci.checks import COMMAND_MODE_SCRIPT, Output, command_mode_problems
from ci.layers import Layers, apt_cache_key
from ci.options import BuildOptions
from ci.report import CheckReport, CheckResult, failed, passed, tail
from ci.spec import ImageSpec

if TYPE_CHECKING:
    from dagger import Container, Secret, Service

T = TypeVar("T")
HOST = "tfimage"  # the service's host name inside the client container
TARPIT_HOST = "tarpit"  # accepts TLS connections and never answers: a hanging init-script URL
CLIENT_PACKAGES = ("openssh-client", "sshpass", "curl", "ca-certificates", "rsync")
# Generous but bounded: first JupyterLab start builds its workspace, TensorBoard reloads every 5 s.
EXEC_TIMEOUT_S = 300
# The restart scenario's first boot: boot, wait for sshd and JupyterLab, shutdown, clean exit.
FIRST_BOOT_TIMEOUT_S = 240
BOOT_LOG = "/run/tfci-boot.log"  # where the restarted service's boot output is teed (checks only)
SSH_OPTS = (
    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
    "-o ConnectTimeout=10 -o ServerAliveInterval=10"
)
KEY_OPTS = f"{SSH_OPTS} -i /keys/id -o BatchMode=yes -o PasswordAuthentication=no"
KEY_SSH = f"ssh {KEY_OPTS} root@{HOST}"
PASSWORD_SSH = (
    f"sshpass -e ssh {SSH_OPTS} -o PubkeyAuthentication=no "
    f"-o PreferredAuthentications=password,keyboard-interactive root@{HOST}"
)
SUPERVISORCTL = f"supervisorctl -c {contract.SUPERVISOR_CONF}"
JUPYTER_URL = f"http://{HOST}:{contract.JUPYTER.port}{str(contract.JUPYTER.path).rstrip('/')}"
TENSORBOARD_URL = f"http://{HOST}:{contract.TENSORBOARD.port}{str(contract.TENSORBOARD.path).rstrip('/')}"
MOTD_MARK = "目录说明"  # the banner's first heading: counted, it must appear exactly once
# What a login must never print (the lastlog error was seen on every login before).
LOGIN_NOISE = ("lastlog", "Couldn't", "No such file", "command not found", "未找到命令", "cannot ")

# The seed guide's TensorBoard sample (section 7.7): scalar `loss` into the contract's log dir.
TENSORBOARD_SAMPLE = f"""
import numpy as np
import tensorflow as tf

writer = tf.summary.create_file_writer("{contract.TENSORBOARD_LOGDIR}")
with writer.as_default():
    for epoch in range(100):
        tf.summary.scalar("loss", np.random.random(), step=epoch)
        writer.flush()
print("wrote loss scalars")
"""

# Accepts connections and holds them open without a byte: curl's TLS handshake stalls until its
# --max-time, like an init-script host that hangs.
TARPIT = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 443))
s.listen(64)
held = []
while True:
    held.append(s.accept()[0])
"""


@dataclass
class Session:
    """One running image plus a client bound to it."""

    service: Service
    client: Container
    nonce: str
    spec: ImageSpec

    async def sh(self, script: str, timeout: int = EXEC_TIMEOUT_S) -> Output:
        from dagger import ReturnType

        done = self.client.with_env_variable("TFCI_CHECK_NONCE", self.nonce).with_exec(
            ["timeout", str(timeout), "bash", "-o", "pipefail", "-c", script],
            expect=ReturnType.ANY,
        )
        with anyio.fail_after(timeout + 60):
            code = await done.exit_code()
            return Output(code, await done.stdout(), await done.stderr())


def _clean(text: str) -> str:
    """Drop terminal noise (ANSI colours, CRs from -tt) so assertions see plain lines."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")


def _field(text: str, key: str) -> str:
    match = re.search(rf"^{re.escape(key)}=(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _why(exc: Exception) -> str:
    """One line for an engine error or a timeout (whose message is empty)."""
    if isinstance(exc, TimeoutError):
        return f"timed out ({type(exc).__name__})"
    return tail(str(exc), 6)


def _wait_for_ssh(ssh: str) -> str:
    """Shell that retries `ssh ... true` for up to a minute (sshd starts a second after boot)."""
    return f"for i in $(seq 30); do {ssh} true 2>/dev/null && break; sleep 2; done\n"


def _status_once_running(show: Sequence[str], wait_for: Sequence[str], seconds: int = 10) -> str:
    """Shell printing `supervisorctl status SHOW` once every WAIT_FOR program is RUNNING.

    Why poll: a program answers (sshd accepts logins) before supervisord calls it RUNNING, which
    it does only after the program's startsecs; a single look raced that on CI. Gives up after
    `seconds` and prints the last status it saw.
    """
    ready = " && ".join(
        f"printf '%s\\n' \"$status\" | grep -Eq '^{name}[[:space:]]+RUNNING'" for name in wait_for
    )
    return f"""for i in $(seq {seconds}); do
  status=$({KEY_SSH} '{SUPERVISORCTL} status {" ".join(show)}' 2>&1)
  {ready} && break
  sleep 1
done
printf '%s\\n' "$status"
"""


# --------------------------------------------------------------------------- main session checks


async def check_ssh_password(s: Session) -> CheckResult:
    """Password from /sync/root-passwd; a real interactive login: MOTD once, LANG, CST, no noise."""
    name = f"ssh password login from {contract.ROOT_PASSWORD_FILE} (interactive: MOTD once, LANG, CST, quiet)"
    out = await s.sh(
        _wait_for_ssh(PASSWORD_SSH)
        + f"""{PASSWORD_SSH} -tt <<'EOF'
printf 'TFCI_%s=%s\\n' LANG "$LANG" ZONE "$(date +%Z)"
exit
EOF
echo "TFCI_RC=$?"
echo "TFCI_SYNC=$({KEY_SSH} 'test -e {contract.ROOT_PASSWORD_FILE} && echo present || echo deleted')"
"""
    )
    text = _clean(out.both)
    if _field(text, "TFCI_RC") != "0":
        return failed(name, f"interactive ssh with the root password failed: {tail(text, 4)}")
    problems = []
    if _field(text, "TFCI_LANG") != contract.LOCALE:
        problems.append(f"LANG is {_field(text, 'TFCI_LANG') or 'unset'}, expected {contract.LOCALE}")
    if _field(text, "TFCI_ZONE") != contract.TIMEZONE_ABBREVIATION:
        problems.append(f"date +%Z is {_field(text, 'TFCI_ZONE') or 'empty'}")
    if (shown := text.count(MOTD_MARK)) != 1:
        problems.append(f"the login banner was shown {shown} times, expected once")
    noise = [line for line in text.splitlines() if any(n in line for n in LOGIN_NOISE)]
    if noise:
        problems.append(f"the login printed error noise: {noise[0][:100]!r}")
    if _field(text, "TFCI_SYNC") != "deleted":
        problems.append(f"{contract.ROOT_PASSWORD_FILE} is {_field(text, 'TFCI_SYNC') or '?'} after boot")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(
        name, f"password accepted; {contract.ROOT_PASSWORD_FILE} deleted; MOTD once; no noise; LANG; CST"
    )


async def check_ssh_key(s: Session) -> CheckResult:
    name = "ssh key login"
    out = await s.sh(f"for i in $(seq 30); do {KEY_SSH} 'echo TFCI_KEY=ok' && exit 0; sleep 2; done; exit 1")
    if out.code != 0 or _field(out.stdout, "TFCI_KEY") != "ok":
        return failed(name, f"key login failed (exit {out.code}): {tail(_clean(out.both), 4)}")
    return passed(name, "SSH_PUBLIC_KEY accepted")


async def check_ssh_command(s: Session) -> CheckResult:
    """`ssh host CMD` as VS Code, Ansible or `ssh host python train.py` use it."""
    name = "ssh command mode: python imports tensorflow; PATH, LANG, TZ; no MOTD or noise"
    tf = "python -c " + shlex.quote('import tensorflow as tf; print("TFCI_TF=" + tf.__version__)')
    out = await s.sh(
        f"""
{KEY_SSH} true >/tmp/true.out 2>&1; echo "TRUE_RC=$?"; echo "TRUE_BYTES=$(wc -c </tmp/true.out)"
{KEY_SSH} {shlex.quote(COMMAND_MODE_SCRIPT)} >/tmp/env.out 2>&1; echo "ENV_RC=$?"
{KEY_SSH} {shlex.quote("TF_CPP_MIN_LOG_LEVEL=3 " + tf)} >/tmp/tf.out 2>/tmp/tf.err; echo "TF_RC=$?"
echo "TF_OUT=$(head -c 300 /tmp/tf.out | tr '\\n' '|')"
echo "TF_ERR=$(tail -c 300 /tmp/tf.err | tr '\\n' '|')"
echo ---env---; cat /tmp/env.out
"""
    )
    text = out.stdout
    env_out = text.split("---env---\n", 1)[1] if "---env---\n" in text else ""
    problems = []
    if _field(text, "TRUE_RC") != "0" or _field(text, "TRUE_BYTES") != "0":
        problems.append(f"`ssh host true` printed {_field(text, 'TRUE_BYTES') or '?'} bytes (must be silent)")
    problems += command_mode_problems(s.spec, env_out)
    tf_out = _field(text, "TF_OUT")
    if _field(text, "TF_RC") != "0" or tf_out != f"TFCI_TF={s.spec.tf_version}|":
        err = _field(text, "TF_ERR")[-160:]
        problems.append(f"python -c 'import tensorflow' over ssh: {tf_out!r} {err!r}")
    if problems:
        return failed(name, "; ".join(problems))
    prefix_bin = f"{s.spec.python_prefix}/bin"
    return passed(name, f"TensorFlow {s.spec.tf_version}; PATH starts with {prefix_bin}; silent")


async def check_scp(s: Session) -> CheckResult:
    """scp both ways, with the SFTP protocol (default since OpenSSH 9.0) and the legacy one (-O),
    and rsync over ssh.

    Legacy scp runs `scp -t/-f` and rsync runs `rsync --server` through the remote shell: the first
    stray byte of a shell startup file breaks them.
    """
    name = "scp and rsync a file both ways (SFTP, legacy scp, rsync over ssh)"
    scp = f"scp -q {KEY_OPTS}"
    rsync = f'rsync -q -e "ssh {KEY_OPTS}"'
    out = await s.sh(
        f"""
head -c 262144 /dev/urandom >/tmp/up.bin
echo "WANT=$(sha256sum </tmp/up.bin | cut -d' ' -f1)"
for mode in sftp legacy rsync; do
  flag=""; [ "$mode" = legacy ] && flag=-O
  copy="{scp} $flag"; [ "$mode" = rsync ] && copy='{rsync}'
  eval "$copy /tmp/up.bin root@{HOST}:/root/tfci-$mode.bin" 2>/tmp/up-$mode.err; echo "UP_${{mode}}_RC=$?"
  eval "$copy root@{HOST}:/root/tfci-$mode.bin /tmp/down-$mode.bin" 2>/tmp/down-$mode.err
  echo "DOWN_${{mode}}_RC=$?"
  echo "DOWN_${{mode}}=$(sha256sum </tmp/down-$mode.bin 2>/dev/null | cut -d' ' -f1)"
  echo "ERR_${{mode}}=$(cat /tmp/up-$mode.err /tmp/down-$mode.err | head -c 200 | tr '\\n' '|')"
done
{KEY_SSH} 'rm -f /root/tfci-sftp.bin /root/tfci-legacy.bin /root/tfci-rsync.bin'
"""
    )
    text = out.stdout
    want = _field(text, "WANT")
    problems = []
    for mode in ("sftp", "legacy", "rsync"):
        rcs = (_field(text, f"UP_{mode}_RC"), _field(text, f"DOWN_{mode}_RC"))
        if rcs != ("0", "0") or _field(text, f"DOWN_{mode}") != want:
            same = "ok" if _field(text, f"DOWN_{mode}") == want else "differs"
            problems.append(f"{mode}: exit {rcs}, round trip {same}")
            problems.append(f"{mode} stderr: {_field(text, f'ERR_{mode}')!r}")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, "256 KiB up and down, identical sha256, with SFTP, legacy scp (-O) and rsync")


async def check_jupyter(s: Session) -> CheckResult:
    name = f"JupyterLab under {contract.JUPYTER.path} (token required)"
    url = JUPYTER_URL
    out = await s.sh(
        f"""
code=000
for i in $(seq 90); do
  code=$(curl -s -o /dev/null -w '%{{http_code}}' -H "Authorization: token $JUPYTER_TOKEN" {url}/api/status)
  [ "$code" = 200 ] && break
  sleep 2
done
echo "WITH_TOKEN=$code"
echo "NO_TOKEN_API=$(curl -s -o /dev/null -w '%{{http_code}}' {url}/api/status)"
echo "NO_TOKEN_LAB=$(curl -s -o /dev/null -w '%{{http_code}} %{{redirect_url}}' {url}/lab)"
auth="Authorization: token $JUPYTER_TOKEN"
echo "LAB_WITH_TOKEN=$(curl -s -o /dev/null -w '%{{http_code}}' -H "$auth" {url}/lab)"
"""
    )
    authorised = _field(out.stdout, "WITH_TOKEN")
    no_api = _field(out.stdout, "NO_TOKEN_API")
    no_lab = _field(out.stdout, "NO_TOKEN_LAB")
    lab = _field(out.stdout, "LAB_WITH_TOKEN")
    problems = []
    if authorised != "200":
        problems.append(f"api/status with the token answered {authorised or 'nothing'}, not 200")
    if lab != "200":
        problems.append(f"lab with the token answered {lab or 'nothing'}, not 200")
    if no_api not in ("403", "401"):
        problems.append(f"api/status WITHOUT a token answered {no_api}; expected 403")
    lab_code, _, location = no_lab.partition(" ")
    if not (lab_code == "302" and "login" in location) and lab_code not in ("401", "403"):
        problems.append(f"lab WITHOUT a token answered {no_lab}; expected 302 to the login page")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"200 with token; {no_api} / {lab_code}->login without")


async def check_tensorboard(s: Session) -> CheckResult:
    """The seed's sample script, run over SSH with the image's python, shows up in TensorBoard."""
    name = f"TensorBoard under {contract.TENSORBOARD.path} serves the loss scalar"
    base = TENSORBOARD_URL
    out = await s.sh(
        f"""
{KEY_SSH} 'python -' <<'PYEOF'
{TENSORBOARD_SAMPLE}
PYEOF
echo "SAMPLE_RC=$?"
tags=""
for i in $(seq 60); do
  tags=$(curl -s {base}/data/plugin/scalars/tags || true)
  case "$tags" in *'"loss"'*) break ;; esac
  sleep 2
done
echo "TAGS=$tags"
echo "INDEX=$(curl -s -o /dev/null -w '%{{http_code}}' {base}/)"
"""
    )
    text = _clean(out.stdout)
    if _field(text, "SAMPLE_RC") != "0" or "wrote loss scalars" not in text:
        return failed(name, f"the sample script failed over SSH: {tail(_clean(out.both), 5)}")
    if '"loss"' not in _field(text, "TAGS"):
        return failed(name, f"data/plugin/scalars/tags has no loss: {_field(text, 'TAGS')[:200]}")
    if _field(text, "INDEX") != "200":
        return failed(name, f"{contract.TENSORBOARD.path} answered {_field(text, 'INDEX')}, not 200")
    return passed(name, f"sample ran over SSH; tags list 'loss'; {contract.TENSORBOARD.path} answers 200")


async def check_autorestart(s: Session) -> CheckResult:
    """Kill TensorBoard: supervisord must start a new one and it must answer again."""
    name = "supervisord restarts a killed service"
    program = contract.TENSORBOARD.name
    out = await s.sh(
        f"""
old=$({KEY_SSH} '{SUPERVISORCTL} pid {program}')
echo "OLD=$old"
{KEY_SSH} "kill -9 $old"
new=""
for i in $(seq 60); do
  sleep 2
  st=$({KEY_SSH} '{SUPERVISORCTL} status {program}' || true)
  new=$({KEY_SSH} '{SUPERVISORCTL} pid {program}' || true)
  case "$st" in *RUNNING*) [ "$new" != "$old" ] && [ "$new" != 0 ] && break ;; esac
done
echo "STATUS=$st"
echo "NEW=$new"
code=000
for i in $(seq 60); do
  code=$(curl -s -o /dev/null -w '%{{http_code}}' {TENSORBOARD_URL}/)
  [ "$code" = 200 ] && break
  sleep 2
done
echo "HTTP=$code"
"""
    )
    text = _clean(out.stdout)
    old, new = _field(text, "OLD"), _field(text, "NEW")
    if not old.isdigit() or old == "0":
        why = tail(_clean(out.both), 4)
        return failed(name, f"could not read TensorBoard's pid via supervisorctl: {why}")
    if "RUNNING" not in _field(text, "STATUS") or not new.isdigit() or new in (old, "0"):
        return failed(name, f"after kill -9 {old}: status {_field(text, 'STATUS')!r}, pid {new!r}")
    if _field(text, "HTTP") != "200":
        return failed(name, f"TensorBoard restarted (pid {new}) but answers {_field(text, 'HTTP')}")
    return passed(name, f"tensorboard pid {old} killed -> restarted as {new}; answers 200")


SERVICE_CHECKS: tuple[Callable[[Session], Awaitable[CheckResult]], ...] = (
    check_ssh_password,
    check_ssh_key,
    check_ssh_command,
    check_scp,
    check_jupyter,
    check_tensorboard,
    check_autorestart,
)


# --------------------------------------------------------------------------- restart scenario

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


def _first_boot_script() -> str:
    """The real CMD in the foreground; a helper stops it with the image's shutdown wrapper."""
    ssh_port, jupyter = contract.SSH.port, contract.JUPYTER
    return f"""
(
  for i in $(seq 60); do (exec 3<>/dev/tcp/127.0.0.1/{ssh_port}) 2>/dev/null && break; sleep 1; done
  for i in $(seq 90); do
    curl -s -o /dev/null http://127.0.0.1:{jupyter.port}{jupyter.path}api/status && break; sleep 1
  done
  sleep 2
  echo "[tfci] calling {contract.SHUTDOWN_COMMAND}"
  {contract.SHUTDOWN_COMMAND} -h now
  echo "[tfci] shutdown exited $?"
) &
exec bash {contract.BOOT_SCRIPT}
"""


def _first_files_script() -> str:
    return f"""
cat /etc/ssh/ssh_host_*_key.pub; echo ---shadow---
grep -E '^(root|www-data):' /etc/shadow; echo ---log---
cat {contract.SUPERVISOR_LOG_DIR}/supervisord.log; echo ---sync---
test -e {contract.ROOT_PASSWORD_FILE} && echo present || echo deleted
"""


def _section(text: str, name: str) -> str:
    """The part of _first_files_script's output after ---NAME--- (up to the next marker)."""
    after = text.split(f"---{name}---\n", 1)[1] if f"---{name}---\n" in text else ""
    return after.split("\n---", 1)[0]


def _key_set(text: str) -> frozenset[str]:
    """Host keys as 'type base64', from .pub files or from ssh-keyscan ('host type base64')."""
    keys = set()
    for line in text.splitlines():
        fields = line.split()
        for i, field in enumerate(fields[:-1]):
            if field.startswith(("ssh-", "ecdsa-")):
                keys.add(f"{field} {fields[i + 1]}")
                break
    return frozenset(keys)


async def start_restart(
    image: Container, spec: ImageSpec, keyed: Container, password: Secret, nonce: str
) -> Restart:
    from dagger import ReturnType, dag

    # 1. First boot, in an exec: blank token, sync-file password, the "old" environment.
    first = _with_sync_password(image, password).with_env_variable("JUPYTER_TOKEN", BLANK_TOKEN)
    for name, value in OLD_ENV:
        first = first.with_env_variable(name, value)
    first = first.with_env_variable("TFCI_SERVICE_NONCE", nonce).with_exec(
        ["timeout", str(FIRST_BOOT_TIMEOUT_S), "bash", "-c", _first_boot_script()], expect=ReturnType.ANY
    )
    started = time.monotonic()
    with anyio.fail_after(FIRST_BOOT_TIMEOUT_S + 60):
        first_boot = Output(await first.exit_code(), await first.stdout(), await first.stderr())
    seconds = time.monotonic() - started
    files_exec = first.with_exec(["bash", "-c", _first_files_script()], expect=ReturnType.ANY)
    first_files = Output(await files_exec.exit_code(), await files_exec.stdout(), "")

    # 2. The same filesystem started again with new -e values and every hostile input.
    tarpit = image.with_env_variable("TFCI_SERVICE_NONCE", nonce)
    for service_port in contract.SERVICES:  # the image EXPOSEs them: the engine would wait for them
        tarpit = tarpit.without_exposed_port(service_port.port)
    tarpit_service = tarpit.with_exposed_port(443).as_service(
        args=[f"{spec.python_prefix}/bin/python", "-c", TARPIT]
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
        second=Session(service, client, nonce, spec),
        host_keys=_key_set(first_files.stdout.split("---shadow---", 1)[0]),
    )


async def check_shutdown(r: Restart) -> CheckResult:
    """The `shutdown` wrapper stops supervisord and every program; the container exits 0."""
    name = f"{contract.SHUTDOWN_COMMAND} stops the container cleanly"
    log = _section(r.first_files.stdout, "log")
    boot = _clean(r.first_boot.both)
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
        _wait_for_ssh(KEY_SSH)
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
    if _field(out.stdout, "TFCI_PW") != "ok":
        problems.append(f"the first boot's password no longer works: {tail(_clean(out.both), 3)}")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"{len(scanned)} host keys identical (ssh-keyscan); first boot's password accepted")


def _line_index(lines: list[str], text: str) -> int | None:
    return next((i for i, line in enumerate(lines) if text in line), None)


async def _boot_log(r: Restart) -> str:
    out = await r.second.sh(f"{KEY_SSH} 'cat {BOOT_LOG}'")
    return _clean(out.stdout)


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
    first = _clean(r.first_boot.stdout)
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
    if len(printed) != 1 or _field(out.stdout, "FILE_TOKEN") != printed[0]:
        problems.append("the first boot did not print the generated token (once) that the token file holds")
    if _field(out.stdout, "WITH") != "200":
        problems.append(f"the generated token gets {_field(out.stdout, 'WITH')}, not 200")
    refused = (_field(out.stdout, "WITHOUT"), _field(out.stdout, "BLANK"))
    if not set(refused) <= {"401", "403"}:
        problems.append(f"no token / a blank token get {refused}, expected 403")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, "refused (one line per boot); generated token printed once, kept, answers 200")


async def check_readonly_authorized_keys(r: Restart) -> CheckResult:
    name = "read-only authorized_keys plus SSH_PUBLIC_KEY: services still start"
    log = await _boot_log(r)
    programs = (contract.SSH.name, contract.JUPYTER.name)
    out = await r.second.sh(_status_once_running(programs, programs))
    warnings = [line for line in log.splitlines() if "authorized_keys" in line and "WARNING" in line]
    problems = []
    if len(warnings) != 1 or "cannot write" not in warnings[0]:
        problems.append(f"expected one 'cannot write' warning about authorized_keys, got {warnings[:2]}")
    if "starting supervisord" not in log:
        problems.append("boot did not reach supervisord")
    if out.code != 0 or out.stdout.count("RUNNING") != 2:
        problems.append(f"sshd/jupyterlab not RUNNING: {tail(_clean(out.both), 3)}")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, "one warning; boot went on; sshd (key from the read-only file) and JupyterLab run")


async def check_hanging_init_script(r: Restart) -> CheckResult:
    """An init-script URL that never answers: the services are up while it still hangs."""
    name = "a hanging remote init script does not hold up the services"
    program = contract.REMOTE_INIT_PROGRAM
    out = await r.second.sh(
        _wait_for_ssh(KEY_SSH) + _status_once_running((program, contract.SSH.name), (contract.SSH.name,))
    )
    log = await _boot_log(r)
    status = _clean(out.stdout)
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
    text = _clean(out.stdout)
    problems = []
    for where in ("CMD", "LOGIN", "SUPERVISORD", "SNAPSHOT"):
        for var, value in NEW_ENV:
            got = _field(text, f"{where}_{var}").strip("'")
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


# --------------------------------------------------------------------------- sessions


def client_container(spec: ImageSpec, options: BuildOptions) -> Container:
    """The image's own base plus an SSH/HTTP client: no second image to pull or pin."""
    from dagger import dag

    layers = Layers(options)
    return layers.apt_install(layers.base(dag.container(), spec), apt_cache_key(spec), CLIENT_PACKAGES)


def _with_sync_password(image: Container, password: Secret) -> Container:
    """/sync/root-passwd as an operator's `-v sync:/sync` provides it (written from a secret)."""
    return (
        image.with_secret_variable("TFCI_SYNC_PASSWORD", password)
        .with_exec(
            [
                "bash",
                "-c",
                f"mkdir -p {contract.SYNC_DIR} && umask 077 && "
                f'printf "root:%s\\n" "$TFCI_SYNC_PASSWORD" >{contract.ROOT_PASSWORD_FILE}',
            ]
        )
        .without_secret_variable("TFCI_SYNC_PASSWORD")
    )


def session_inputs(spec: ImageSpec, options: BuildOptions) -> tuple[Container, Secret, Secret, str]:
    """(client with SSH keys, root password, Jupyter token, nonce) for one run of the service checks.

    The secrets are generated per run and only ever handed to the engine as Dagger secrets.
    """
    from dagger import dag

    nonce = secrets.token_hex(8)
    keyed = (
        client_container(spec, options)
        .with_env_variable("TFCI_CHECK_NONCE", nonce)
        .with_exec(
            [
                "sh",
                "-c",
                "mkdir -p /keys && ssh-keygen -q -t ed25519 -N '' -C tfci-check -f /keys/id && "
                "ssh-keygen -q -t ed25519 -N '' -C tfci-other -f /keys/other",
            ]
        )
    )
    password = dag.set_secret(f"tfci-root-password-{nonce}", secrets.token_urlsafe(18))
    token = dag.set_secret(f"tfci-jupyter-token-{nonce}", secrets.token_hex(24))
    return keyed, password, token, nonce


async def start_session(
    image: Container, spec: ImageSpec, keyed: Container, password: Secret, token: Secret, nonce: str
) -> Session:
    public_key = (await keyed.file("/keys/id.pub").contents()).strip()
    service = (
        _with_sync_password(image, password)
        .with_secret_variable("JUPYTER_TOKEN", token)
        .with_env_variable("SSH_PUBLIC_KEY", public_key)
        .with_env_variable("TFCI_SERVICE_NONCE", nonce)
        .with_exposed_port(contract.SSH.port)
        .with_exposed_port(contract.JUPYTER.port, experimental_skip_healthcheck=True)
        .with_exposed_port(contract.TENSORBOARD.port, experimental_skip_healthcheck=True)
        .as_service(use_entrypoint=True)  # args=None: the image's own CMD (boot.sh)
    )
    with anyio.fail_after(EXEC_TIMEOUT_S):
        service = await service.start()
    client = (
        keyed.with_service_binding(HOST, service)
        .with_secret_variable("SSHPASS", password)
        .with_secret_variable("JUPYTER_TOKEN", token)
    )
    return Session(service, client, nonce, spec)


async def _run_all(
    report: CheckReport, checks: tuple[Callable[[T], Awaitable[CheckResult]], ...], target: T
) -> None:
    from dagger import QueryError

    for check in checks:
        started = time.monotonic()
        try:
            result = await check(target)
        except (QueryError, TimeoutError) as exc:
            result = failed(check.__name__.removeprefix("check_"), f"error: {_why(exc)}")
        report.add(dataclasses.replace(result, seconds=round(time.monotonic() - started, 2)))


async def run_service_checks(
    image: Container, spec: ImageSpec, options: BuildOptions, report: CheckReport
) -> CheckReport:
    """Start the image as a service, run every check, then the restart scenario; always stop both."""
    from dagger import QueryError

    keyed, password, token, nonce = session_inputs(spec, options)
    try:
        session = await start_session(image, spec, keyed, password, token, nonce)
    except (QueryError, TimeoutError) as exc:
        report.add(failed("service start", f"the image's CMD did not come up: {_why(exc)}"))
    else:
        try:
            await _run_all(report, SERVICE_CHECKS, session)
        finally:
            with anyio.move_on_after(60, shield=True):
                await session.service.stop(kill=True)

    try:
        restart = await start_restart(image, spec, keyed, password, nonce)
    except (QueryError, TimeoutError) as exc:
        report.add(failed("restart scenario", f"first boot or restart did not come up: {_why(exc)}"))
        return report
    try:
        await _run_all(report, RESTART_CHECKS, restart)
    finally:
        with anyio.move_on_after(60, shield=True):
            await restart.second.service.stop(kill=True)
    return report

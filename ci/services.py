"""Service checks: boot the image's real CMD and use it like a user would, over the network.

Why a service and a separate client container: the image's promise is "docker run it, then ssh in,
open JupyterLab under /jupyter/ and TensorBoard under /monitor/". Only the real boot path
(boot.sh -> supervisord -> sshd/jupyter/tensorboard) proves that; running the programs by hand in
a build container would not. The client (the image's own base + openssh-client, sshpass, curl) reaches
the image by a service binding, exactly like a second machine on the network.

Secrets: the root password and the Jupyter token are generated per run, handed to both sides as
Dagger secrets (the engine scrubs them from any output) and never printed. The SSH key pair is made
inside the engine; only the public half leaves it.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from ci.checks import Output
from ci.layers import Layers, apt_cache_key
from ci.options import BuildOptions
from ci.report import CheckReport, CheckResult, failed, passed, tail
from ci.spec import ImageSpec

if TYPE_CHECKING:
    from dagger import Container, Service

HOST = "tfimage"  # the service's host name inside the client container
CLIENT_PACKAGES = ("openssh-client", "sshpass", "curl", "ca-certificates")
SUPERVISOR_CONF = "/init/supervisor/supervisord.conf"
# Generous but bounded: first JupyterLab start builds its workspace, TensorBoard reloads every 5 s.
EXEC_TIMEOUT_S = 300
SSH_OPTS = (
    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
    "-o ConnectTimeout=10 -o ServerAliveInterval=10"
)
KEY_SSH = f"ssh {SSH_OPTS} -i /keys/id -o BatchMode=yes -o PasswordAuthentication=no root@{HOST}"
PASSWORD_SSH = (
    f"sshpass -e ssh {SSH_OPTS} -o PubkeyAuthentication=no "
    f"-o PreferredAuthentications=password,keyboard-interactive root@{HOST}"
)

# The seed guide's TensorBoard sample (section 7.7): scalar `loss` into /root/tensorboard-logs.
TENSORBOARD_SAMPLE = """
import numpy as np
import tensorflow as tf

writer = tf.summary.create_file_writer("/root/tensorboard-logs")
with writer.as_default():
    for epoch in range(100):
        tf.summary.scalar("loss", np.random.random(), step=epoch)
        writer.flush()
print("wrote loss scalars")
"""


@dataclass
class Session:
    """One running image plus a client bound to it."""

    service: Service
    client: Container
    nonce: str

    async def sh(self, script: str) -> Output:
        from dagger import ReturnType

        done = self.client.with_env_variable("TFCI_CHECK_NONCE", self.nonce).with_exec(
            ["timeout", str(EXEC_TIMEOUT_S), "bash", "-o", "pipefail", "-c", script],
            expect=ReturnType.ANY,
        )
        with anyio.fail_after(EXEC_TIMEOUT_S + 60):
            code = await done.exit_code()
            return Output(code, await done.stdout(), await done.stderr())


def _clean(text: str) -> str:
    """Drop terminal noise (ANSI colours, CRs from -tt) so assertions see plain lines."""
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text).replace("\r", "")


def _field(text: str, key: str) -> str:
    match = re.search(rf"^{re.escape(key)}=(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


# --------------------------------------------------------------------------- checks


async def check_ssh_password(s: Session) -> CheckResult:
    """Password login; an interactive login shell shows the MOTD and gets zh_CN + CST."""
    name = "ssh password login (login shell: MOTD, LANG, CST)"
    out = await s.sh(
        f"for i in $(seq 30); do {PASSWORD_SSH} true 2>/dev/null && break; sleep 2; done\n"
        f"{PASSWORD_SSH} -tt \"bash -lic 'echo TFCI_LANG=\\$LANG; echo TFCI_TZ=\\$(date +%Z); exit 0'\""
    )
    text = _clean(out.both)
    problems = []
    if out.code != 0:
        return failed(name, f"ssh with the root password failed (exit {out.code}): {tail(text, 4)}")
    if _field(text, "TFCI_LANG") != "zh_CN.UTF-8":
        problems.append(f"LANG is {_field(text, 'TFCI_LANG') or 'unset'}, expected zh_CN.UTF-8")
    if _field(text, "TFCI_TZ") != "CST":
        problems.append(f"date +%Z is {_field(text, 'TFCI_TZ') or 'empty'}, expected CST")
    if "CPU" not in text or "内存" not in text:
        problems.append("the login banner (CPU / 内存 lines) was not shown")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, "password accepted; MOTD with CPU/内存; LANG=zh_CN.UTF-8; CST")


async def check_ssh_key(s: Session) -> CheckResult:
    name = "ssh key login"
    out = await s.sh(f"for i in $(seq 30); do {KEY_SSH} 'echo TFCI_KEY=ok' && exit 0; sleep 2; done; exit 1")
    if out.code != 0 or _field(out.stdout, "TFCI_KEY") != "ok":
        return failed(name, f"key login failed (exit {out.code}): {tail(_clean(out.both), 4)}")
    return passed(name, "SSH_PUBLIC_KEY accepted")


async def check_jupyter(s: Session) -> CheckResult:
    name = "JupyterLab under /jupyter/ (token required)"
    url = f"http://{HOST}:8888/jupyter"
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
        problems.append(f"/jupyter/api/status with the token answered {authorised or 'nothing'}, not 200")
    if lab != "200":
        problems.append(f"/jupyter/lab with the token answered {lab or 'nothing'}, not 200")
    if no_api not in ("403", "401"):
        problems.append(f"/jupyter/api/status WITHOUT a token answered {no_api}; expected 403")
    lab_code, _, location = no_lab.partition(" ")
    if not (lab_code == "302" and "login" in location) and lab_code not in ("401", "403"):
        problems.append(f"/jupyter/lab WITHOUT a token answered {no_lab}; expected 302 to the login page")
    if problems:
        return failed(name, "; ".join(problems))
    return passed(name, f"200 with token; {no_api} / {lab_code}->login without")


async def check_tensorboard(s: Session) -> CheckResult:
    """The seed's sample script, run over SSH with the image's python, shows up in TensorBoard."""
    name = "TensorBoard under /monitor/ serves the loss scalar"
    base = f"http://{HOST}:6006/monitor"
    out = await s.sh(
        f"""
{KEY_SSH} 'bash -lc "python -"' <<'PYEOF'
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
echo "POINTS=$(curl -s '{base}/data/plugin/scalars/scalars?run=.&tag=loss' | grep -o '\\[' | wc -l)"
echo "INDEX=$(curl -s -o /dev/null -w '%{{http_code}}' {base}/)"
"""
    )
    text = _clean(out.stdout)
    if _field(text, "SAMPLE_RC") != "0" or "wrote loss scalars" not in text:
        return failed(name, f"the sample script failed over SSH: {tail(_clean(out.both), 5)}")
    if '"loss"' not in _field(text, "TAGS"):
        return failed(name, f"/monitor/data/plugin/scalars/tags has no loss: {_field(text, 'TAGS')[:200]}")
    if _field(text, "INDEX") != "200":
        return failed(name, f"/monitor/ answered {_field(text, 'INDEX')}, not 200")
    return passed(name, "sample script ran over SSH; tags list 'loss'; /monitor/ answers 200")


async def check_autorestart(s: Session) -> CheckResult:
    """Kill TensorBoard: supervisord must start a new one and it must answer again."""
    name = "supervisord restarts a killed service"
    ctl = f"supervisorctl -c {SUPERVISOR_CONF}"
    out = await s.sh(
        f"""
old=$({KEY_SSH} '{ctl} pid tensorboard')
echo "OLD=$old"
{KEY_SSH} "kill -9 $old"
new=""
for i in $(seq 60); do
  sleep 2
  st=$({KEY_SSH} '{ctl} status tensorboard' || true)
  new=$({KEY_SSH} '{ctl} pid tensorboard' || true)
  case "$st" in *RUNNING*) [ "$new" != "$old" ] && [ "$new" != 0 ] && break ;; esac
done
echo "STATUS=$st"
echo "NEW=$new"
code=000
for i in $(seq 60); do
  code=$(curl -s -o /dev/null -w '%{{http_code}}' http://{HOST}:6006/monitor/)
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
        return failed(name, f"TensorBoard restarted (pid {new}) but /monitor/ answers {_field(text, 'HTTP')}")
    return passed(name, f"tensorboard pid {old} killed -> restarted as {new}; /monitor/ answers 200")


SERVICE_CHECKS: tuple[Callable[[Session], Awaitable[CheckResult]], ...] = (
    check_ssh_password,
    check_ssh_key,
    check_jupyter,
    check_tensorboard,
    check_autorestart,
)


# --------------------------------------------------------------------------- session


def client_container(spec: ImageSpec, options: BuildOptions) -> Container:
    """The image's own base plus an SSH/HTTP client: no second image to pull or pin."""
    from dagger import dag

    layers = Layers(options)
    return layers.apt_install(layers.base(dag.container(), spec), apt_cache_key(spec), CLIENT_PACKAGES)


async def start_session(image: Container, spec: ImageSpec, options: BuildOptions) -> Session:
    from dagger import dag

    nonce = secrets.token_hex(8)
    keyed = (
        client_container(spec, options)
        .with_env_variable("TFCI_CHECK_NONCE", nonce)
        .with_exec(["sh", "-c", "mkdir -p /keys && ssh-keygen -q -t ed25519 -N '' -C tfci-check -f /keys/id"])
    )
    public_key = (await keyed.file("/keys/id.pub").contents()).strip()
    password = dag.set_secret(f"tfci-root-password-{nonce}", secrets.token_urlsafe(18))
    token = dag.set_secret(f"tfci-jupyter-token-{nonce}", secrets.token_hex(24))
    service = (
        image.with_secret_variable("ROOT_PASSWORD", password)
        .with_secret_variable("JUPYTER_TOKEN", token)
        .with_env_variable("SSH_PUBLIC_KEY", public_key)
        .with_env_variable("TFCI_SERVICE_NONCE", nonce)
        .with_exposed_port(22)
        .with_exposed_port(8888, experimental_skip_healthcheck=True)
        .with_exposed_port(6006, experimental_skip_healthcheck=True)
        .as_service(use_entrypoint=True)  # args=None: the image's own CMD (boot.sh)
    )
    with anyio.fail_after(EXEC_TIMEOUT_S):
        service = await service.start()
    client = (
        keyed.with_service_binding(HOST, service)
        .with_secret_variable("SSHPASS", password)
        .with_secret_variable("JUPYTER_TOKEN", token)
    )
    return Session(service, client, nonce)


async def run_service_checks(
    image: Container, spec: ImageSpec, options: BuildOptions, report: CheckReport
) -> CheckReport:
    """Start the image as a service, run every service check, always stop it."""
    from dagger import QueryError

    try:
        session = await start_session(image, spec, options)
    except (QueryError, TimeoutError) as exc:
        report.add(failed("service start", f"the image's CMD did not come up: {tail(str(exc), 6)}"))
        return report
    try:
        for check in SERVICE_CHECKS:
            started = time.monotonic()
            try:
                result = await check(session)
            except (QueryError, TimeoutError) as exc:
                result = failed(check.__name__.removeprefix("check_"), f"error: {tail(str(exc), 4)}")
            report.add(dataclasses.replace(result, seconds=round(time.monotonic() - started, 2)))
    finally:
        with anyio.move_on_after(60, shield=True):
            await session.service.stop(kill=True)
    return report

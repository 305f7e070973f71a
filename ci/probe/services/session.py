"""A running image and a client bound to it: what every service check runs against.

The client (the image's base plus openssh-client, sshpass, curl and rsync; built by
ci.build.client) reaches the image by a service binding, exactly like a second machine on the
network. The root password and the Jupyter token are generated per run, handed to both sides as
Dagger secrets (the engine scrubs them from any output) and never printed; the SSH key pairs are
made inside the engine and only their public halves leave it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from ci.model import contract
from ci.model.spec import ImageSpec
from ci.probe.runner import Output, Runner

if TYPE_CHECKING:
    from dagger import Container, Secret, Service

HOST = "tfimage"  # the service's host name inside the client container
TARPIT_HOST = "tarpit"  # accepts TLS connections and never answers: a hanging init-script URL
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


@dataclass
class Session:
    """One running image plus a client bound to it (commands run in the client, with a timeout)."""

    service: Service
    client: Runner

    @property
    def spec(self) -> ImageSpec:
        return self.client.spec

    async def sh(self, script: str) -> Output:
        return await self.client.sh(script)


def clean(text: str) -> str:
    """Drop terminal noise (ANSI colours, CRs from -tt) so assertions see plain lines."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")


def value_of(text: str, key: str) -> str:
    match = re.search(rf"^{re.escape(key)}=(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def wait_for_ssh(ssh: str) -> str:
    """Shell that retries `ssh ... true` for up to a minute (sshd starts a second after boot)."""
    return f"for i in $(seq 30); do {ssh} true 2>/dev/null && break; sleep 2; done\n"


def status_once_running(show: Sequence[str], wait_for: Sequence[str], seconds: int = 10) -> str:
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


def with_sync_password(image: Container, password: Secret) -> Container:
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


def session_inputs(client: Container) -> tuple[Container, Secret, Secret, str]:
    """(client with SSH keys, root password, Jupyter token, nonce) for one run of the service checks.

    The secrets are generated per run and only ever handed to the engine as Dagger secrets.
    """
    from dagger import dag

    nonce = secrets.token_hex(8)
    keyed = client.with_env_variable("TFCI_CHECK_NONCE", nonce).with_exec(
        [
            "sh",
            "-c",
            "mkdir -p /keys && ssh-keygen -q -t ed25519 -N '' -C tfci-check -f /keys/id && "
            "ssh-keygen -q -t ed25519 -N '' -C tfci-other -f /keys/other",
        ]
    )
    password = dag.set_secret(f"tfci-root-password-{nonce}", secrets.token_urlsafe(18))
    token = dag.set_secret(f"tfci-jupyter-token-{nonce}", secrets.token_hex(24))
    return keyed, password, token, nonce


async def start_session(
    image: Container, spec: ImageSpec, keyed: Container, password: Secret, token: Secret, nonce: str
) -> Session:
    public_key = (await keyed.file("/keys/id.pub").contents()).strip()
    service = (
        with_sync_password(image, password)
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
    return Session(service, Runner(client, spec, nonce, EXEC_TIMEOUT_S))

"""The Kubernetes example's probe targets answer on a running image (its real CMD).

Why: the unit tests check the probes against ci/model/contract.py; this checks the contract's paths
against the image itself, from a second container on the network, as the kubelet would reach them
(the readiness probe's 127.0.0.1 becomes the service's host name).
"""

from __future__ import annotations

from typing import Any

import pytest

from ci.build.client import client_container
from ci.build.layers import build_image
from ci.model import contract
from ci.probe.services.everyday import (
    check_autorestart,
    check_jupyter,
    check_ssh_key,
    check_ssh_password,
    check_tensorboard,
)
from ci.probe.services.session import HOST, KEY_SSH, session_inputs, start_session
from tests.e2e import specs
from tests.unit.examples.test_examples import DEPLOYMENT, container, load, probe_targets

pytestmark = [pytest.mark.engine, pytest.mark.anyio]
# Linux capability numbers (include/uapi/linux/capability.h) of those the manifests may add.
CAPABILITIES = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6,
    "SETUID": 7, "SETPCAP": 8, "NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_CHROOT": 18, "MKNOD": 27,
    "AUDIT_WRITE": 29, "SETFCAP": 31,
}  # fmt: skip


async def test_every_probe_target_answers_on_the_running_image(dagger_client: Any) -> None:
    image = await build_image(specs.cpu_spec(), specs.options()).sync()
    client = client_container(specs.cpu_spec(), specs.options())
    session = await start_session(image, specs.cpu_spec(), *session_inputs(client))
    try:
        for kind, port, path in sorted(probe_targets(), key=str):
            if kind == "tcp":
                probe = f"bash -c 'exec 3<>/dev/tcp/{HOST}/{port}'"
            else:
                probe = f"curl -fsS -o /dev/null http://{HOST}:{port}{path}"
            out = await session.sh(f"for i in $(seq 90); do {probe} && exit 0; sleep 2; done; exit 1")
            assert out.code == 0, f"{kind} {port} {path}: {out.stderr[-300:]}"
    finally:
        await session.service.stop(kill=True)


async def test_the_deployment_runs_with_its_capabilities_and_volumes(dagger_client: Any) -> None:
    """The Deployment's pod as the kubelet would run it: the init container's script for real on an
    empty volume (twice: every start runs it), then the image's CMD with /root and /etc/ssh on that
    volume, only the capabilities the manifest adds (the bounding set, as a runtime applies
    `drop: [ALL]` + `add`) and no_new_privs (allowPrivilegeEscalation: false); every everyday
    service check must pass: password and key login, JupyterLab, TensorBoard, and supervisord
    restarting a killed service (it needs KILL)."""
    from dagger import dag

    spec = specs.cpu_spec()
    image = await build_image(spec, specs.options()).sync()
    pod = load(DEPLOYMENT)["spec"]["template"]["spec"]
    (seed,) = pod["initContainers"]
    volume: Any = dag.directory()
    for _ in range(2):
        volume = (
            image.with_directory("/mnt/state", volume)
            .with_exec(bounded(seed["securityContext"], seed["command"]))
            .directory("/mnt/state")
        )
    mounts = {m["mountPath"]: m for m in container()["volumeMounts"] if m["name"] == "state"}
    assert sorted(mounts) == ["/etc/ssh", "/root"]
    for path, mount in mounts.items():
        image = image.with_mounted_directory(path, volume.directory(mount["subPath"]))
    image = image.with_default_args(bounded(container()["securityContext"], list(image_cmd())))
    client = client_container(spec, specs.options())
    session = await start_session(image, spec, *session_inputs(client))
    try:
        for check in (check_ssh_password, check_ssh_key, check_jupyter, check_tensorboard, check_autorestart):
            result = await check(session)
            assert result.status == "pass", f"{result.name}: {result.message}"
        keys = await session.sh(f"{KEY_SSH} 'ls /etc/ssh/ssh_host_ed25519_key && grep Cap /proc/self/status'")
        assert keys.code == 0, keys.stderr
        wanted = sum(
            1 << CAPABILITIES[name] for name in container()["securityContext"]["capabilities"]["add"]
        )
        assert f"CapBnd:\t{wanted:016x}" in keys.stdout  # sshd's session: only what the manifest adds
    finally:
        await session.service.stop(kill=True)


def image_cmd() -> tuple[str, ...]:
    return ("bash", contract.BOOT_SCRIPT)


def bounded(security: dict[str, Any], argv: list[str]) -> list[str]:
    """argv run the way the securityContext makes a runtime run it (setpriv, from util-linux)."""
    assert security["capabilities"]["drop"] == ["ALL"]
    assert security["allowPrivilegeEscalation"] is False
    keep = ",".join(f"+{name.lower()}" for name in security["capabilities"]["add"])
    return ["setpriv", f"--bounding-set=-all,{keep}", "--inh-caps=-all", "--no-new-privs", *argv]

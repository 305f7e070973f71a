"""A real CPU image, built from the local debian:bookworm and real PyPI wheels, passes every check.

Why one module-scoped build: the image is the expensive part (TensorFlow is ~500 MB); every check
then runs against that same image, each as its own test so a failure names the broken promise.
Negative tests tamper with the built image to prove the checks can fail.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from ci.build import python
from ci.build.client import client_container
from ci.build.execs import CA_ENV_VARS
from ci.build.layers import Layers, build_image
from ci.build.steps import build_in_steps
from ci.model import contract
from ci.probe.checks import COMMON_CHECKS, CPU_CHECKS, Check, run_checks
from ci.probe.runner import Runner
from ci.probe.services import run_service_checks
from ci.report.model import CheckReport
from tests.e2e import specs
from tests.e2e.oci import layer_digests

pytestmark = [pytest.mark.engine, pytest.mark.anyio]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def cpu_image(dagger_client: Any) -> Any:
    started = time.monotonic()
    image, _ = await build_in_steps(specs.cpu_spec(), specs.options())
    print(f"\n[e2e] CPU image {specs.cpu_spec().tag} built (or cached) in {time.monotonic() - started:.0f}s")
    return image


@pytest.mark.parametrize("check", COMMON_CHECKS + CPU_CHECKS, ids=lambda c: c.__name__)
async def test_image_check_passes(cpu_image: Any, check: Check) -> None:
    result = await check(Runner(cpu_image, specs.cpu_spec()), specs.options())
    assert result.status == "pass", result.message


async def test_service_checks_pass(cpu_image: Any) -> None:
    """The real CMD used as people use it, then stopped with `shutdown`, restarted and attacked.

    Main session: SSH (password from /sync/root-passwd, key, MOTD once, command mode, scp),
    JupyterLab token, TensorBoard loss, autorestart. Restart scenario: clean shutdown, same host
    keys and password, hostile inputs refused without stopping the services, fresh -e values win.
    """
    client = client_container(specs.cpu_spec(), specs.options())
    report = await run_service_checks(cpu_image, client, specs.cpu_spec(), CheckReport("cpu"))
    print("\n" + "\n".join(f"[e2e] {r.seconds}s {r.name}" for r in report.results))
    assert [r.name for r in report.results] == [
        "ssh password login from /sync/root-passwd (interactive: MOTD once, LANG, CST, quiet)",
        "ssh key login",
        "ssh command mode: python imports tensorflow; PATH, LANG, TZ; no MOTD or noise",
        "scp and rsync a file both ways (SFTP, legacy scp, rsync over ssh)",
        "JupyterLab under /jupyter/ (token required)",
        "TensorBoard under /monitor/ serves the loss scalar",
        "supervisord restarts a killed service",
        "/usr/local/bin/shutdown stops the container cleanly",
        "a hanging remote init script does not hold up the services",
        "restarted container keeps its host keys and root password",
        "ROOT_PASSWORD with a line break is refused (one log line, nothing changed)",
        "read-only authorized_keys plus SSH_PUBLIC_KEY: services still start",
        "blank JUPYTER_TOKEN is refused; the generated token is printed and works",
        "a new container's -e values win over the saved environment snapshot",
    ]
    assert report.ok, report.render()


async def test_image_config_carries_no_build_ca_and_the_runtime_contract(cpu_image: Any) -> None:
    spec = specs.cpu_spec()
    env = {await v.name(): await v.value() for v in await cpu_image.env_variables()}
    assert not set(CA_ENV_VARS) & set(env), "a build-only CA variable leaked into the image config"
    assert env["PYTHON_PREFIX"] == spec.python_prefix == "/opt/python"
    assert env["PATH"].startswith(f"{spec.python_prefix}/bin:")
    assert dict(contract.locale_env()).items() <= env.items()
    assert await cpu_image.default_args() == ["bash", contract.BOOT_SCRIPT]
    assert await cpu_image.workdir() == contract.WORKDIR
    ports = sorted([await p.port() for p in await cpu_image.exposed_ports()])
    assert ports == sorted(s.port for s in contract.SERVICES) == [22, 6006, 8888]
    written = await cpu_image.file(contract.CONTRACT_ENV_FILE).contents()
    assert written == contract.contract_env_file(spec.python_prefix)
    labels = {await label.name(): await label.value() for label in await cpu_image.labels()}
    assert dict(spec.labels).items() <= labels.items()
    leftovers = await cpu_image.with_exec(
        [
            "bash",
            "-c",
            "ls -d /tmp/tfci-build /tmp/tfci-* /root/.cache/pip/* 2>/dev/null | head; "
            "ls /var/cache/apt/archives/*.deb 2>/dev/null | wc -l",
        ]
    ).stdout()
    assert leftovers.strip() == "0", f"build leftovers or package caches in the image: {leftovers}"
    # runtime_files sets modes and owner itself (no exec): scripts 0755, the rest 0644, all root.
    modes = await cpu_image.with_exec(
        [
            "stat",
            "-c",
            "%a %u:%g %n",
            "/init",
            "/init/boot/boot.sh",
            "/init/init/files/motd-hook.sh",
            "/init/README.md",
            "/etc/profile.d/tfimage.sh",
            "/etc/ssh/sshd_config.d/tfimage.conf",
            "/etc",
        ]
    ).stdout()
    assert modes.split("\n")[:7] == [
        "755 0:0 /init",
        "755 0:0 /init/boot/boot.sh",
        "755 0:0 /init/init/files/motd-hook.sh",
        "644 0:0 /init/README.md",
        "644 0:0 /etc/profile.d/tfimage.sh",
        "644 0:0 /etc/ssh/sshd_config.d/tfimage.conf",
        "755 0:0 /etc",
    ], modes


async def test_checks_fail_on_a_broken_image(cpu_image: Any) -> None:
    """Tamper with the image: each relevant check must notice (the checks are not vacuous)."""
    spec = specs.cpu_spec()
    broken = cpu_image.with_exec(
        [
            "bash",
            "-c",
            "touch /usr/lib/libcudart.so.12 && ssh-keygen -q -A && echo root:secret | chpasswd "
            "&& ln -sf /usr/share/zoneinfo/UTC /etc/localtime && echo UTC > /etc/timezone "
            # ssh command mode without the bashrc hook; the distribution's sshd defaults back
            "&& sed -i '/^# BEGIN tfimage/,/^# END tfimage/d' /etc/bash.bashrc "
            "&& sed -i 's/^PermitRootLogin yes/PermitRootLogin prohibit-password/' "
            "/etc/ssh/sshd_config.d/tfimage.conf "
            # a requirement of nbconvert gone (its metadata only: TensorFlow still imports)
            f"&& rm -r {spec.site_packages}/jupyterlab_pygments-*.dist-info",
        ]
    )
    report = await run_checks(broken, spec, specs.options(), CheckReport("broken"))
    failed = {r.name for r in report.failures}
    assert failed == {
        "CPU image has no CUDA libraries",
        "no host keys or root password in the image",
        "Asia/Shanghai timezone",
        "ssh command-mode environment (bash -c under sshd)",
        "sshd configuration",
        "pip check (every installed package's requirements are met)",
    }, report.render()


async def test_editing_context_rebuilds_only_the_top_layers(dagger_client: Any, tmp_path: Path) -> None:
    """Edit a context/ file: every layer up to TensorFlow is reused byte for byte.

    Built through ci.build.steps, the one build path (its wheel prefetch, when it starts, is no
    input of any layer). The engine loads a host directory once per
    session and path, so the edited context is a second copy at another path (as a new `ci build`
    run after an edit would upload it).
    """
    original, edited = tmp_path / "a" / "context", tmp_path / "b" / "context"
    shutil.copytree(REPO / "context", original)
    shutil.copytree(REPO / "context", edited)
    with (edited / "boot" / "boot.sh").open("a") as boot:
        boot.write(f"\n# e2e edit {time.time()}\n")
    spec, options = specs.cpu_spec(), specs.options()

    started = time.monotonic()
    before, _ = await build_in_steps(spec, options, context_dir=original)
    first = time.monotonic() - started
    started = time.monotonic()
    after, _ = await build_in_steps(spec, options, context_dir=edited)
    rebuild = time.monotonic() - started
    print(f"\n[e2e] build with copied context {first:.1f}s; rebuild after editing boot.sh {rebuild:.1f}s")
    await before.export(str(tmp_path / "before.tar"))
    await after.export(str(tmp_path / "after.tar"))

    old, new = layer_digests(tmp_path / "before.tar"), layer_digests(tmp_path / "after.tar")
    assert len(old) == len(new)
    # The edited file (boot/boot.sh) is only in runtime_files: one layer (one file operation, no
    # exec); metadata adds none. Everything below it, system_files included, is reused.
    assert old[:-1] == new[:-1], "a layer below context/ changed: TensorFlow or Python was rebuilt"
    assert old[-1] != new[-1]
    assert "e2e edit" in await after.file("/init/boot/boot.sh").contents()
    assert "e2e edit" not in await before.file("/init/boot/boot.sh").contents()


async def test_miniconda_layer_refuses_an_installer_with_the_wrong_sha256(
    dagger_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagger import ExecError, dag

    installer = tmp_path / "Miniconda3-fake.sh"
    installer.write_text("#!/bin/bash\necho INSTALLER-RAN\nmkdir -p /root/miniconda3/bin\n")
    spec, options = specs.miniconda_spec(), specs.options(miniconda_file=installer)

    # 1. The build refuses before any engine work (the local file is hashed first).
    with pytest.raises(python.BuildRefused, match="does not match"):
        build_image(spec, options)

    # 2. Even with that early check bypassed, the layer's `sha256sum -c` stops it in the container
    #    before the installer runs.
    monkeypatch.setattr(python, "check_miniconda", lambda spec, options: None)
    base = dag.container().from_("debian:bookworm")
    with pytest.raises(ExecError) as info:
        await Layers(options).python(base, spec).sync()
    output = info.value.stdout + info.value.stderr
    assert "sha256 mismatch; NOT running it" in output
    assert "FAILED" in output
    assert "INSTALLER-RAN" not in output

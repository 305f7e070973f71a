"""Which checks an image gets, from its kind, and what a check makes of its command's output (a fake
runner answers; the checks against real images are tests/e2e)."""

from __future__ import annotations

import json
from typing import cast

import pytest

from ci.build.options import BuildOptions
from ci.model.spec import ImageSpec
from ci.probe.checks import (
    COMMON_CHECKS,
    GPU_CHECKS,
    Check,
    check_gpu_visible,
    check_no_baked_secrets,
    check_no_cuda,
    check_nvidia_wheels,
    check_pip_requirements,
    check_platform,
    check_versions,
    checks_for,
)
from ci.probe.runner import Output, Runner
from ci.report.model import CheckResult, failed, passed
from ci.table.resolve import BuildRequest, resolve
from ci.table.rows import Table


def test_pip_cuda_checks_only_for_pip_images(pip_spec: ImageSpec, cpu_spec: ImageSpec) -> None:
    assert check_nvidia_wheels in checks_for(pip_spec)
    assert check_nvidia_wheels not in checks_for(cpu_spec)


class FakeRunner:
    """Answers a check's commands with canned outputs: by script name, or by a word of the snippet."""

    def __init__(self, spec: ImageSpec, outputs: dict[str, Output]) -> None:
        self.spec = spec
        self.outputs = outputs
        self.ran: list[str] = []

    @property
    def python(self) -> str:
        return self.spec.python

    async def sh(self, script: str, *, container: object = None) -> Output:
        self.ran.append(script)
        return next(out for key, out in self.outputs.items() if key in script)

    async def script(self, name: str, *args: str, env: object = ()) -> Output:
        self.ran.append(name)
        return self.outputs[name]


async def run_check(check: Check, runner: FakeRunner, options: BuildOptions | None = None) -> CheckResult:
    return await check(cast(Runner, runner), options or BuildOptions())


def test_each_kind_gets_the_common_checks_and_its_own(
    table: Table, cpu_spec: ImageSpec, pip_spec: ImageSpec
) -> None:
    base = resolve(table, BuildRequest(tf="2.15.0", variant="gpu", cuda_source="base"))
    assert checks_for(cpu_spec) == (*COMMON_CHECKS, check_no_cuda)
    assert checks_for(base) == (*COMMON_CHECKS, *GPU_CHECKS)
    assert checks_for(pip_spec) == (*COMMON_CHECKS, *GPU_CHECKS, check_nvidia_wheels)
    assert check_no_cuda not in checks_for(base)
    for spec in (cpu_spec, base, pip_spec):
        assert len(set(checks_for(spec))) == len(checks_for(spec))


@pytest.mark.anyio
async def test_the_versions_check_reads_the_last_line_of_the_script(cpu_spec: ImageSpec) -> None:
    found = {"python": "3.11.2", "tensorflow": "2.15.0", "numpy": "1.26.4"}
    good = FakeRunner(
        cpu_spec, {"check-versions.py": Output(0, "a warning\n" + json.dumps(found) + "\n", "")}
    )
    result = await run_check(check_versions, good)
    assert result == passed("versions match the tag", "numpy 1.26.4, python 3.11.2, tensorflow 2.15.0")
    assert good.ran == ["check-versions.py"]
    wrong = {**found, "tensorflow": "2.15.1"}
    result = await run_check(
        check_versions, FakeRunner(cpu_spec, {"check-versions.py": Output(0, json.dumps(wrong), "")})
    )
    assert result == failed("versions match the tag", "TensorFlow is 2.15.1, the tag says 2.15.0")
    crashed = FakeRunner(cpu_spec, {"check-versions.py": Output(1, "", "ImportError: no tensorflow")})
    result = await run_check(check_versions, crashed)
    assert result.failed
    assert result.message.startswith("could not read versions (exit 1): ")
    assert "ImportError: no tensorflow" in result.message


@pytest.mark.anyio
async def test_baked_host_keys_or_a_root_password_fail_the_image(cpu_spec: ImageSpec) -> None:
    clean = FakeRunner(cpu_spec, {"ssh_host_": Output(0, "---\nroot:*:19000:0:99999:7:::\n", "")})
    assert not (await run_check(check_no_baked_secrets, clean)).failed
    baked = FakeRunner(
        cpu_spec, {"ssh_host_": Output(0, "/etc/ssh/ssh_host_ed25519_key\n---\nroot::19000::::::\n", "")}
    )
    result = await run_check(check_no_baked_secrets, baked)
    assert result.failed
    assert result.message.startswith("SSH host keys are baked in: /etc/ssh/ssh_host_ed25519_key; ")


@pytest.mark.anyio
async def test_gpu_presence_is_not_checked_unless_required(pip_spec: ImageSpec) -> None:
    runner = FakeRunner(pip_spec, {})
    result = await run_check(check_gpu_visible, runner)
    assert result.status == "not-checked"
    assert "--require-gpu" in result.message
    assert runner.ran == []  # nothing ran in the image


@pytest.mark.anyio
async def test_a_cpu_image_with_cuda_libraries_fails(cpu_spec: ImageSpec) -> None:
    hits = "/usr/lib/libcudart.so.12\n/opt/python/lib/libcudnn.so.8\n"
    result = await run_check(check_no_cuda, FakeRunner(cpu_spec, {"libcudart": Output(0, hits, "")}))
    assert result == failed(
        "CPU image has no CUDA libraries",
        "found 2 CUDA file(s), e.g. /usr/lib/libcudart.so.12, /opt/python/lib/libcudnn.so.8",
    )
    assert not (
        await run_check(check_no_cuda, FakeRunner(cpu_spec, {"libcudart": Output(0, "\n", "")}))
    ).failed


@pytest.mark.anyio
async def test_an_image_runs_as_the_platform_it_is_published_for(multi_spec: ImageSpec) -> None:
    arm64 = multi_spec.on("linux/arm64")
    good = await run_check(check_platform, FakeRunner(arm64, {"uname": Output(0, "aarch64\naarch64\n", "")}))
    assert good == passed("runs as its platform", "linux/arm64: uname -m and platform.machine() are aarch64")
    # An amd64 image under an arm64 tag: uname and Python say x86_64, the check says so.
    wrong = await run_check(check_platform, FakeRunner(arm64, {"uname": Output(0, "x86_64\nx86_64\n", "")}))
    assert wrong.status == "fail"
    assert "linux/arm64 wants aarch64; uname -m, Python say ['x86_64', 'x86_64']" in wrong.message
    assert check_platform in checks_for(arm64)


@pytest.mark.anyio
async def test_pip_check_passes_only_when_pip_finds_nothing_broken(cpu_spec: ImageSpec) -> None:
    clean = FakeRunner(cpu_spec, {"pip check": Output(0, "No broken requirements found.\n", "")})
    result = await run_check(check_pip_requirements, clean)
    assert result == passed(result.name, "No broken requirements found.")
    assert clean.ran == [f"PIP_DISABLE_PIP_VERSION_CHECK=1 {cpu_spec.python} -m pip check"]
    broken = FakeRunner(
        cpu_spec,
        {
            "pip check": Output(
                1, "nbconvert 7.17.2 requires jupyterlab-pygments, which is not installed.", ""
            )
        },
    )
    result = await run_check(check_pip_requirements, broken)
    assert result.status == "fail"
    assert "nbconvert 7.17.2 requires jupyterlab-pygments" in result.message

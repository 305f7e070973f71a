"""GPU (pip CUDA) image on Debian 12: build it, run every GPU check that needs no GPU, and show that
--require-gpu really fails where no GPU is visible.

Why slow-marked: tensorflow[and-cuda] pulls ~3 GB of NVIDIA wheels; run it with `pytest -m slow`.
Why a separate gpu-marked test: only a GPU-enabled engine (NVIDIA driver and container toolkit on the
engine host, `_EXPERIMENTAL_DAGGER_GPU_SUPPORT=1` in the engine's environment) can show TensorFlow
listing a GPU; this project's CI host has none, so it is deselected by default (`pytest -m gpu`
on such a host), never faked.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ci.build.layers import build_image
from ci.pipeline.run import build_and_check
from ci.probe.checks import check_gpu_visible, run_checks
from ci.report.model import CheckReport
from tests.e2e import specs

pytestmark = [pytest.mark.engine, pytest.mark.anyio]

GPU_VISIBLE = "GPU visible to TensorFlow"


def host_has_nvidia_gpu() -> bool:
    return Path("/dev/nvidiactl").exists()


@pytest.mark.slow
async def test_gpu_pip_image_builds_and_passes_the_gpu_checks_that_need_no_gpu(
    dagger_client: Any, record_property: Any
) -> None:
    spec = specs.gpu_spec()
    started = time.monotonic()
    (report,) = await build_and_check(spec, specs.options(), service_checks=False)
    took = time.monotonic() - started
    record_property("gpu_build_and_checks_s", round(took))
    print(f"\n[e2e] {spec.tag}: build + checks {took:.0f}s\n{report.render()}")
    assert report.ok, report.render()
    by_name = {r.name: r for r in report.results}
    assert by_name["CUDA compiler (nvcc) matches the CUDA version"].status == "pass"
    assert by_name["cuDNN matches the tag"].status == "pass"
    assert by_name["TensorFlow built with CUDA"].status == "pass"
    # The installed nvidia-* wheels are the pinned ones, and the tag and labels say so (issue 10).
    wheels = by_name["NVIDIA wheels match the pins, tag and labels"]
    assert wheels.status == "pass", wheels.message
    assert "nvidia-cuda-runtime-cu12 12.2.140" in wheels.message
    gpu = by_name[GPU_VISIBLE]
    assert gpu.status == "not-checked"
    assert "NOT checked" in gpu.message


@pytest.mark.slow
async def test_require_gpu_fails_where_no_gpu_is_visible(dagger_client: Any) -> None:
    if host_has_nvidia_gpu():
        pytest.skip("this host has an NVIDIA GPU; test_require_gpu_sees_a_gpu covers it")
    image = build_image(specs.gpu_spec(), specs.options())  # cached by the test above
    report = await run_checks(
        image, specs.gpu_spec(), specs.options(require_gpu=True), CheckReport("gpu"), [check_gpu_visible]
    )
    (result,) = report.results
    assert result.status == "fail", result
    assert result.message.startswith("--require-gpu: ")


@pytest.mark.gpu
async def test_require_gpu_sees_a_gpu(dagger_client: Any) -> None:
    image = build_image(specs.gpu_spec(), specs.options())
    report = await run_checks(
        image, specs.gpu_spec(), specs.options(require_gpu=True), CheckReport("gpu"), [check_gpu_visible]
    )
    (result,) = report.results
    assert result.status == "pass", result


@pytest.mark.slow
async def test_gpu_report_pieces_find_cuda_and_cudnn(dagger_client: Any) -> None:
    """The report's CUDA piece reads what the image really has (the NVIDIA wheels here)."""
    from ci.probe import manifests

    spec = specs.gpu_spec()
    image = build_image(spec, specs.options())  # cached by the first test
    manifest = await manifests.collect(image, spec)
    assert manifest.pieces == [piece.name for piece in manifests.PIECES["gpu"]]
    assert spec.cuda_version is not None
    assert spec.cudnn_version is not None
    assert manifest.versions["cuda"].startswith(spec.cuda_version + ".")
    assert manifest.versions["cuda_from"] == "pip nvidia-cuda-runtime-cu12"
    assert manifest.versions["cudnn"].startswith(spec.cudnn_version + ".")
    assert manifest.notes == []

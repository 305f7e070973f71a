"""GPU (pip CUDA) image on Debian 12: build it and run every GPU check that needs no GPU.

Why slow-marked: tensorflow[and-cuda] pulls ~3 GB of NVIDIA wheels; run it with `pytest -m slow`.
GPU presence itself is not checked here (the host has no GPU), and the report must say so.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from ci.build import build_and_check
from tests.e2e import specs

pytestmark = [pytest.mark.engine, pytest.mark.anyio, pytest.mark.slow]


async def test_gpu_pip_image_builds_and_passes_the_gpu_checks_that_need_no_gpu(
    dagger_client: Any, record_property: Any
) -> None:
    spec = specs.gpu_spec()
    started = time.monotonic()
    report = await build_and_check(spec, specs.options(), service_checks=False)
    took = time.monotonic() - started
    record_property("gpu_build_and_checks_s", round(took))
    print(f"\n[e2e] {spec.tag}: build + checks {took:.0f}s\n{report.render()}")
    assert report.ok, report.render()
    by_name = {r.name: r for r in report.results}
    assert by_name["CUDA compiler (nvcc) matches the CUDA version"].status == "pass"
    assert by_name["cuDNN matches the tag"].status == "pass"
    assert by_name["TensorFlow built with CUDA"].status == "pass"
    gpu = by_name["GPU visible to TensorFlow"]
    assert gpu.status == "not-checked"
    assert "NOT checked" in gpu.message

"""Build orchestration rules that need no engine: summaries, exit codes, errors and the publish gate."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ci.model.spec import ImageSpec
from ci.pipeline.preflight import Publish
from ci.pipeline.publish import export_image, one_line, publish_image
from ci.pipeline.run import describe_exec_error, exit_code, summary
from ci.report.model import CheckReport, CheckResult, failed, passed, tail

pytestmark = pytest.mark.anyio


def test_report_and_exit_codes(spec: ImageSpec) -> None:
    good = CheckReport(
        "a", [passed("x", "fine"), CheckResult("gpu", "not-checked", "GPU presence NOT checked")]
    )
    bad = CheckReport("b", [failed("smoke", "tf.reduce_sum failed")])
    refused = CheckReport("c", [failed("build", "refused")], input_error=True)
    assert exit_code([good]) == 0
    assert exit_code([good, bad]) == 1
    assert exit_code([good, refused]) == 2
    assert exit_code([bad, refused]) == 1
    text = summary([good, bad])
    assert "1 of 2 image(s) FAILED" in text
    assert "b: smoke: tf.reduce_sum failed" in text
    assert "note: a: gpu: GPU presence NOT checked" in text


def test_exec_errors_are_readable() -> None:
    exc = SimpleNamespace(
        command=["bash", "-euo", "pipefail", "-c", "# comment\napt-get update\napt-get install -y foo\n"],
        exit_code=100,
        stderr="\n".join(f"line {i}" for i in range(40)) + "\nE: Unable to locate package foo\n",
        stdout="",
    )
    text = describe_exec_error(exc)  # type: ignore[arg-type]
    assert text.startswith("step `apt-get update ; apt-get install -y foo` exited 100: ")
    assert text.endswith("E: Unable to locate package foo")
    assert "line 10" not in text  # only the last lines
    assert tail("a\n\nb\nc", 2) == "b | c"


async def test_a_failed_image_is_never_published(spec: ImageSpec) -> None:
    report = CheckReport(spec.tag, [failed("smoke", "tf.reduce_sum failed")])
    image: Any = object()  # never touched: the gate is decided before any engine call
    await publish_image([("linux/amd64", image)], spec, Publish("r.example", "r.example/tf"), [report])
    expected = f"r.example/tf:{spec.tag} not published: the image failed its checks"
    assert report.results[-1] == failed("publish", expected)


async def test_an_image_whose_arm64_half_failed_is_published_on_no_platform(spec: ImageSpec) -> None:
    """The amd64 report is clean, the arm64 one is not: neither platform is pushed or exported."""
    amd64 = CheckReport(spec.tag, [passed("tensorflow smoke test", "tf.Tensor(1.0)")], platform="linux/amd64")
    arm64 = CheckReport(spec.tag, platform="linux/arm64")
    arm64.add(failed("tensorflow smoke test", "tf.reduce_sum failed (exit 1)"))
    images: Any = [("linux/amd64", object()), ("linux/arm64", object())]  # never touched
    await publish_image(images, spec, Publish("r.example", "r.example/tf"), [amd64, arm64])
    await export_image(images, Path("/nonexistent/out.tar"), [amd64, arm64])
    for report in (amd64, arm64):
        publish, export = report.results[-2:]
        assert publish.status == export.status == "fail"
        assert "linux/arm64 failed its checks (no platform of the tag is published alone)" in publish.message
        assert publish.platform == report.platform  # the line says which platform's report it is
        assert report.pushed is None
    assert not Path("/nonexistent").exists()


def test_summary_counts_images_and_names_each_platform(spec: ImageSpec) -> None:
    amd64 = CheckReport("t", [passed("build", "ok")], platform="linux/amd64")
    arm64 = CheckReport("t", platform="linux/arm64")
    arm64.add(failed("runs as its platform", "linux/arm64 wants aarch64"))
    text = summary([amd64, arm64])
    assert "t (linux/arm64): FAILED" in text
    assert "[FAIL] [linux/arm64] runs as its platform: linux/arm64 wants aarch64" in text
    assert "1 of 1 image(s) FAILED (2 platform images):" in text
    assert "  t (linux/arm64): runs as its platform: linux/arm64 wants aarch64" in text


def test_engine_errors_become_one_short_line() -> None:
    text = "failed to push r/x:1: unexpected status\n  from HEAD request [traceparent:63aef8-d7b1]\n"
    assert one_line(text) == "failed to push r/x:1: unexpected status from HEAD request"
    assert len(one_line("x" * 1000)) == 300

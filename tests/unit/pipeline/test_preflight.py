"""Build preflight: where exports go, a publish target that never shows its password, the installer."""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path

import pytest

from ci.build import installer
from ci.build.options import BuildOptions
from ci.cli import main
from ci.engine import remote
from ci.model.errors import UserError
from ci.model.spec import ImageSpec
from ci.pipeline.preflight import PreflightFailed, Publish, export_path, fetch_installers
from ci.registry.skopeo import Credentials
from tests.e2e.specs import CPU_CLI_ARGS


def test_export_path(spec: ImageSpec) -> None:
    assert str(export_path("/out/img.tar", spec, False)) == "/out/img.tar"
    assert str(export_path("/out/{tag}.tar", spec, True)) == f"/out/{spec.tag}.tar"
    with pytest.raises(UserError, match=r"put \{tag\}"):
        export_path("/out/img.tar", spec, True)
    gpu = dataclasses.replace(spec, tag="other")
    assert export_path("/o/{tag}.tar", gpu, True).name == "other.tar"


def test_publish_repr_hides_the_password() -> None:
    publish = Publish("r.example", "r.example/tf", Credentials("ci", "s3cret-value"))
    assert "s3cret" not in repr(publish)
    assert "s3cret" not in str(publish)


BUILD = ("build", *CPU_CLI_ARGS)


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (
            ("--report-dir", "/etc/passwd/x"),
            "error: --report-dir /etc/passwd/x: /etc/passwd is not a directory",
        ),
        (
            ("--report-dir", "/tmp/" + "r" * 300),
            f"error: --report-dir /tmp/{'r' * 300}: a name in it is longer than 255 bytes",
        ),
        (
            ("--export", "/tmp/" + "e" * 300 + ".tar"),
            f"error: --export /tmp/{'e' * 300}.tar: a name in it is longer than 255 bytes",
        ),
        (
            ("--base-mirror", "nonsense"),
            "error: --base-mirror 'nonsense': expected REGISTRY=MIRROR, e.g. docker.io=127.0.0.1:5000",
        ),
        (("--base-mirror", "docker.io=not a host"), "error: --base-mirror 'not a host': expected a registry"),
    ],
)
def test_preflight_refuses_what_would_fail_after_the_build(
    extra: tuple[str, ...], line: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, finding 10: `--report-dir /etc/passwd/x` failed after the build (losing index.json),
    `--base-mirror nonsense` passed when no lock file exists, an over-long --export name was an
    OSError traceback."""
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "tcp://127.0.0.1:1")  # never reached
    assert main.main([*BUILD, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(line)


def test_a_ca_that_does_not_load_is_refused_before_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16, finding 10: a "CA" file with one BEGIN line and garbage reached the build."""
    fake = tmp_path / "ca.pem"
    fake.write_text("-----BEGIN CERTIFICATE-----\nthis is not base64\n-----END CERTIFICATE-----\n")
    assert main.main([*BUILD, "--ca-cert", str(fake)]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: --ca-cert {fake}: not a parseable PEM certificate bundle"
    )


def test_a_cache_registry_that_never_answers_is_one_line_in_seconds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16, finding 9: `--cache-to` at a registry that accepts and never answers was 120 s of
    silence, then a TimeoutExpired traceback; now the preflight read fails in one line."""
    monkeypatch.setattr(remote, "CACHE_READ_TIMEOUT_S", 3)
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(8)  # the kernel accepts connections; nobody ever answers
        address = f"127.0.0.1:{blackhole.getsockname()[1]}"
        started = time.monotonic()
        code = main.main([*BUILD, "--cache-to", f"{address}/cache", "--plain-http", address])
    err = capsys.readouterr().err
    assert code == 1
    assert time.monotonic() - started < 20
    assert err.count("\n") == 1, err
    assert err.startswith(f"error: --cache-to: inspect {address}/cache:")
    assert "no answer within 3s" in err


def test_an_installer_that_cannot_be_fetched_stops_the_build_before_the_engine(
    spec: ImageSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[object] = []

    def unreachable(pin: object, ca_bundle: object = None, **kwargs: object) -> None:
        asked.append(pin)
        raise installer.InstallerUnavailable("cannot download the pinned installer https://x.example/uv.whl")

    monkeypatch.setattr(installer, "binary", unreachable)
    with pytest.raises(PreflightFailed, match="pip layers' installer: cannot download"):
        fetch_installers((spec, dataclasses.replace(spec, tag="other")), BuildOptions())
    assert asked == [spec.installer], "one pin, fetched once for every image that shares it"

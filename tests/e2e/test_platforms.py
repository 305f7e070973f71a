"""One CPU image for linux/amd64 and linux/arm64 under one tag: built, checked, published, run.

The build is the real `build` command (tests/e2e/background.py starts it with the first engine
test, so the emulated arm64 half overlaps the rest of the suite); these tests read what it left:
its exit code, index.json, the per-platform reports and SBOMs, the export, and the registry. Then
the image is used the way people use it: `docker pull/run --platform linux/arm64`, `promote`, and
the workflow's `assemble` of per-platform pushes, which must give the very same index digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ci.model.platforms import digest_of, image_index, index_entries
from ci.model.tags import platform_tag
from ci.report.oci import read_image
from tests.conftest import Infra
from tests.e2e import specs
from tests.e2e.background import BackgroundBuild
from tests.e2e.signing import Keys, cli, cosign, make_keys, verify_args

pytestmark = [pytest.mark.engine, pytest.mark.background]

PLATFORMS = ["linux/amd64", "linux/arm64"]
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
DOCKERD = Path(__file__).resolve().parents[2] / "tests" / "infra" / "docker" / "dockerd.sh"
PLAIN = ("--allow-http-registry", "--allow-insecure-registry")  # cosign on the plain-HTTP test registry
SMOKE = "import tensorflow as tf; print(tf.reduce_sum(tf.random.normal([1000, 1000])))"


@pytest.fixture(scope="module")
def built(multi_build: BackgroundBuild) -> Iterator[dict[str, Any]]:
    """The finished build: exit code, output, its index.json entry and the export's path."""
    code, output = multi_build.wait()
    print(f"\n[e2e] multi-platform build finished {multi_build.seconds:.0f}s after it started")
    index = json.loads((multi_build.report_dir / "index.json").read_text()) if code == 0 else {"images": []}
    yield {"code": code, "output": output, "entry": (index["images"] or [None])[0]}
    (multi_build.log.parent / "image.tar").unlink(missing_ok=True)  # about 1 GB; the rest goes at the end


def raw(reference: str, infra: Infra) -> bytes:
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{reference}"],
        capture_output=True, check=True,
    )  # fmt: skip
    return done.stdout


def test_both_platforms_are_built_checked_and_published_as_one_index(
    built: dict[str, Any], multi_build: BackgroundBuild, infra: Infra
) -> None:
    assert built["code"] == 0, built["output"][-6000:]
    spec = specs.multi_spec()
    entry = built["entry"]
    assert entry["tag"] == spec.tag
    assert entry["ok"] is True
    assert [p["platform"] for p in entry["platforms"]] == PLATFORMS
    for platform in PLATFORMS:  # every check line names its platform; each passed on both
        checks = {c["name"]: c for c in entry["checks"] if c["platform"] == platform}
        assert checks["tensorflow smoke test"]["status"] == "pass", checks["tensorflow smoke test"]
        assert "tf.Tensor(" in checks["tensorflow smoke test"]["message"]
        assert checks["runs as its platform"]["status"] == "pass"
        assert MACHINES[platform] in checks["runs as its platform"]["message"]
        assert checks["versions match the tag"]["status"] == "pass"
        assert checks["publish"]["status"] == "pass"
        timings = json.loads(
            (multi_build.report_dir / entry["platforms"][PLATFORMS.index(platform)]["report"]).read_text()
        )
        print(f"[e2e] {platform}: {json.dumps(timings['timings'])}")
    assert all(c["platform"] in PLATFORMS for c in entry["checks"])
    assert "emulated on this linux/amd64 engine" in next(
        c["message"] for c in entry["checks"] if c["name"] == "build" and c["platform"] == "linux/arm64"
    )

    # The registry holds one OCI image index under the tag, its platforms in the canonical order,
    # and its digest is the one index.json hands to promote.
    pushed = entry["pushed"]
    index = raw(f"{multi_build.repository}:{spec.tag}", infra)
    assert json.loads(index)["mediaType"] == "application/vnd.oci.image.index.v1+json"
    listed = index_entries(index)
    assert [e.platform for e in listed] == PLATFORMS
    assert digest_of(index) == pushed["digest"] == entry["digest"]
    assert {e.platform: e.digest for e in listed} == pushed["platforms"]
    # Each platform's pushed manifest is the one its report describes (exported = published).
    assert {p["platform"]: p["digest"] for p in entry["platforms"]} == pushed["platforms"]
    # The export is the same image index, byte for byte (canonical order there too).
    tarball = multi_build.log.parent / "image.tar"
    exported = [read_image(tarball, platform=p, measure_uncompressed=False) for p in PLATFORMS]
    assert [image.digest for image in exported] == [pushed["platforms"][p] for p in PLATFORMS]
    assert [image.platform for image in exported] == PLATFORMS
    assert digest_of(image_index(listed)) == pushed["digest"]  # it is the canonical index

    # One report and one SBOM per platform, each naming its own architecture and manifest.
    for platform, item in zip(PLATFORMS, entry["platforms"], strict=True):
        sbom = json.loads((multi_build.report_dir / item["sbom"]).read_text())
        component = sbom["metadata"]["component"]
        assert f"arch={platform.split('/')[1]}" in component["purl"]
        assert pushed["platforms"][platform].removeprefix("sha256:") in component["purl"]
        assert item["versions"]["tensorflow"] == "2.21.0"


def test_docker_runs_the_arm64_half_of_the_pulled_tag(
    built: dict[str, Any], multi_build: BackgroundBuild
) -> None:
    """`docker pull/run --platform linux/arm64` on this amd64 machine (qemu's binfmt handler)."""
    assert built["code"] == 0, built["output"][-3000:]
    reference = f"{multi_build.repository}:{specs.multi_spec().tag}"
    subprocess.run(["bash", str(DOCKERD), "start"], check=True)
    env = {**os.environ, "DOCKER_HOST": subprocess.run(
        ["bash", str(DOCKERD), "env"], capture_output=True, text=True, check=True
    ).stdout.strip().partition("=")[2]}  # fmt: skip
    try:
        docker = ["docker"]
        subprocess.run([*docker, "pull", "-q", "--platform", "linux/arm64", reference], env=env, check=True)
        arch = subprocess.run(
            [*docker, "image", "inspect", "--format", "{{.Architecture}}", reference],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert arch == "arm64"
        run = subprocess.run(
            [*docker, "run", "--rm", "--platform", "linux/arm64", "--network", "none", reference,
             "bash", "-c", f"uname -m; /opt/python/bin/python -c '{SMOKE}'"],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.splitlines()[0] == "aarch64"
        assert "tf.Tensor(" in run.stdout
        print(f"\n[e2e] docker run --platform linux/arm64: {run.stdout.strip().splitlines()[-1]}")
    finally:
        subprocess.run(["bash", str(DOCKERD), "destroy"], check=False)


@pytest.fixture(scope="module")
def keys(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(infra, tmp_path_factory.mktemp("cosign"))


def test_the_index_is_signed_and_promoted_with_both_platforms_verified(
    built: dict[str, Any], multi_build: BackgroundBuild, infra: Infra, keys: Keys, tmp_path: Path
) -> None:
    """`sign` signs the index digest (check results on it, each platform's SBOM on its manifest);
    promote verifies all of that, gates every platform's SBOM, and copies the index whole."""
    assert built["code"] == 0, built["output"][-3000:]
    pushed = built["entry"]["pushed"]
    results = str(multi_build.report_dir / "index.json")
    signed = cli("sign", "--results", results, "--key", str(keys.private), "--plain-http", infra.registry,
                 env={"COSIGN_PASSWORD": keys.password})  # fmt: skip
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert f"signed {multi_build.repository}@{pushed['digest']}: signature, SBOM" in signed.stdout
    for platform, digest in pushed["platforms"].items():  # each platform's SBOM, attested on its manifest
        pinned = f"{multi_build.repository}@{digest}"
        attest = ("verify-attestation", *verify_args(keys), *PLAIN, "--type", "cyclonedx", pinned)
        sbom = cosign(infra, keys, None, *attest)
        assert sbom.returncode == 0, f"{platform}: {sbom.stderr}"

    release = f"{infra.registry}/tfci-e2e/platforms-release-{secrets.token_hex(4)}"
    done = cli(
        "promote", "--results", results, "--to", release, "--plain-http", infra.registry,
        "--journal", str(tmp_path / "journal.json"), "--verify-key", str(keys.public),
        "--waivers", str(multi_build.waivers),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"verified      {multi_build.repository}@{pushed['digest']}" in done.stdout
    index = raw(f"{release}:{specs.multi_spec().tag}", infra)
    assert digest_of(index) == pushed["digest"]
    assert [e.platform for e in index_entries(index)] == PLATFORMS
    # The evidence travelled: the release index verifies with the same key.
    found = cosign(infra, keys, None, "verify", *verify_args(keys), *PLAIN, f"{release}@{pushed['digest']}")
    assert found.returncode == 0, found.stderr


def test_assemble_of_per_platform_pushes_gives_the_same_index(
    built: dict[str, Any], multi_build: BackgroundBuild, infra: Infra, tmp_path: Path
) -> None:
    """The workflow's path: each platform pushed alone (its own runner), then `assemble`."""
    assert built["code"] == 0, built["output"][-3000:]
    entry = built["entry"]
    tag = entry["tag"]
    staging = f"{infra.registry}/tfci-e2e/platforms-assemble-{secrets.token_hex(4)}"
    results = []
    for item in entry["platforms"]:
        platform, digest = item["platform"], item["digest"]
        pushed_tag = platform_tag(tag, platform)
        tls = ["--src-tls-verify=false", "--dest-tls-verify=false"]
        source, target = f"docker://{multi_build.repository}@{digest}", f"docker://{staging}:{pushed_tag}"
        subprocess.run(["skopeo", "copy", "-q", "--preserve-digests", *tls, source, target], check=True)
        checks = [c for c in entry["checks"] if c["platform"] == platform]
        pushed = {"repository": staging, "tag": pushed_tag, "digest": digest, "platforms": {platform: digest}}
        one = {
            **entry,
            "tags": [tag],
            "checks": checks,
            "platforms": [item],
            "digest": digest,
            "pushed": pushed,
        }
        path = tmp_path / platform.replace("/", "-") / "index.json"  # a job's whole report directory
        shutil.copytree(multi_build.report_dir, path.parent)
        path.write_text(json.dumps({"schema": 1, "images": [one]}))
        results.append(str(path))

    # One platform failed: no index under the tag, exit 1 (nothing half-published).
    failed = json.loads(Path(results[1]).read_text())
    failed["images"][0]["ok"] = False
    bad = Path(results[1]).with_name("failed.json")  # beside its files
    bad.write_text(json.dumps(failed))
    done = cli("assemble", "--results", results[0], str(bad), "--out", str(tmp_path / "bad"),
               "--plain-http", infra.registry)  # fmt: skip
    assert done.returncode == 1
    assert "linux/arm64 failed its checks" in done.stderr
    missing = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{staging}:{tag}"], capture_output=True
    )
    assert missing.returncode != 0

    done = cli(
        "assemble", "--results", *results, "--out", str(tmp_path / "run"), "--plain-http", infra.registry
    )
    assert done.returncode == 0, done.stdout + done.stderr
    index = raw(f"{staging}:{tag}", infra)
    assert digest_of(index) == entry["pushed"]["digest"], "the same index as the one-session build"
    (merged,) = json.loads((tmp_path / "run" / "index.json").read_text())["images"]
    assert merged["pushed"]["digest"] == entry["pushed"]["digest"]
    assert [p["platform"] for p in merged["platforms"]] == PLATFORMS
    assert merged["ok"] is True
    assert hashlib.sha256(index).hexdigest() in merged["pushed"]["digest"]

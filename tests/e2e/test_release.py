"""The release path on registries that behave like GHCR: build --publish, sign, promote the tested digests.

Why against tests/infra/registry/realistic.sh: real registries speak TLS, hand out scoped bearer
tokens from a separate token service and redirect blob GETs to a storage host. Only against such a
registry can a test show that a credential reaches its own registry and token service and nothing
else (the token services log every account that asks; the storage hosts log whether a request
carried an Authorization header), that digests survive promotion byte for byte, and what a release
engineer sees when a registry fails half way.

The one CPU image of these tests is built once (the `published` fixture: the vulnerability gate
passes with a waiver), signed and attested with a cosign key pair, and promoted; promote must refuse
an unsigned copy, a tampered attestation, a signed failed-check predicate and an expired waiver, each
in one line with nothing copied. A second build of the same (cached) image shows the gate failing.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ci.model.refs import parse as parse_reference
from ci.model.spec import ImageSpec
from ci.registry.skopeo import Credentials, Registries
from ci.table.load import load_table
from ci.table.resolve import resolve_targets
from tests.conftest import Infra, TokenRegistry
from tests.e2e import specs
from tests.e2e.signing import Keys, cli, cosign, make_keys, verify_args, waivers

pytestmark = [pytest.mark.engine]

CHECK_RESULTS = "urn:tfimages:check-results:v1"
NO_VERIFY = "warning: --no-verify: copying without checking signatures, attestations or vulnerabilities"
SBOM = "https://cyclonedx.org/bom"


def registries(infra: Infra, *logins: TokenRegistry) -> Registries:
    """The product's skopeo client, logged in to the given registries, to read the registries' state."""
    client = Registries(ca_bundle=infra.registry_ca, plain_http=frozenset({infra.registry}))
    for registry in logins:
        client.login(registry.address, Credentials(registry.user, registry.password))
    return client


def accounts(log: Path, since: int) -> set[str]:
    """Accounts that asked this token service for a token after byte offset `since` of its log."""
    with log.open() as stream:
        stream.seek(since)
        return {json.loads(line).get("account", "") for line in stream if line.strip().startswith("{")}


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def assert_storage_saw_no_credentials(infra: Infra) -> None:
    for registry in (infra.staging, infra.release):
        text = registry.storage_log.read_text() if registry.storage_log.exists() else ""
        assert "auth=PRESENT" not in text, (
            f"{registry.address}'s storage host received an Authorization header"
        )


TODAY = datetime.date.today()


@pytest.fixture(scope="module")
def keys(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(infra, tmp_path_factory.mktemp("cosign"))


@dataclass(frozen=True)
class Published:
    repository: str
    report_dir: Path
    log_dir: Path
    output: str
    digest: str
    sign_output: str
    sign_seconds: float


@pytest.fixture(scope="module")
def published(infra: Infra, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """`build --publish` of the CPU image to the token-auth staging registry, with a results file,
    gated at HIGH with the TEST DATA advisory waived; then `sign` signs and attests it there."""
    tmp = tmp_path_factory.mktemp("release")
    repository = f"{infra.staging.address}/tfci-e2e/staging-{secrets.token_hex(4)}"
    report_dir, log_dir = tmp / "report", tmp / "logs"
    valid = waivers(tmp / "waivers.yaml", TODAY + datetime.timedelta(days=30))
    done = cli(
        "build", *specs.CPU_CLI_ARGS, "--ca-cert", str(infra.ca_bundle), "--skip-service-checks",
        "--publish", repository, "--registry-user", infra.staging.user,
        "--registry-ca-cert", str(infra.registry_ca), "--report-dir", str(report_dir),
        "--vuln-gate", "HIGH", "--waivers", str(valid),
        env={"REGISTRY_PASSWORD": infra.staging.password, "TFCI_LOG_DIR": str(log_dir)},
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    index = json.loads((report_dir / "index.json").read_text())
    (image,) = index["images"]
    assert image["ok"] is True
    assert image["pushed"]["repository"] == repository
    started = time.monotonic()
    signed = cli(
        "sign", "--results", str(report_dir / "index.json"), "--key", str(keys.private),
        "--registry-user", infra.staging.user, "--registry-ca-cert", str(infra.registry_ca),
        env={"REGISTRY_PASSWORD": infra.staging.password, "COSIGN_PASSWORD": keys.password},
    )  # fmt: skip
    took = time.monotonic() - started
    assert signed.returncode == 0, signed.stdout + signed.stderr
    return Published(
        repository,
        report_dir,
        log_dir,
        output,
        image["pushed"]["digest"],
        signed.stdout + signed.stderr,
        took,
    )


def test_publish_to_a_token_registry_records_the_pushed_digest(infra: Infra, published: Published) -> None:
    spec = specs.cpu_spec()
    with registries(infra, infra.staging) as client:
        assert client.digest(parse_reference(f"{published.repository}:{spec.tag}")) == published.digest
    index = json.loads((published.report_dir / "index.json").read_text())
    (image,) = index["images"]
    assert image["tag"] == spec.tag
    assert image["tags"] == [spec.tag]
    assert image["pushed"] == {
        "repository": published.repository,
        "tag": spec.tag,
        "digest": published.digest,
        "platforms": {"linux/amd64": published.digest},
    }
    assert {"name": "build", "status": "pass"}.items() <= image["checks"][0].items()
    # The gate passed because the TEST DATA advisory is waived (until a month from now).
    checks = {c["name"]: c for c in image["checks"]}
    assert checks["vulnerabilities"]["status"] == "pass"
    assert checks["vulnerabilities"]["message"] == "gate HIGH passed: 1 high, 1 medium, 1 unknown, 1 waived"
    assert image["vulnerabilities"]["top"][0]["waiver"] == "waived"
    # The secret is nowhere: not in the output, not in the engine's progress log (0600).
    password = infra.staging.password
    assert password not in published.output
    logs = list(published.log_dir.glob("dagger-*.log"))
    assert logs, "the session wrote no progress log"
    for log in logs:
        assert password not in log.read_text(errors="replace")
        assert log.stat().st_mode & 0o077 == 0, f"{log} is readable by others"
    assert_storage_saw_no_credentials(infra)


def test_the_signature_and_both_attestations_verify_in_staging(
    infra: Infra, keys: Keys, published: Published
) -> None:
    """What `sign` left in the token-auth staging registry, checked with cosign as a user would."""
    assert f"signed {published.repository}@{published.digest}: signature, SBOM and check-results" in (
        published.sign_output
    )
    assert keys.password not in published.sign_output
    assert infra.staging.password not in published.sign_output
    print(f"\n[e2e] sign + 2 attests (one CLI run): {published.sign_seconds:.1f}s")
    pinned = f"{published.repository}@{published.digest}"
    assert cosign(infra, keys, infra.staging, "verify", *verify_args(keys), pinned).returncode == 0
    checks = cosign(
        infra, keys, infra.staging, "verify-attestation", *verify_args(keys), "--type", CHECK_RESULTS, pinned
    )
    assert checks.returncode == 0, checks.stderr
    (line,) = checks.stdout.splitlines()
    statement = json.loads(base64.b64decode(json.loads(line)["payload"]))
    predicate = statement["predicate"]
    assert statement["subject"][0]["digest"] == {"sha256": published.digest.removeprefix("sha256:")}
    assert (predicate["image"], predicate["digest"], predicate["status"]) == (
        specs.cpu_spec().tag, published.digest, "passed",
    )  # fmt: skip
    assert len(predicate["commit"].removesuffix("-dirty")) == 40
    assert {"name", "status", "seconds", "message"} <= predicate["checks"][1].keys()
    assert predicate["row"]["tag"] == specs.cpu_spec().tag
    sbom = cosign(
        infra, keys, infra.staging, "verify-attestation", *verify_args(keys), "--type", "cyclonedx", pinned
    )
    assert sbom.returncode == 0, sbom.stderr
    attested = json.loads(base64.b64decode(json.loads(sbom.stdout.splitlines()[0])["payload"]))["predicate"]
    written = json.loads((published.report_dir / specs.cpu_spec().tag / "sbom.cdx.json").read_text())
    assert attested["metadata"]["component"] == written["metadata"]["component"]
    assert len(attested["components"]) == len(written["components"])


def _promote_args(
    infra: Infra, keys: Keys, release: str, journal: Path, waiver_file: Path, source: str
) -> tuple[str, ...]:
    """Source credentials only with --from (issue 16): the registry they belong to is named."""
    return (
        "--to", release, "--from", source, "--from-user", infra.staging.user, "--to-user", infra.release.user,
        "--registry-ca-cert", str(infra.registry_ca), "--journal", str(journal),
        "--verify-key", str(keys.public), "--waivers", str(waiver_file),
    )  # fmt: skip


PROMOTE_ENV = ("FROM_REGISTRY_PASSWORD", "TO_REGISTRY_PASSWORD")


def _env(infra: Infra) -> dict[str, str]:
    return dict(zip(PROMOTE_ENV, (infra.staging.password, infra.release.password), strict=True))


def test_promote_results_copies_the_tested_digest_with_separate_credentials(
    infra: Infra, keys: Keys, published: Published, tmp_path: Path
) -> None:
    release = f"{infra.release.address}/tfci-e2e/release-{secrets.token_hex(4)}"
    staging_log, release_log = size(infra.staging.token_log), size(infra.release.token_log)
    journal = tmp_path / "journal.json"
    valid = waivers(tmp_path / "waivers.yaml", TODAY + datetime.timedelta(days=30))
    args = (
        "promote", "--results", str(published.report_dir / "index.json"),
        *_promote_args(infra, keys, release, journal, valid, published.repository),
    )  # fmt: skip
    env = _env(infra)
    started = time.monotonic()
    done = cli(*args, env=env, timeout=600)
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    print(f"\n[e2e] promote with verification, evidence copied and verified in release: {took:.1f}s")
    assert f"verified      {published.repository}@{published.digest}: signature, SBOM and check-results" in (
        done.stdout
    )
    entries = json.loads(journal.read_text())["entries"]
    evidence = f"{release} (signature, SBOM and check-results attestations)"
    assert [(e["target"], e["outcome"]) for e in entries] == [
        (f"{release}:{specs.cpu_spec().tag}", "moved"),
        (evidence, "moved"),
    ]
    with registries(infra, infra.release) as client:
        assert client.digest(parse_reference(f"{release}:{specs.cpu_spec().tag}")) == published.digest
    # What a user runs on the release repository: the signature and both attestations verify there.
    pinned = f"{release}@{published.digest}"
    for argv in (
        ("verify",),
        ("verify-attestation", "--type", "cyclonedx"),
        ("verify-attestation", "--type", CHECK_RESULTS),
    ):
        found = cosign(infra, keys, infra.release, argv[0], *verify_args(keys), *argv[1:], pinned)
        assert found.returncode == 0, f"cosign {' '.join(argv)}: {found.stderr}"
    # Each credential reached its own token service only; the storage hosts saw none.
    assert infra.release.user not in accounts(infra.staging.token_log, staging_log)
    assert infra.staging.user not in accounts(infra.release.token_log, release_log)
    assert infra.staging.user in accounts(infra.staging.token_log, staging_log)
    assert infra.release.user in accounts(infra.release.token_log, release_log)
    assert_storage_saw_no_credentials(infra)
    assert infra.staging.password not in output
    assert infra.release.password not in output
    # Idempotent: a second run finds everything in place.
    again = cli(*args, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    assert [e["outcome"] for e in json.loads(journal.read_text())["entries"]] == ["already there"] * 2


def copy_image(infra: Infra, published: Published, repository: str) -> str:
    """The tested image under another staging repository, by skopeo: its signatures stay behind."""
    with registries(infra, infra.staging) as client:
        tested = parse_reference(f"{published.repository}@{published.digest}")
        client.copy(tested, parse_reference(f"{repository}:{specs.cpu_spec().tag}"))
    return f"{repository}@{published.digest}"


def bundles(infra: Infra, keys: Keys, published: Published) -> dict[str, dict[str, object]]:
    """The published image's Sigstore bundles by predicate type (signature, SBOM, check results)."""
    done = cosign(
        infra, keys, infra.staging, "download", "attestation", f"{published.repository}@{published.digest}"
    )
    assert done.returncode == 0, done.stderr
    found = {}
    for line in done.stdout.splitlines():
        bundle = json.loads(line)
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        found[statement["predicateType"]] = bundle
    assert len(found) == 3, sorted(found)
    return found


def attach(infra: Infra, keys: Keys, pinned: str, bundle: dict[str, object], path: Path) -> None:
    path.write_text(json.dumps(bundle))
    done = cosign(infra, keys, infra.staging, "attach", "attestation", "--attestation", str(path), pinned)
    assert done.returncode == 0, done.stderr


def results_for(published: Published, repository: str, path: Path) -> Path:
    """The build's index.json, as if it had pushed to `repository`."""
    index = json.loads((published.report_dir / "index.json").read_text())
    index["images"][0]["pushed"]["repository"] = repository
    path.write_text(json.dumps(index))
    return path


def test_promote_refuses_a_missing_tested_digest_and_warns_about_a_moved_tag(
    infra: Infra, keys: Keys, published: Published, tmp_path: Path
) -> None:
    index = json.loads((published.report_dir / "index.json").read_text())
    release = f"{infra.release.address}/tfci-e2e/missing-{secrets.token_hex(4)}"
    valid = waivers(tmp_path / "waivers.yaml", TODAY + datetime.timedelta(days=30))

    def common(source: str) -> tuple[str, ...]:
        return _promote_args(infra, keys, release, tmp_path / "j.json", valid, source)

    env = _env(infra)

    gone = json.loads(json.dumps(index))
    gone["images"][0]["pushed"]["digest"] = "sha256:" + "0" * 64
    (tmp_path / "gone.json").write_text(json.dumps(gone))
    done = cli("promote", "--results", str(tmp_path / "gone.json"), *common(published.repository), env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith("error: promote: nothing promoted: tested digest(s) missing from staging:")
    assert done.stderr.count("\n") == 1
    with registries(infra, infra.release) as client:
        assert client.digest(parse_reference(f"{release}:{specs.cpu_spec().tag}")) is None

    # Someone pushes over the staging tag after the build: promote still copies the tested digest
    # (signed there too: its bundles were carried along, as promote itself does).
    moved_repo = f"{infra.staging.address}/tfci-e2e/moved-{secrets.token_hex(4)}"
    tag = specs.cpu_spec().tag
    pinned = copy_image(infra, published, moved_repo)
    for number, bundle in enumerate(bundles(infra, keys, published).values()):
        attach(infra, keys, pinned, bundle, tmp_path / f"bundle-{number}.json")
    with registries(infra, infra.staging) as client:
        base = parse_reference(f"{infra.registry}/library/debian:bookworm")
        base_digest = client.digest(base)
        assert base_digest is not None
        client.copy(base.with_digest(base_digest), parse_reference(f"{moved_repo}:{tag}"))
    done = cli(
        "promote",
        "--results",
        str(results_for(published, moved_repo, tmp_path / "moved.json")),
        *common(moved_repo),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert f"warning: {moved_repo}:{tag} has moved since the build" in done.stderr
    with registries(infra, infra.release) as client:
        assert client.digest(parse_reference(f"{release}:{tag}")) == published.digest


def test_the_gate_fails_the_build_once_the_waiver_has_expired_and_nothing_is_pushed(
    infra: Infra, published: Published, tmp_path: Path
) -> None:
    """The same (cached) image, gated at HIGH with the waiver that let it pass now expired."""
    repository = f"{infra.staging.address}/tfci-e2e/gated-{secrets.token_hex(4)}"
    expired = waivers(tmp_path / "waivers.yaml", TODAY - datetime.timedelta(days=1))
    started = time.monotonic()
    done = cli(
        "build", *specs.CPU_CLI_ARGS, "--ca-cert", str(infra.ca_bundle), "--skip-service-checks",
        "--publish", repository, "--registry-user", infra.staging.user,
        "--registry-ca-cert", str(infra.registry_ca), "--report-dir", str(tmp_path / "report"),
        "--vuln-gate", "high", "--waivers", str(expired),
        env={"REGISTRY_PASSWORD": infra.staging.password},
    )  # fmt: skip
    print(f"\n[e2e] cached build, export, SBOM and gate: {time.monotonic() - started:.0f}s")
    assert done.returncode == 1, done.stdout + done.stderr
    tag = specs.cpu_spec().tag
    named = f"  {tag} (linux/amd64): "  # every summary line names the image's platform (issue 17)
    failures = [line for line in done.stdout.splitlines() if line.startswith(named)]
    assert failures == [
        f"{named}vulnerabilities: gate HIGH FAILED: 1 unwaived finding(s) at or above HIGH, e.g. "
        f"TFCI-TEST-2026-0001 HIGH in openssl {openssl_version(published)} (waiver expired {expired_day()})",
        f"{named}publish: {repository}:{tag} not published: the image failed its checks",
    ], done.stdout
    (image,) = json.loads((tmp_path / "report" / "index.json").read_text())["images"]
    assert (image["ok"], image["pushed"]) == (False, None)
    assert image["vulnerabilities"]["top"][0]["waiver"] == "waiver expired"
    with registries(infra, infra.staging) as client:
        assert client.digest(parse_reference(f"{repository}:{tag}")) is None


def openssl_version(published: Published) -> str:
    """The version of Debian's openssl source package in the image (the fixture matched it)."""
    index = json.loads((published.report_dir / "index.json").read_text())
    top = index["images"][0]["vulnerabilities"]["top"]
    return str(next(f["version"] for f in top if f["package"] == "openssl"))


def expired_day() -> datetime.date:
    return TODAY - datetime.timedelta(days=1)


def test_promote_refuses_unverifiable_images_in_one_line_and_copies_nothing_of_them(
    infra: Infra, keys: Keys, published: Published, tmp_path: Path
) -> None:
    """An unsigned copy, a tampered check-results attestation, a signed predicate saying a check
    failed, and the genuine image without its waiver and once its waiver has expired (the gate
    re-evaluated as of today): each refused in one line, nothing copied."""
    run = secrets.token_hex(4)
    found = bundles(infra, keys, published)
    signature, sbom, checks = (found[t] for t in ("https://sigstore.dev/cosign/sign/v1", SBOM, CHECK_RESULTS))
    cases: dict[str, tuple[str, str, Path]] = {}  # name -> (repository, expected reason, waivers)
    valid = waivers(tmp_path / "valid.yaml", TODAY + datetime.timedelta(days=30))

    unsigned = f"{infra.staging.address}/tfci-e2e/unsigned-{run}"
    copy_image(infra, published, unsigned)
    cases["unsigned"] = (unsigned, "cosign verify: no signatures found (cosign exit 10)", valid)

    tampered = f"{infra.staging.address}/tfci-e2e/tampered-{run}"
    pinned = copy_image(infra, published, tampered)
    attach(infra, keys, pinned, signature, tmp_path / "sig.json")
    attach(infra, keys, pinned, sbom, tmp_path / "sbom.json")
    envelope = dict(checks["dsseEnvelope"])  # type: ignore[call-overload]
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["commit"] = "0" * 40  # the lie; the signature is the genuine one
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    attach(infra, keys, pinned, {**checks, "dsseEnvelope": envelope}, tmp_path / "tampered.json")
    cases["tampered"] = (tampered, f"verify-attestation {CHECK_RESULTS}: ", valid)

    failed = f"{infra.staging.address}/tfci-e2e/failedcheck-{run}"
    pinned = copy_image(infra, published, failed)
    attach(infra, keys, pinned, signature, tmp_path / "sig2.json")
    attach(infra, keys, pinned, sbom, tmp_path / "sbom2.json")
    predicate = json.loads(base64.b64decode(checks["dsseEnvelope"]["payload"]))["predicate"]  # type: ignore[index]
    smoke = next(c for c in predicate["checks"] if c["name"] == "tensorflow smoke test")
    smoke["status"] = "fail"
    (tmp_path / "failed.json").write_text(json.dumps(predicate))
    config = tmp_path / "signing-config.json"  # no transparency log, as `sign --key` does
    assert cosign(infra, keys, None, "signing-config", "create", "--out", str(config)).returncode == 0
    done = cosign(
        infra, keys, infra.staging, "attest", "--yes", "--key", str(keys.private),
        "--signing-config", str(config), "--type", CHECK_RESULTS,
        "--predicate", str(tmp_path / "failed.json"), pinned,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cases["failed check"] = (failed, "check results say failed: tensorflow smoke test", valid)

    none = tmp_path / "none.yaml"
    none.write_text("waivers: []\n")
    gate = (
        "vulnerabilities: gate HIGH FAILED: 1 unwaived finding(s) at or above HIGH, e.g. TFCI-TEST-2026-0001"
    )
    cases["no waiver"] = (
        published.repository,
        f"{gate} HIGH in openssl {openssl_version(published)} (as of",
        none,
    )
    expired = waivers(tmp_path / "expired.yaml", TODAY - datetime.timedelta(days=1))
    cases["expired waiver"] = (
        published.repository,
        "vulnerabilities: gate HIGH FAILED: 1 unwaived finding(s) at or above HIGH, e.g. "
        f"TFCI-TEST-2026-0001 HIGH in openssl {openssl_version(published)} (waiver expired "
        f"{expired_day()}) (as of {TODAY})",
        expired,
    )

    tag = specs.cpu_spec().tag
    for name, (repository, reason, waiver_file) in cases.items():
        release = f"{infra.release.address}/tfci-e2e/refused-{name.replace(' ', '-')}-{run}"
        journal = tmp_path / f"{name}.json"
        results = results_for(published, repository, tmp_path / f"{name}-index.json")
        done = cli(
            "promote",
            "--results",
            str(results),
            *_promote_args(infra, keys, release, journal, waiver_file, repository),
            env=_env(infra),
        )
        assert done.returncode == 1, f"{name}: {done.stdout}{done.stderr}"
        assert done.stderr.count("\n") == 1, f"{name}: {done.stderr}"
        assert done.stderr.startswith("error: promote: 1 image(s) refused, nothing of them copied"), (
            done.stderr
        )
        (refused,) = [line for line in done.stdout.splitlines() if line.startswith("refused")]
        assert refused.startswith(f"refused       {release}:{tag} @ {published.digest}: "), refused
        assert reason in refused, f"{name}: {refused}"
        (entry,) = json.loads(journal.read_text())["entries"]
        assert entry["outcome"] == "refused"
        with registries(infra, infra.release) as client:
            assert client.digest(parse_reference(f"{release}:{tag}")) is None, f"{name}: a tag was copied"
            assert client.digest(parse_reference(f"{release}@{published.digest}")) is None, name
    assert_storage_saw_no_credentials(infra)


def _alias_target() -> ImageSpec:
    """A target with at least four tags (primary + aliases), for tag-by-tag journals."""
    return max(
        (s for s in resolve_targets(load_table()) if s.variant == "cpu"), key=lambda s: len(s.all_tags)
    )


def _selectors(spec: ImageSpec) -> list[str]:
    """The CLI selectors that name exactly this target."""
    return ["--tf", spec.tf_version, "--python", spec.python_version, "--variant", "cpu", "--os", spec.os_id]


def _stage_small_image(infra: Infra, repository: str, tag: str) -> str:
    """A small stand-in under a real tag (promotion does not look inside): debian from the mirror."""
    with registries(infra) as client:
        base = parse_reference(f"{infra.registry}/library/debian:bookworm")
        digest = client.digest(base)
        assert digest is not None
        return client.copy(base.with_digest(digest), parse_reference(f"{repository}:{tag}"))


def test_promote_on_plain_registries_moves_aliases(infra: Infra, tmp_path: Path) -> None:
    spec = _alias_target()
    run = secrets.token_hex(4)
    staging, release = f"{infra.registry}/tfci/staging-{run}", f"{infra.registry}/tfci/release-{run}"
    digest = _stage_small_image(infra, staging, spec.tag)
    selectors = _selectors(spec)
    done = cli(
        "promote", *selectors, "--from", staging, "--to", release, "--plain-http", infra.registry,
        "--journal", str(tmp_path / "j.json"), "--no-verify",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    moved = [line for line in done.stdout.splitlines() if line.startswith("moved ")]
    assert len(moved) == len(spec.all_tags), done.stdout
    with registries(infra) as client:
        for tag in spec.all_tags:
            assert client.digest(parse_reference(f"{release}:{tag}")) == digest


def test_a_failure_on_the_third_tag_is_journaled_and_a_rerun_completes(infra: Infra, tmp_path: Path) -> None:
    spec = _alias_target()
    assert len(spec.all_tags) >= 4, spec.all_tags
    run = secrets.token_hex(4)
    staging = f"{infra.registry}/tfci/staging-{run}"
    release = f"{infra.release_front}/tfci-e2e/faulty-{run}"
    digest = _stage_small_image(infra, staging, spec.tag)
    selectors = _selectors(spec)
    journal = tmp_path / "journal.json"
    args = (
        "promote", *selectors, "--from", staging, "--to", release, "--plain-http", infra.registry,
        "--to-user", infra.release.user, "--registry-ca-cert", str(infra.registry_ca),
        "--journal", str(journal), "--no-verify",
    )  # fmt: skip
    env = {"TO_REGISTRY_PASSWORD": infra.release.password}
    third = spec.all_tags[2]
    fault = infra.release_faults / third
    fault.touch()
    try:
        done = cli(*args, env=env)
    finally:
        fault.unlink()
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith(f"{NO_VERIFY}\n")
    errors = done.stderr.removeprefix(f"{NO_VERIFY}\n")
    assert errors.count("\n") == 1, done.stderr
    assert "2 moved, 0 already there, 1 failed" in errors
    assert str(journal) in done.stderr
    outcomes = [
        (e["target"].rsplit(":", 1)[1], e["outcome"]) for e in json.loads(journal.read_text())["entries"]
    ]
    expected = ["moved", "moved", "failed"] + ["not attempted"] * (len(spec.all_tags) - 3)
    assert outcomes == list(zip(spec.all_tags, expected, strict=True))
    assert f"failed        {release}:{third}" in done.stdout

    rerun = cli(*args, env=env)
    assert rerun.returncode == 0, rerun.stderr
    rerun_outcomes = [e["outcome"] for e in json.loads(journal.read_text())["entries"]]
    assert rerun_outcomes == ["already there", "already there"] + ["moved"] * (len(spec.all_tags) - 2)
    with registries(infra, infra.release) as client:
        for tag in spec.all_tags:
            assert (
                client.digest(parse_reference(f"{infra.release.address}/tfci-e2e/faulty-{run}:{tag}"))
                == digest
            )


def test_wrong_password_fails_in_seconds_before_any_build(infra: Infra) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    started = time.monotonic()
    done = cli(
        "build", *specs.CPU_CLI_ARGS, "--publish", f"{infra.staging.address}/tfci-e2e/denied",
        "--registry-user", infra.staging.user, "--registry-ca-cert", str(infra.registry_ca),
        env={"REGISTRY_PASSWORD": wrong},
    )  # fmt: skip
    took = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert took < 30, f"the preflight took {took:.0f}s"
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: --publish {infra.staging.address}/tfci-e2e/denied: login to ")
    assert "[build]" not in done.stderr, "a build started despite a rejected password"
    assert wrong not in done.stdout + done.stderr


def test_unreachable_registry_fails_in_seconds(infra: Infra) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    done = cli(
        "build", *specs.CPU_CLI_ARGS, "--publish", f"127.0.0.1:{port}/x", "--plain-http", f"127.0.0.1:{port}"
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "connection refused" in done.stderr


class ThrowawayRegistry:
    """A fresh Distribution registry on a free loopback port, for one test.

    Why not a shared one: the engine remembers where it pushed each blob and mounts it from there
    instead of uploading it again, so only a registry this engine has never pushed to guarantees a
    real multi-hundred-MB upload to kill.
    """

    def __init__(self, root: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.storage = root / "storage"
        self.config = root / "config.yml"
        self.config.write_text(
            "version: 0.1\nlog: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.storage}}}}}\n"
            f"http: {{addr: {self.address}, secret: {secrets.token_hex(16)}}}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"registry on {self.address} did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def kill_when_uploading(self, threshold: int, stop: threading.Event) -> list[int]:
        """SIGKILL the registry once an upload in progress holds `threshold` bytes: a kill mid-upload."""
        killed: list[int] = []

        def largest_upload() -> int:
            # Uploads finish and their directories vanish while the glob walks them: a scan that
            # meets one counts as empty and the next tick looks again (it once killed this thread).
            try:
                uploads = self.storage.glob("docker/registry/v2/repositories/**/_uploads/*/data")
                return max((data.stat().st_size for data in uploads), default=0)
            except FileNotFoundError:
                return 0

        def watch() -> None:
            while not stop.is_set():
                size = largest_upload()
                if size >= threshold and self.process is not None:
                    killed.append(size)
                    self.kill()
                    return
                time.sleep(0.05)

        threading.Thread(target=watch, daemon=True).start()
        return killed


@pytest.fixture
def throwaway_registry(tmp_path: Path) -> Iterator[ThrowawayRegistry]:
    registry = ThrowawayRegistry(tmp_path)
    registry.start()
    yield registry
    registry.kill()


def test_registry_killed_mid_push_fails_cleanly_and_a_rerun_completes(
    throwaway_registry: ThrowawayRegistry, tmp_path: Path, infra: Infra
) -> None:
    registry = throwaway_registry
    repository = f"{registry.address}/tfci-e2e/killed"
    tag = specs.cpu_spec().tag
    args = (
        "build", *specs.CPU_CLI_ARGS, "--ca-cert", str(infra.ca_bundle), "--skip-service-checks",
        "--publish", repository, "--plain-http", registry.address,
    )  # fmt: skip
    stop = threading.Event()
    killed = registry.kill_when_uploading(32 << 20, stop)
    try:
        done = cli(*args, "--report-dir", str(tmp_path / "report"))
    finally:
        stop.set()
    assert killed, "the push finished before the registry could be killed mid-upload"
    assert done.returncode == 1, done.stdout + done.stderr
    summary = f"  {tag} (linux/amd64): publish:"  # the failure summary names the image and its platform
    failure = [line for line in done.stdout.splitlines() if line.startswith(summary)]
    assert len(failure) == 1, done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    index = json.loads((tmp_path / "report" / "index.json").read_text())
    assert index["images"][0]["ok"] is False
    assert index["images"][0]["pushed"] is None

    registry.start()  # same storage: whatever was half-uploaded is still there
    with Registries(plain_http=frozenset({registry.address})) as client:
        assert client.digest(parse_reference(f"{repository}:{tag}")) is None, "a tag moved"
        rerun = cli(*args)  # no report this time: the push is the point (and syft costs ~30 s)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert client.digest(parse_reference(f"{repository}:{tag}")) is not None


class _BrokenRegistry:
    """A TCP server that answers every request with `reply` and hangs up: a registry dying mid-response."""

    def __init__(self, reply: bytes) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.reply = reply
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(self.reply)


@pytest.mark.parametrize(
    "reply",
    [
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"partial',
        b"NOT-HTTP garbage\r\n\r\n",
    ],
    ids=["incomplete-read", "bad-status-line"],
)
def test_a_registry_dying_mid_response_is_one_line(reply: bytes, tmp_path: Path) -> None:
    broken = _BrokenRegistry(reply)
    try:
        done = cli(
            "promote", "--all", "--from", f"{broken.address}/tfci/x", "--to", f"{broken.address}/tfci/y",
            "--plain-http", broken.address, "--journal", str(tmp_path / "j.json"), "--no-verify",
        )  # fmt: skip
    finally:
        broken.sock.close()
    assert done.returncode == 1, done.stdout + done.stderr
    errors = done.stderr.removeprefix(f"{NO_VERIFY}\n")
    assert errors.count("\n") == 1, done.stderr
    assert errors.startswith("error: promote:")
    assert "Traceback" not in done.stderr

"""The images workflow, run for real by a GitHub Actions runner (act) on this machine.

Three events, as GitHub would send them, against the offline stack's token-auth registries
(staging 127.0.0.1:5002, release 127.0.0.1:5012, each with its own account and token service):

- a pull request: the matrix comes from `plan`, one build job per entry uploads its report, the run
  table is made, nothing is pushed and no write credential is used (the staging token service saw
  only anonymous pulls of the layer cache, no registry login was written);
- a push to the default branch: the image is pushed to staging under the lowercased owner and the
  layer cache is written;
- a push to the default branch also signs the pushed digest and attests its SBOM and check results
  (the sign job, with a cosign key pair from the repository's secrets: keyless Sigstore needs
  GitHub's OIDC and the public log);
- a workflow_dispatch with promote: true: promote verifies the signature, both attestations and the
  vulnerability gate, then copies exactly the digests this run's publish jobs pushed to the release
  registry and moves the aliases, with the release account only.

Plus `plan` alone on the real table: every target, GPU ones included, reaches the matrix.

The repository under test is a copy of this checkout (its workflows unedited) with a fixture table:
one CPU target, Debian 12 with its Python 3.11 (the spec the CPU image tests build, so the engine
already has its layers: this module runs after them) and 2.15.0's default Python set to 3.11 so the
target has aliases to move. The owner is `MyOrg-<random>`: capitals to lowercase, and a namespace of
its own on the shared registries. Repository variables carry what this machine needs and GitHub
does not (the registries, the TLS proxy's CA, the offline vulnerability database,
--skip-service-checks: the image tests cover them). The Go tools come from a warm tool cache (the
actions/cache stand-in seeded with the host's, as a second run on GitHub would restore it).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ci.cli import main
from tests.conftest import Infra, TokenRegistry, terminal_lines
from tests.e2e.signing import Keys, cosign, make_keys, verify_args, waivers
from tests.infra import wheels
from tests.infra.act.runner import ActRun, assemble_actions, event_payload, run_act

pytestmark = [pytest.mark.engine]

REPO = Path(__file__).resolve().parents[2]
# linux/amd64 only: act maps ubuntu-latest to this host; the arm64 row's ubuntu-24.04-arm has no runner here.
TARGET = (
    '  - {tf: "2.15.0", python: "3.11", variant: cpu, os: debian12, python_source: system,'
    " platforms: [linux/amd64]}\n"
)
TAG = "2.15.0-python3.11-cpu-debian12"
ALIASES = ["2.15.0-cpu", "2.15-cpu", "latest-cpu", "latest"]
GIT = ["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
# The checks job's tests in the fixture repository: the layout rules (the real suite runs in .ci/run).
# tests/infra/tools.sh: the workflow builds its Go tools (syft, osv-scanner, cosign) with it.
KEPT_TESTS = ("tests/unit/__init__.py", "tests/unit/test_layout.py", "tests/infra/tools.sh")


def _copy_checkout(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.decode().split("\0")):
        if name.startswith("tests/") and name not in KEPT_TESTS:
            continue
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)


def _fixture_table(table: Path) -> None:
    text = table.read_text()
    head, found, _ = text.partition("\ntargets:\n")
    assert found, "versions.yaml has no targets: section"
    release = re.compile(r'(- tf: "2\.15\.0".*?\n(?:.*\n)*?\s+default_python: )"3\.10"')
    head, changed = release.subn(r'\1"3.11"', head, count=1)
    assert changed == 1, "2.15.0's default_python was not found"
    table.write_text(head + "\ntargets:\n" + TARGET)


def _repository(dest: Path, owner: str, *, fixture: bool = True) -> str:
    """A git repository like the checkout (workflows untouched), owned by `owner` on GitHub. The
    fixture's reviewed waiver file waives the TEST DATA advisory the offline database reports on
    the image's openssl (HIGH: the gate would fail the image otherwise)."""
    _copy_checkout(dest)
    if fixture:
        _fixture_table(dest / "versions.yaml")
        waivers(dest / "vuln-waivers.yaml", datetime.date.today() + datetime.timedelta(days=30))
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*GIT, "commit", "-qm", "fixture"], cwd=dest, check=True)
    remote = f"https://github.com/{owner}/tf-images.git"  # act: github.repository, repository_owner
    subprocess.run(["git", "remote", "add", "origin", remote], cwd=dest, check=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=dest, capture_output=True, text=True, check=True
    ).stdout.strip()


@dataclass
class Runs:
    owner: str
    sha: dict[str, str]  # event -> the commit its workspace holds
    workspaces: dict[str, Path]
    plan: ActRun  # the real table, `plan` job only
    pull_request: ActRun
    push: ActRun
    dispatch: ActRun
    staging: dict[str, list[dict[str, Any]]]  # event -> the staging token service's records
    release: dict[str, list[dict[str, Any]]]  # (this owner's namespace only)


def _records(registry: TokenRegistry, start: int, namespace: str) -> list[dict[str, Any]]:
    with registry.token_log.open("rb") as stream:
        stream.seek(start)
        lines = stream.read().decode().splitlines()
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    return [
        r for r in rows if any(str(s).split(":")[1].startswith(f"{namespace}/") for s in r.get("scopes", []))
    ]


@pytest.fixture(scope="module")
def keys(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """The repository's signing key pair (secrets TFCI_COSIGN_KEY/PASSWORD, variable ..._PUBLIC_KEY)."""
    return make_keys(infra, tmp_path_factory.mktemp("cosign"))


@pytest.fixture(scope="module")
def runs(
    infra: Infra, keys: Keys, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Runs:
    say = terminal_lines(request.config)
    tmp = tmp_path_factory.mktemp("act")
    actions = assemble_actions(tmp / "actions")
    owner = f"MyOrg-{secrets.token_hex(3)}"
    env = {
        # pip in the jobs: no index, and the project's dependencies already installed (the
        # setup-python stand-in links them, tests/infra/wheels.py): only the project is built.
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels.wheelhouse()),
        "PIP_NO_DEPS": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # pip's inverted spelling: no isolated build environment
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "TFCI_ACT_SITE_PACKAGES": str(wheels.site_packages()),
        # actions/cache: the Go tools tests/infra/tools.sh built on this host ($TFCI_CACHE/<tool>/...)
        "TFCI_ACT_CACHE": str(tmp / "tool-cache"),
        "TFCI_ACT_CACHE_SEED": str(infra.cosign.parents[2]),
    }
    variables = {
        "TFCI_REGISTRY": infra.staging.address,
        "TFCI_RELEASE_REGISTRY": infra.release.address,
        "TFCI_RELEASE_USER": infra.release.user,
        "TFCI_BUILD_FLAGS": f"--ca-cert {infra.ca_bundle} --registry-ca-cert {infra.registry_ca} "
        f"--skip-service-checks --vuln-db {infra.vuln_db}",
        "TFCI_SIGN_FLAGS": f"--registry-ca-cert {infra.registry_ca}",
        "TFCI_ASSEMBLE_FLAGS": f"--registry-ca-cert {infra.registry_ca}",
        "TFCI_PROMOTE_FLAGS": f"--registry-ca-cert {infra.registry_ca} --vuln-db {infra.vuln_db}",
        "TFCI_COSIGN_PUBLIC_KEY": keys.public.read_text(),
    }
    tokens = {
        "GITHUB_TOKEN": infra.staging.password,
        "TFCI_RELEASE_PASSWORD": infra.release.password,
        "TFCI_COSIGN_KEY": keys.private.read_text(),
        "TFCI_COSIGN_PASSWORD": keys.password,
    }
    workspaces: dict[str, Path] = {}
    shas: dict[str, str] = {}

    def act(event: str, job: str, inputs: dict[str, str] | None = None, *, fixture: bool = True) -> ActRun:
        workspace = tmp / f"ws-{event}-{job}"
        sha = _repository(workspace, owner, fixture=fixture)
        if fixture:
            workspaces[event], shas[event] = workspace, sha
        run = run_act(
            workspace, event, event_payload(event, owner, sha, inputs), tmp / f"run-{event}-{job}",
            actions=actions, job=job, variables=variables, secrets=tokens,
            actor=infra.staging.user, env=env,
        )  # fmt: skip
        say(f"act {event} -j {job}: exit {run.returncode} in {run.seconds:.0f} s")
        assert run.returncode == 0, run.text()[-20000:]
        return run

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=1) as pool:  # no engine work: alongside the first event
        real_plan = pool.submit(act, "pull_request", "plan", fixture=False)
        staging, release = {}, {}
        for event, job, inputs in (
            ("pull_request", "report", None),
            ("push", "sign", None),  # and the jobs it needs: plan, publish, assemble
            ("workflow_dispatch", "promote", {"promote": "true", "selectors": ""}),
        ):
            offsets = infra.staging.token_log.stat().st_size, infra.release.token_log.stat().st_size
            ran = act(event, job, inputs)
            staging[event] = _records(infra.staging, offsets[0], owner.lower())
            release[event] = _records(infra.release, offsets[1], owner.lower())
            if event == "pull_request":
                pull_request = ran
            elif event == "push":
                push = ran
            else:
                dispatch = ran
        plan = real_plan.result()
    say(f"act: the workflow's three events and the real table's plan in {time.monotonic() - started:.0f} s")
    return Runs(owner, shas, workspaces, plan, pull_request, push, dispatch, staging, release)


# --------------------------------------------------------------------------- reading the runs


def _matrix(table: Path | None = None) -> dict[str, Any]:
    """What `matrix` says for a table, computed here (not by the workflow)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main.main([*(["--table", str(table)] if table else []), "matrix"]) == 0
    data = json.loads(out.getvalue())
    assert isinstance(data, dict)
    return data


def _zip_json(archive: zipfile.ZipFile, name: str) -> dict[str, Any]:
    data = json.loads(archive.read(name))
    assert isinstance(data, dict)
    return data


def _index(run: ActRun) -> dict[str, Any]:
    return _zip_json(run.artifacts()[f"report-{TAG}-amd64"], "index.json")


def _digest(infra: Infra, registry: TokenRegistry, ref: str, tmp_path: Path) -> str | None:
    """The manifest digest of `ref`, read with skopeo and the registry's own account."""
    (tmp_path / "certs").mkdir(exist_ok=True)
    shutil.copy(infra.registry_ca, tmp_path / "certs" / "ca.crt")
    auth = tmp_path / f"auth-{registry.user}.json"
    auth.touch(mode=0o600)
    token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
    auth.write_text(json.dumps({"auths": {registry.address: {"auth": token}}}))
    certs = str(tmp_path / "certs")
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", "--cert-dir", certs, "--authfile", str(auth), f"docker://{ref}"],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    return None if done.returncode else "sha256:" + hashlib.sha256(done.stdout).hexdigest()


def _run(runs: Runs, event: str) -> ActRun:
    return {"pull_request": runs.pull_request, "push": runs.push, "workflow_dispatch": runs.dispatch}[event]


EVENTS = ["pull_request", "push", "workflow_dispatch"]


# --------------------------------------------------------------------------- what GitHub would show


def test_plan_of_the_real_table_reaches_every_target_gpu_ones_too(runs: Runs) -> None:
    (matrix,) = runs.plan.outputs("matrix")
    assert json.loads(matrix) == _matrix()
    assert {row["variant"] for row in json.loads(matrix)["include"]} == {"cpu", "gpu"}
    assert set(runs.plan.jobs.values()) == {"success"}
    assert "2.15.0-python3.10-cuda12.1.0-cudnn8-devel-ubuntu22.04" in runs.plan.text("plan")


@pytest.mark.parametrize("event", EVENTS)
def test_the_matrix_expands_from_plan_into_one_image_job_per_entry(runs: Runs, event: str) -> None:
    run = _run(runs, event)
    (matrix,) = run.outputs("matrix")
    assert json.loads(matrix) == _matrix(runs.workspaces[event] / "versions.yaml")
    tags = [row["tag"] for row in json.loads(matrix)["include"]]
    assert tags == [TAG]
    assert set(run.jobs.values()) == {"success"}, run.jobs
    assert [job for job in run.jobs if "/image/" in job] == [
        f"{tag} (linux/amd64)/image/{tag} (linux/amd64)" for tag in tags
    ]


@pytest.mark.parametrize("event", EVENTS)
def test_each_image_job_uploads_its_report_with_the_commits_provenance(runs: Runs, event: str) -> None:
    archive = _run(runs, event).artifacts()[f"report-{TAG}-amd64"]
    expected = {"index.json", "index.md", f"{TAG}/report.json", f"{TAG}/report.md", f"{TAG}/sbom.cdx.json"}
    assert expected <= set(archive.namelist())
    report = _zip_json(archive, f"{TAG}/report.json")
    assert report["ok"] is True
    epoch = subprocess.run(
        ["git", "log", "-1", "--format=%ct"],
        cwd=runs.workspaces[event],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert report["provenance"] == {
        "created": committed,
        "revision": runs.sha[event],
        "source": f"https://github.com/{runs.owner}/tf-images",
        "version": TAG,
    }
    sbom = _zip_json(archive, f"{TAG}/sbom.cdx.json")
    properties = {p["name"]: p["value"] for p in sbom["metadata"]["component"]["properties"]}
    assert properties["org.opencontainers.image.revision"] == runs.sha[event]


def test_the_run_table_is_complete_on_its_own(runs: Runs) -> None:
    archive = runs.pull_request.artifacts()["run-report"]
    index = _zip_json(archive, "index.json")
    assert [image["tag"] for image in index["images"]] == [TAG]
    links = re.findall(r"\[report\]\(([^)]+)\)", archive.read("index.md").decode())
    assert links == [f"{TAG}/report.md"]
    assert set(links) <= set(archive.namelist())  # the links work in the downloaded artifact


def test_the_pull_request_pushes_nothing_and_holds_no_write_credential(runs: Runs) -> None:
    run = runs.pull_request
    assert all(image["pushed"] is None for image in _index(run)["images"])
    assert not run.logged_in  # no job wrote registry credentials
    assert "Login Succeeded" not in run.text()
    steps = run.steps("/image/")
    assert f"Build and test {TAG}" in steps
    assert not [step for step in steps if "publish" in step or "Log in" in step], steps
    assert not any("promote" in job for job in run.jobs)
    # What reached the staging registry's token service for this owner: the layer cache, read
    # anonymously. No account, no push scope; the release registry was not asked at all.
    assert runs.staging["pull_request"], "the build did not even read the layer cache"
    assert {row["account"] for row in runs.staging["pull_request"]} == {"anonymous"}
    scopes = {scope for row in runs.staging["pull_request"] for scope in row["scopes"]}
    assert all(scope.endswith(":pull") for scope in scopes), scopes
    assert runs.release["pull_request"] == []


def test_the_push_publishes_under_the_lowercased_owner_and_writes_the_cache(
    runs: Runs, infra: Infra, tmp_path: Path
) -> None:
    (image,) = _index(runs.push)["images"]
    pushed = image["pushed"]
    assert pushed["repository"] == f"{infra.staging.address}/{runs.owner.lower()}/tensorflow-staging"
    # by digest: the dispatch run below pushed the same tag again, from its own commit
    assert (
        _digest(infra, infra.staging, f"{pushed['repository']}@{pushed['digest']}", tmp_path)
        == pushed["digest"]
    )
    cache = f"{infra.staging.address}/{runs.owner.lower()}/tensorflow-cache:{TAG}"
    assert _digest(infra, infra.staging, cache, tmp_path) is not None
    assert f"cache export: type=registry {cache} written" in runs.push.text("image")
    assert f"Build, test and publish {TAG} to staging" in runs.push.steps("/image/")
    assert runs.push.logged_in  # the publish job logged in (for the cache export)
    assert {row["account"] for row in runs.staging["push"]} == {infra.staging.user}
    assert runs.release["push"] == []


def test_promote_copies_exactly_the_digests_its_run_pushed_and_moves_the_aliases(
    runs: Runs, infra: Infra, tmp_path: Path
) -> None:
    (image,) = _index(runs.dispatch)["images"]
    assert image["tags"] == [TAG, *ALIASES]
    release = f"{infra.release.address}/{runs.owner.lower()}/tensorflow"
    for tag in image["tags"]:
        assert _digest(infra, infra.release, f"{release}:{tag}", tmp_path) == image["pushed"]["digest"], tag
    assert f"{release}:{TAG} @ {image['pushed']['digest']}" in runs.dispatch.text("promote")
    # Each password only at its own registry: the release account never asked staging's token
    # service, the staging account never asked the release one.
    assert {row["account"] for row in runs.release["workflow_dispatch"]} == {infra.release.user}
    assert infra.release.user not in {row["account"] for row in runs.staging["workflow_dispatch"]}


def test_the_push_signs_and_attests_the_pushed_digest_and_promote_verifies_it(
    runs: Runs, infra: Infra, keys: Keys
) -> None:
    """Issue 18's release rules, run by the workflow: the sign job signs and attests what publish
    pushed (the repository's key: keyless needs GitHub's OIDC), promote verifies before it copies,
    and the release repository carries the signature (cosign verify works there)."""
    for run in (runs.push, runs.dispatch):
        assert run.jobs.get("images/sign") == "success", run.jobs
    assert "images/sign" not in runs.pull_request.jobs
    (image,) = _index(runs.dispatch)["images"]
    staged = f"{image['pushed']['repository']}@{image['pushed']['digest']}"
    assert f"verified      {staged}:" in runs.dispatch.text("promote")
    release = f"{infra.release.address}/{runs.owner.lower()}/tensorflow@{image['pushed']['digest']}"
    done = cosign(infra, keys, infra.release, "verify", *verify_args(keys), release)
    assert done.returncode == 0, done.stderr
    # the key reached cosign through the environment: never in a job's log
    assert keys.private.read_text().splitlines()[1] not in runs.push.text()
    assert keys.password not in runs.push.text() + runs.dispatch.text()


def test_the_engines_progress_is_in_the_job_log_folded_per_image(runs: Runs) -> None:
    records = [r for r in runs.pull_request.records if "/image/" in str(r.get("job", ""))]
    marks = [i for i, r in enumerate(records) if r.get("command") in ("group", "endgroup")]
    assert [(records[i]["command"], records[i].get("arg", "")) for i in marks] == [
        ("group", f"{TAG}: build, checks and report (engine progress)"),
        ("endgroup", ""),
    ]
    inside = re.sub(
        r"\x1b\[[0-9;]*m", "", "".join(str(r.get("msg", "")) for r in records[marks[0] : marks[1]])
    )
    assert 'Container.from(address: "debian:bookworm")' in inside  # the engine's plain progress
    host = os.environ["_EXPERIMENTAL_DAGGER_RUNNER_HOST"]  # a self-hosted runner's engine
    assert f"engine: {host} (watchdog probing {host})" in runs.pull_request.text("image")

"""The GitHub Actions workflows call the CLI with flags that exist, and keep their release rules.

Why: the workflows only run on GitHub (and under act in tests/e2e/test_workflow_act.py, which
cannot model permissions, concurrency or environments), so a renamed flag or a broken rule would
first fail there, after merge. Here every `ci/main.py` command line is expanded (matrix args from
`matrix`, secrets and inputs as placeholders) and parsed by the real argument parser, and the rules
of issue 20 are read from the YAML: each test names the defect it guards against and fails on the
workflow before it. actionlint (run by .ci/run) checks the syntax, expressions and shell.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci.cli import main
from ci.engine.remote import parse_cache
from ci.model.refs import parse_repository
from ci.table.load import load_table
from ci.table.resolve import resolve_targets

WORKFLOWS = Path(__file__).resolve().parents[3] / ".github" / "workflows"
IMAGES = WORKFLOWS / "images.yml"  # the pipeline
IMAGE = WORKFLOWS / "image.yml"  # one image, called by `build` and `publish`
SELECTORS = "--tf 2.15.0 --python 3.10"
PINS = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


def _flow(path: Path = IMAGES) -> dict[Any, Any]:
    flow = yaml.safe_load(path.read_text())
    assert isinstance(flow, dict)
    return flow


def _jobs() -> dict[str, dict[str, Any]]:
    return {**_flow()["jobs"], **{f"image.{k}": v for k, v in _flow(IMAGE)["jobs"].items()}}


def _steps(job: str) -> list[dict[str, Any]]:
    steps = _jobs()[job]["steps"]
    assert isinstance(steps, list)
    return steps


def _uses(job: str, action: str) -> list[dict[str, Any]]:
    steps = _jobs()[job].get("steps", [])  # a job that calls image.yml has none of its own
    return [s for s in steps if str(s.get("uses", "")).startswith(f"{action}@")]


def _cli_lines() -> list[str]:
    """Every `ci/main.py ...` call in either workflow, up to the end of its shell command."""
    lines = []
    for job in _jobs().values():
        for step in job.get("steps", []):
            script = str(step.get("run", "")).replace("\\\n", " ")
            for line in script.splitlines():
                if line.strip().startswith("#"):
                    continue
                lines += [m.strip() for m in re.findall(r"ci/main\.py([^;|&)>]*)", line)]
    return lines


PLACEHOLDERS = {
    "$ARGS": None,  # the matrix row's args
    "$BUILD_FLAGS": "",
    "$PROMOTE_FLAGS": "",
    "${SELECTORS:---all}": SELECTORS,
    "$SELECTORS": SELECTORS,
    '"$STAGING"': "ghcr.io/o/tensorflow-staging",
    '"$STAGING:$PUBLISH_TAG"': "ghcr.io/o/tensorflow-staging:some-tag-linux-arm64",
    '"$RELEASE"': "ghcr.io/o/tensorflow",
    '"$LAYER_CACHE"': "ghcr.io/o/tensorflow-cache",
    '"$MATRIX"': "'{\"include\": []}'",
    '"$REGISTRY_USER"': "someone",
    '"$FROM_USER"': "someone",
    '"$TO_USER"': "someone",
    '"$VULN_GATE"': "HIGH",  # the default of vars.TFCI_VULN_GATE
    "$SIGN_FLAGS": "",
    "$ASSEMBLE_FLAGS": "",
    '"${how[@]}"': "--keyless",  # the sign step without the TFCI_COSIGN_KEY secret
    '"${verify[@]}"': "--certificate-identity "
    "https://github.com/o/r/.github/workflows/images.yml@refs/heads/main "
    "--certificate-oidc-issuer https://token.actions.githubusercontent.com",
}


def _expand(line: str, matrix_args: str) -> list[str]:
    for name, value in PLACEHOLDERS.items():
        line = line.replace(name, matrix_args if value is None else value)
    assert "$" not in line, f"unexpanded variable in {line!r}"
    return shlex.split(line)


def _matrix(*selectors: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main.main(["matrix", *selectors]) == 0
    return out.getvalue()


def test_workflow_has_plan_build_publish_assemble_sign_index_and_promote() -> None:
    commands = [_expand(line, "")[0] for line in _cli_lines()]
    assert {"plan", "matrix", "build", "assemble", "sign", "index", "promote"} <= set(commands)


def test_only_the_sign_job_may_ask_for_an_oidc_token() -> None:
    """Keyless signing needs `id-token: write`; no other job (the build runs third-party steps)."""
    flow = _flow()
    assert "id-token" not in flow["permissions"]
    holders = [name for name, job in _jobs().items() if "id-token" in job.get("permissions", {})]
    assert holders == ["sign"]
    sign = flow["jobs"]["sign"]
    assert sign["permissions"]["id-token"] == "write"
    assert "needs.plan.outputs.publish == 'true'" in sign["if"]  # the default branch only
    assert "assemble" in sign["needs"]  # signs the assembled index of a multi-platform image
    assert "needs.assemble.result == 'success'" in sign["if"]
    (step,) = [s for s in sign["steps"] if "ci/main.py sign" in str(s.get("run", ""))]
    # keyless unless the repository keeps a key; the key reaches cosign in the environment only
    assert "how=(--key env://COSIGN_KEY); else how=(--keyless)" in step["run"]
    assert step["env"]["COSIGN_KEY"] == "${{ secrets.TFCI_COSIGN_KEY }}"
    assert step["env"]["COSIGN_PASSWORD"] == "${{ secrets.TFCI_COSIGN_PASSWORD }}"  # noqa: S105


def test_promote_verifies_the_sign_jobs_identity_and_gates_like_the_build() -> None:
    flow = _flow()
    promote_job = flow["jobs"]["promote"]
    assert "sign" in promote_job["needs"]
    (step,) = [s for s in promote_job["steps"] if "ci/main.py promote" in str(s.get("run", ""))]
    assert step["env"]["SIGNER"] == (
        "${{ github.server_url }}/${{ github.repository }}/.github/workflows/images.yml@${{ github.ref }}"
    )
    assert IMAGES.name in step["env"]["SIGNER"]  # the workflow whose sign job signs
    assert "--certificate-oidc-issuer https://token.actions.githubusercontent.com" in step["run"]
    assert 'verify=(--verify-key "$RUNNER_TEMP/cosign.pub")' in step["run"]
    assert step["env"]["PUBLIC_KEY"] == "${{ vars.TFCI_COSIGN_PUBLIC_KEY }}"
    (promote,) = [line for line in _cli_lines() if line.startswith("promote")]
    args = main.build_parser().parse_args(_expand(promote, ""))
    assert (args.certificate_identity, args.certificate_oidc_issuer) == (
        "https://github.com/o/r/.github/workflows/images.yml@refs/heads/main",
        "https://token.actions.githubusercontent.com",
    )
    assert args.verify_key is None
    assert not args.no_verify
    builds = [
        main.build_parser().parse_args(_expand(line, "--tf 2.15.0"))
        for line in _cli_lines()
        if line.startswith("build")
    ]
    assert builds
    assert all(b.vuln_gate == args.vuln_gate == "HIGH" for b in builds)
    # one gate: the build jobs get the workflow's own setting
    assert flow["env"]["VULN_GATE"] == "${{ vars.TFCI_VULN_GATE || 'HIGH' }}"
    for job in ("build", "publish"):
        assert flow["jobs"][job]["with"]["vuln_gate"] == flow["env"]["VULN_GATE"], job
    assert _flow(IMAGE)["jobs"]["image"]["env"]["VULN_GATE"] == "${{ inputs.vuln_gate }}"


def test_the_go_tools_come_from_tools_sh_pins_only() -> None:
    """syft, osv-scanner and cosign are built by tests/infra/tools.sh (one place for their versions)."""
    needs = {"image.image": {"syft", "osv-scanner"}, "sign": {"cosign"}, "promote": {"cosign", "osv-scanner"}}
    caches = [s for job in needs for s in _uses(job, "actions/cache")]
    # arm64 runners build their own binaries: the cache key names the runner's architecture
    assert caches
    assert all("${{ runner.arch }}" in s["with"]["key"] for s in caches)
    for job, tools in needs.items():
        installs = [s["run"] for s in _steps(job) if "tools.sh install" in str(s.get("run", ""))]
        assert len(installs) == 1, job
        assert set(installs[0].split("tools.sh install")[1].split("\n")[0].split()) == tools
        assert "tools.sh env" in installs[0]
    for path in (IMAGES, IMAGE):
        assert "syft@" not in path.read_text()
        assert "cosign-installer" not in path.read_text()


@pytest.mark.parametrize("line", _cli_lines())
def test_every_cli_call_parses(line: str) -> None:
    rows = json.loads(_matrix())["include"]
    assert rows, "the matrix is empty"
    for row in rows:
        argv = _expand(line, row["args"])
        args = main.build_parser().parse_args(argv)
        assert args.command == argv[0]


def test_matrix_args_reproduce_the_tags() -> None:
    targets = {spec.tag for spec in resolve_targets(load_table())}
    for row in json.loads(_matrix())["include"]:
        assert row["tag"] in targets


def test_the_matrix_honours_the_selectors_input() -> None:
    (matrix_step,) = [s for s in _steps("plan") if s.get("id") == "matrix"]
    assert matrix_step["env"]["SELECTORS"] == "${{ inputs.selectors }}"
    assert "matrix $SELECTORS" in matrix_step["run"]


# --------------------------------------------------------------------------- 1: registries


def _registries(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Run the plan job's Registries step as the runner would, with `env` as its expressions gave."""
    (step,) = [s for s in _steps("plan") if s.get("id") == "registries"]
    output = tmp_path / "output"
    output.write_text("")
    subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output), **env},
        check=True,
        capture_output=True,
    )
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_registry_paths_are_lowercase_from_any_owner_and_overridable(tmp_path: Path) -> None:
    """Defect 1: `MyOrg` made every build fail (`--cache-from ... must be lowercase`); no override."""
    (step,) = [s for s in _steps("plan") if s.get("id") == "registries"]
    assert step["env"]["REGISTRY"] == "${{ vars.TFCI_REGISTRY || 'ghcr.io' }}"
    assert step["env"]["NAMESPACE"] == "${{ vars.TFCI_NAMESPACE || github.repository_owner }}"
    assert "vars.TFCI_RELEASE_REGISTRY" in step["env"]["RELEASE_REGISTRY"]
    env = {"REGISTRY": "ghcr.io", "NAMESPACE": "MyOrg", "RELEASE_REGISTRY": "ghcr.io", "PUBLISH": "true"}
    out = _registries(env, tmp_path)
    assert out["staging"] == "ghcr.io/myorg/tensorflow-staging"
    assert out["layer_cache"] == "ghcr.io/myorg/tensorflow-cache"
    assert out["release"] == "ghcr.io/myorg/tensorflow"
    for key in ("staging", "layer_cache", "release"):
        assert parse_repository(out[key], key).name == out[key]  # valid: lowercase, with a host
    parse_cache("--cache-from", out["layer_cache"])
    env |= {"REGISTRY": "Registry.Example:5000", "NAMESPACE": "Team", "RELEASE_REGISTRY": "docker.io"}
    out = _registries(env, tmp_path)
    assert out["staging"] == "registry.example:5000/team/tensorflow-staging"
    assert out["release"] == "docker.io/team/tensorflow"
    # Nothing else names a registry: every job reads the plan's outputs.
    text = IMAGES.read_text() + IMAGE.read_text()
    assert text.count("ghcr.io") == 3  # the REGISTRY and RELEASE_REGISTRY defaults, and a comment
    for job in ("build", "publish"):
        with_ = _jobs()[job]["with"]
        assert with_["staging"] == "${{ needs.plan.outputs.staging }}"
        assert with_["layer_cache"] == "${{ needs.plan.outputs.layer_cache }}"
    (login,) = _uses("image.image", "docker/login-action")
    assert login["with"]["registry"] == "${{ inputs.registry }}"


# --------------------------------------------------------------------------- 2: re-runs


def test_re_runs_upload_again() -> None:
    """Defect 2: a re-run is the same run; upload-artifact@v4 refuses an existing name unless told."""
    uploads = [s for job in _jobs() for s in _uses(job, "actions/upload-artifact")]
    assert len(uploads) == 4  # report-<tag>-<arch>, engine-log-<tag>-<arch>, assembled, run-report
    assert all(step["with"]["overwrite"] is True for step in uploads)


# --------------------------------------------------------------------------- 3: credentials


def test_pull_requests_never_reach_a_job_that_can_write_packages() -> None:
    """Defect 3: the build job had packages: write on every event, and checkout kept the token."""
    assert _flow()["permissions"] == {"contents": "read"}
    assert "permissions" not in _flow(IMAGE)  # a called workflow may only lower the caller's
    writers = {
        name for name, job in _flow()["jobs"].items() if "write" in (job.get("permissions") or {}).values()
    }
    assert writers == {"publish", "assemble", "sign", "promote"}
    assert "github.event_name != 'pull_request'" in _jobs()["publish"]["if"]
    assert "github.event_name != 'pull_request'" in _jobs()["sign"]["if"]
    assert "github.event_name != 'pull_request'" in _jobs()["assemble"]["if"]
    assert "github.event_name == 'workflow_dispatch'" in _jobs()["promote"]["if"]
    assert _jobs()["build"]["permissions"] == {"contents": "read"}
    assert _jobs()["build"]["with"]["publish"] is False
    assert _jobs()["publish"]["with"]["publish"] is True
    # In image.yml the token appears only in steps that run when publishing.
    for step in _steps("image.image"):
        if "github.token" in json.dumps(step) or "secrets." in json.dumps(step):
            assert step["if"] == "${{ inputs.publish }}", step.get("name")
    checkouts = [s for job in _jobs() for s in _uses(job, "actions/checkout")]
    assert len(checkouts) == 7  # checks, plan, image, assemble, sign, report, promote
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_staging_is_written_from_the_default_branch_only() -> None:
    (step,) = [s for s in _steps("plan") if s.get("id") == "registries"]
    rule = step["env"]["PUBLISH"]
    assert "github.event_name != 'pull_request'" in rule
    assert "github.event.repository.default_branch" in rule
    assert "needs.plan.outputs.publish == 'true'" in _jobs()["publish"]["if"]
    assert "needs.plan.outputs.publish != 'true'" in _jobs()["build"]["if"]
    assert "needs.plan.outputs.publish == 'true'" in _jobs()["promote"]["if"]
    publishing = [s for s in _steps("image.image") if "--publish" in str(s.get("run", ""))]
    assert [s["if"] for s in publishing] == ["${{ inputs.publish }}"]
    building = [s for s in _steps("image.image") if "build $ARGS" in str(s.get("run", ""))]
    assert [s["if"] for s in building if s not in publishing] == ["${{ !inputs.publish }}"]


# --------------------------------------------------------------------------- 4: progress


def test_engine_progress_streams_into_the_log_and_is_uploaded_when_a_job_fails() -> None:
    """Defect 4: each image printed `started` / `passed`; the engine's log stayed in /tmp."""
    builds = [s for s in _steps("image.image") if "build $ARGS" in str(s.get("run", ""))]
    assert len(builds) == 2
    for step in builds:
        assert " --log " in step["run"]
        assert step["env"]["TFCI_LOG_DIR"] == "${{ runner.temp }}/engine-log"
    (upload,) = [
        s for s in _uses("image.image", "actions/upload-artifact") if "engine-log" in s["with"]["name"]
    ]
    assert upload["if"] == "${{ failure() }}"
    assert upload["with"]["path"] == "${{ runner.temp }}/engine-log/"


# --------------------------------------------------------------------------- 5: report


def test_the_run_table_has_a_row_per_matrix_entry_and_a_self_contained_artifact() -> None:
    """Defect 5: links pointed at ../results/... (not uploaded); a job that died had no row."""
    report = _jobs()["report"]
    assert report["if"] == "${{ !cancelled() && needs.plan.result == 'success' }}"
    assert set(report["needs"]) == {"plan", "build", "publish"}
    (table,) = [s for s in report["steps"] if "ci/main.py index" in str(s.get("run", ""))]
    assert table["env"]["MATRIX"] == "${{ needs.plan.outputs.matrix }}"
    assert '--matrix "$MATRIX" --out run-report' in table["run"]
    assert "shopt -s nullglob" in table["run"]  # no report at all still gives the table
    (upload,) = _uses("report", "actions/upload-artifact")
    assert upload["with"]["path"] == "run-report/"


def test_reports_are_uploaded_and_promote_reads_them_as_assembled() -> None:
    (upload,) = [s for s in _uses("image.image", "actions/upload-artifact") if "report" in s["with"]["name"]]
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == "reports/"
    assert upload["with"]["name"] == "report-${{ inputs.tag }}-${{ inputs.arch }}"  # one per platform
    assert all(
        "--report-dir reports" in s["run"] for s in _steps("image.image") if "build $ARGS" in s.get("run", "")
    )
    for job in ("assemble", "report"):
        (download,) = _uses(job, "actions/download-artifact")
        assert download["with"]["pattern"] == upload["with"]["name"].split("${{")[0] + "*"
    (assembled,) = _uses("assemble", "actions/upload-artifact")
    for job in ("sign", "promote"):
        (download,) = _uses(job, "actions/download-artifact")
        assert download["with"]["name"] == assembled["with"]["name"], job
    for command in ("sign", "promote"):
        (line,) = [line for line in _cli_lines() if line.startswith(command)]
        assert "--results assembled/index.json" in line, command


def test_arm64_builds_on_githubs_arm64_runners_and_the_index_is_assembled_before_promote() -> None:
    """One job per image and platform (image.yml), the arm64 one native; staging gets one index per
    tag from their pushes, assembled before sign and promote."""
    for job in ("build", "publish"):
        with_ = _flow()["jobs"][job]["with"]
        assert with_["runs_on"] == "${{ matrix.arch == 'arm64' && 'ubuntu-24.04-arm' || 'ubuntu-latest' }}"
        assert with_["platform"] == "${{ matrix.platform }}"
        assert with_["arch"] == "${{ matrix.arch }}"
        assert with_["publish_tag"] == "${{ matrix.publish_tag }}"
        assert _flow()["jobs"][job]["name"] == "${{ matrix.tag }} (${{ matrix.platform }})"
    image = _flow(IMAGE)["jobs"]["image"]
    assert image["runs-on"] == "${{ inputs.runs_on }}"
    assert image["env"]["PUBLISH_TAG"] == "${{ inputs.publish_tag }}"
    (publishing,) = [s for s in _steps("image.image") if "--publish" in str(s.get("run", ""))]
    assert '--publish "$STAGING:$PUBLISH_TAG"' in publishing["run"]
    # one publish per image and platform at a time: the two platforms of a tag never wait on each other
    assert _flow()["jobs"]["publish"]["concurrency"]["group"].endswith("-${{ matrix.arch }}")
    arches = {row["arch"] for row in json.loads(_matrix())["include"]}
    assert arches == {"amd64", "arm64"}
    assemble = _flow()["jobs"]["assemble"]
    assert assemble["needs"] == ["plan", "publish"]
    assert "needs.plan.outputs.publish == 'true'" in assemble["if"]
    assert "github.event_name != 'pull_request'" in assemble["if"]
    assert "assemble" in _flow()["jobs"]["sign"]["needs"]
    assert "assemble" in _flow()["jobs"]["promote"]["needs"]


# --------------------------------------------------------------------------- 6: concurrency


def test_promote_waits_outside_the_builds_concurrency_group() -> None:
    """Defect 6: a promote waiting for approval held `images-<ref>`: builds queued behind it, and the
    next push could cancel it."""
    group = _flow()["concurrency"]["group"]
    assert "github.run_id" in group  # every run on a branch is its own group
    assert "github.event_name == 'pull_request' && github.ref" in group  # pull requests: one per PR
    assert _flow()["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    promote = _jobs()["promote"]["concurrency"]
    assert promote == {"group": "images-promote", "cancel-in-progress": False}
    assert _jobs()["publish"]["concurrency"]["cancel-in-progress"] is False


# --------------------------------------------------------------------------- 7: examples


def _dispatch_example() -> str:
    on = _flow()[True]  # YAML 1.1 reads the key `on` as True
    description = on["workflow_dispatch"]["inputs"]["selectors"]["description"]
    found = re.search(r"e\.g\. (--[^()]+?) \(", description)
    assert found, description
    return found.group(1)


def test_the_dispatch_example_names_a_target_with_aliases() -> None:
    """Defect 7: `--tf 2.15.0 --python 3.10 --variant gpu` resolved to cuda12.2.2, not a target."""
    example = _dispatch_example()
    rows = json.loads(_matrix(*shlex.split(example)))["include"]
    (tag,) = {row["tag"] for row in rows}  # one image (a row per platform it is built for)
    assert tag in {spec.tag for spec in resolve_targets(load_table())}
    assert all(row["aliases"] for row in rows)


def test_the_readme_quick_start_builds_a_target_with_aliases() -> None:
    """Defect 7: README's quick start built `--tf 2.15.0 --python 3.10 --variant gpu`, no target."""
    readme = (WORKFLOWS.parents[1] / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    builds = re.findall(r"(?:tf-images|ci/main\.py) (build [^\n]+)", quick_start)
    assert builds, "the quick start builds nothing"
    targets = {spec.tag for spec in resolve_targets(load_table())}
    for line in builds:
        args = main.build_parser().parse_args(shlex.split(line))
        chosen: list[str] = []
        for flag in ("--tf", "--python", "--variant", "--os", "--cuda-source", "--gpu-base"):
            value = getattr(args, flag[2:].replace("-", "_"))
            chosen += [flag, value] if value else []
        rows = json.loads(_matrix(*chosen))["include"]
        (tag,) = {row["tag"] for row in rows}  # one image (a row per platform it is built for)
        assert tag in targets, line
        assert all(row["aliases"] for row in rows), line


# --------------------------------------------------------------------------- 8, 9: actions, always()


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    """Defect 8: tags (dagger-for-github@v8.4.0, login-action@v3, which receives the token) move."""
    found = 0
    for path in (IMAGES, IMAGE):
        for line in path.read_text().splitlines():
            match = PINS.match(line)
            if not match or match.group(1).startswith("./"):
                continue
            found += 1
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", match.group(1)), line
            assert re.fullmatch(r" # v\d+\.\d+\.\d+", match.group(2)), line
    assert found == 30  # merge19's 26 and the assemble job's checkout, setup-python, download, upload


def test_nothing_runs_on_a_cancelled_run_by_accident() -> None:
    """Defect 9: `always()` also runs a step or job after the run was cancelled."""
    text = IMAGES.read_text() + IMAGE.read_text()
    assert "always()" not in text
    assert text.count("!cancelled()") == 3  # report job, report upload, disk use


# --------------------------------------------------------------------------- disk clean-up


def test_disk_clean_up_only_touches_githubs_own_runners(tmp_path: Path) -> None:
    """act and self-hosted runners run steps on their host: `sudo rm -rf` there deletes real SDKs."""
    (step,) = [s for s in _steps("image.image") if str(s.get("name", "")).startswith("Free disk space")]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for tool in ("sudo", "docker"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n')
        (bin_dir / tool).chmod(0o755)
    (bin_dir / "df").write_text("#!/bin/sh\necho Avail; echo 3G\n")  # 3 GB free: below every NEED_GB
    (bin_dir / "df").chmod(0o755)
    path = f"{bin_dir}:{os.environ['PATH']}"
    for runner, deletes in (("", False), ("self-hosted", False), ("github-hosted", True)):
        calls.write_text("")
        env = {"PATH": path, "NEED_GB": "10", **({"RUNNER_ENVIRONMENT": runner} if runner else {})}
        done = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True, text=True)
        assert done.returncode == 1  # still not enough: a clear error either way
        assert "only 3 GB free, this image needs 10 GB" in done.stdout
        assert ("sudo rm -rf" in calls.read_text()) == deletes, runner


# --------------------------------------------------------------------------- Dagger CLI, cache


def test_every_job_has_a_timeout() -> None:
    assert all("timeout-minutes" in job for job in _jobs().values() if "steps" in job)


def test_paths_filters_include_the_sdk_pin_and_both_workflows() -> None:
    on = _flow()[True]
    for event in ("push", "pull_request"):
        assert "pyproject.toml" in on[event]["paths"]
        assert ".github/workflows/image*.yml" in on[event]["paths"]


def test_the_dagger_cli_is_installed_by_daggers_action_at_the_sdk_pin() -> None:
    (install,) = _uses("image.image", "dagger/dagger-for-github")
    assert install["with"]["version"] == version("dagger-io")
    assert not {"call", "args"} & set(install["with"])  # install only; `dagger run` is our own step


def test_builds_share_the_layer_cache_and_only_publishing_jobs_write_it() -> None:
    """One cache ref per image; the flags must reach a session the command starts itself."""
    builds = [s for s in _steps("image.image") if "build $ARGS" in str(s.get("run", ""))]
    for step in builds:
        run = step["run"]
        assert "dagger run" not in run  # refused with the cache flags (ci/engine/remote.py)
        assert "_EXPERIMENTAL_DAGGER_CLI_BIN=$(command -v dagger)" in run
        assert '--cache-from "$LAYER_CACHE"' in run
        assert ('--cache-to "$LAYER_CACHE"' in run) == (step["if"] == "${{ inputs.publish }}")
    (login,) = _uses("image.image", "docker/login-action")
    assert login["if"] == "${{ inputs.publish }}"
    for line in _cli_lines():
        if line.startswith("build"):
            args = main.build_parser().parse_args(_expand(line, "--tf 2.15.0"))
            for flag, values in (("--cache-from", args.cache_from), ("--cache-to", args.cache_to)):
                for value in values:
                    parse_cache(flag, value)  # a value the build accepts

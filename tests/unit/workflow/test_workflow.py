"""The GitHub Actions workflow calls the CLI with flags that exist, and keeps its release rules.

Why: the workflow only runs on GitHub, so a renamed flag would first fail there, after merge.
Here every `ci/main.py` command line in it is expanded (matrix args from `matrix`, secrets and
inputs as placeholders) and parsed by the real argument parser; the rules that decide what is
published (default branch only), what is uploaded and which Dagger CLI is installed are read from
the workflow itself. actionlint (run by .ci/run) checks the syntax, expressions and shell.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci.cli import main
from ci.engine.remote import parse_cache
from ci.table.load import load_table
from ci.table.resolve import resolve_targets

WORKFLOW = Path(__file__).resolve().parents[3] / ".github" / "workflows" / "images.yml"
SELECTORS = "--tf 2.15.0 --python 3.10"


def _flow() -> dict[str, Any]:
    flow = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(flow, dict)
    return flow


def _steps(job: str) -> list[dict[str, Any]]:
    steps = _flow()["jobs"][job]["steps"]
    assert isinstance(steps, list)
    return steps


def _cli_lines() -> list[str]:
    """Every `ci/main.py ...` call, up to the end of its shell command."""
    lines = []
    for job in _flow()["jobs"].values():
        for step in job["steps"]:
            script = str(step.get("run", "")).replace("\\\n", " ")
            for line in script.splitlines():
                if line.strip().startswith("#"):
                    continue
                lines += [m.strip() for m in re.findall(r"ci/main\.py([^;|&)>]*)", line)]
    return lines


def _expand(line: str, matrix_args: str) -> list[str]:
    line = line.replace("$ARGS", matrix_args).replace("${SELECTORS:---all}", SELECTORS)
    line = line.replace("$SELECTORS", SELECTORS)
    line = re.sub(r"\$\{\{[^}]*\}\}", "someone", line)
    line = line.replace('"$STAGING"', "ghcr.io/o/tensorflow-staging").replace(
        '"$RELEASE"', "ghcr.io/o/tensorflow"
    )
    line = line.replace('"$LAYER_CACHE"', "ghcr.io/o/tensorflow-cache")
    line = line.replace('"$VULN_GATE"', _flow()["env"]["VULN_GATE"])
    line = line.replace('"$SIGNER"', "https://github.com/o/r/.github/workflows/images.yml@refs/heads/main")
    line = line.replace('"$OIDC_ISSUER"', _flow()["env"]["OIDC_ISSUER"])
    return shlex.split(line)


def test_workflow_has_plan_build_publish_sign_index_and_promote() -> None:
    commands = [_expand(line, "")[0] for line in _cli_lines()]
    assert {"plan", "matrix", "build", "sign", "index", "promote"} <= set(commands)


def test_only_the_sign_job_may_ask_for_an_oidc_token() -> None:
    """Keyless signing needs `id-token: write`; no other job (the build runs third-party steps)."""
    flow = _flow()
    assert "id-token" not in flow["permissions"]
    holders = [name for name, job in flow["jobs"].items() if "id-token" in job.get("permissions", {})]
    assert holders == ["sign"]
    assert flow["jobs"]["sign"]["permissions"]["id-token"] == "write"
    assert "github.event.repository.default_branch" in flow["jobs"]["sign"]["if"]
    (sign,) = [line for line in _cli_lines() if line.startswith("sign")]
    assert "--keyless" in sign


def test_promote_verifies_the_sign_jobs_identity_and_gates_like_the_build() -> None:
    flow = _flow()
    assert "sign" in flow["jobs"]["promote"]["needs"]
    assert flow["env"]["SIGNER"] == (
        "https://github.com/${{ github.repository }}/.github/workflows/images.yml@${{ github.ref }}"
    )
    assert WORKFLOW.name in flow["env"]["SIGNER"]
    assert flow["env"]["OIDC_ISSUER"] == "https://token.actions.githubusercontent.com"
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
    assert all(b.vuln_gate == args.vuln_gate == flow["env"]["VULN_GATE"] for b in builds)


def test_the_go_tools_come_from_tools_sh_pins_only() -> None:
    """syft, osv-scanner and cosign are built by tests/infra/tools.sh (one place for their versions)."""
    needs = {"build": {"syft", "osv-scanner"}, "sign": {"cosign"}, "promote": {"cosign", "osv-scanner"}}
    for job, tools in needs.items():
        installs = [s["run"] for s in _steps(job) if "tools.sh install" in str(s.get("run", ""))]
        assert len(installs) == 1, job
        assert set(installs[0].split("tools.sh install")[1].split("\n")[0].split()) == tools
        assert "tools.sh env" in installs[0]
    assert "syft@" not in WORKFLOW.read_text()
    assert "cosign-installer" not in WORKFLOW.read_text()


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


def test_staging_is_written_from_the_default_branch_only() -> None:
    rule = _flow()["env"]["ON_DEFAULT_BRANCH"]
    assert "github.event_name != 'pull_request'" in rule
    assert "github.event.repository.default_branch" in rule
    publishing = [s for s in _steps("build") if "--publish" in str(s.get("run", ""))]
    assert [s["if"] for s in publishing] == ["${{ env.ON_DEFAULT_BRANCH == 'true' }}"]
    building = [s for s in _steps("build") if "build $ARGS" in str(s.get("run", "")) and s not in publishing]
    assert [s["if"] for s in building] == ["${{ env.ON_DEFAULT_BRANCH != 'true' }}"]
    assert "github.event.repository.default_branch" in _flow()["jobs"]["promote"]["if"]


def test_every_job_has_a_timeout() -> None:
    assert all("timeout-minutes" in job for job in _flow()["jobs"].values())


def test_paths_filters_include_the_sdk_pin() -> None:
    flow: dict[Any, Any] = _flow()
    on = flow[True]  # YAML 1.1 reads the key `on` as True
    for event in ("push", "pull_request"):
        assert "pyproject.toml" in on[event]["paths"]


def test_reports_are_uploaded_and_promote_reads_them() -> None:
    (upload,) = [s for s in _steps("build") if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload["if"] == "${{ always() }}"
    assert upload["with"]["path"] == "reports/"
    assert all(
        "--report-dir reports" in s["run"] for s in _steps("build") if "build $ARGS" in s.get("run", "")
    )
    for job in ("promote", "report"):
        (download,) = [
            s for s in _steps(job) if str(s.get("uses", "")).startswith("actions/download-artifact")
        ]
        assert download["with"]["pattern"] == upload["with"]["name"].split("${{")[0] + "*"


def test_the_dagger_cli_is_installed_by_daggers_action_at_the_sdk_pin() -> None:
    (install,) = [
        s for s in _steps("build") if str(s.get("uses", "")).startswith("dagger/dagger-for-github@")
    ]
    assert install["with"]["version"] == version("dagger-io")
    assert not {"call", "args"} & set(install["with"])  # install only; `dagger run` is our own step


def _matrix() -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main.main(["matrix"]) == 0
    return out.getvalue()


def test_builds_share_the_layer_cache_and_only_the_default_branch_writes_it() -> None:
    """One cache ref per image on GHCR; the flags must reach a session the command starts itself."""
    assert _flow()["env"]["LAYER_CACHE"].startswith("ghcr.io/")
    builds = [s for s in _steps("build") if "build $ARGS" in str(s.get("run", ""))]
    assert len(builds) == 2
    for step in builds:
        run = step["run"]
        assert "dagger run" not in run  # refused with the cache flags (ci/engine/remote.py)
        assert "_EXPERIMENTAL_DAGGER_CLI_BIN=$(command -v dagger)" in run
        assert '--cache-from "$LAYER_CACHE"' in run
        writes = '--cache-to "$LAYER_CACHE"' in run
        assert writes == (step["if"] == "${{ env.ON_DEFAULT_BRANCH == 'true' }}")
    (login,) = [s for s in _steps("build") if str(s.get("uses", "")).startswith("docker/login-action@")]
    assert login["if"] == "${{ env.ON_DEFAULT_BRANCH == 'true' }}"
    assert login["with"]["registry"] == "ghcr.io"
    for line in _cli_lines():
        if line.startswith("build"):
            args = main.build_parser().parse_args(_expand(line, "--tf 2.15.0"))
            for flag, values in (("--cache-from", args.cache_from), ("--cache-to", args.cache_to)):
                for value in values:
                    parse_cache(flag, value)  # a value the build accepts

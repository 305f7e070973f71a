"""Run this repository's GitHub Actions workflows on this host with act (nektos/act).

Why act: the workflows are the release path, and a first real run on GitHub must not be where
they first run. act executes them job by job (`-P ubuntu-latest=-self-hosted`: steps run on this
host, no Docker), with its own artifact server, and exactly as written: nothing in
.github/workflows is edited for the test. What GitHub provides and this machine cannot reach is
replaced for the run only:

- actions that download from the internet or need GitHub's services (setup-python, setup-go,
  cache, dagger-for-github, login-action, upload/download-artifact) by the stand-ins in
  tests/infra/act/actions, passed with
  `--local-repository OWNER/REPO@REF=DIR`, the key being the exact `uses:` ref (a commit pin);
- repository variables and secrets by `--var-file` / `--secret-file` (files, never argv);
- the repository and event by a payload file and the workspace's `origin` URL.

act does not model `permissions`, `concurrency` or `environment` protection; those rules are
checked by reading the workflow (tests/unit/workflow). Gotchas met on the way (tests/infra/act/
README.md): act inherits the host's environment, reads ~/.actrc, treats a workflow_dispatch
boolean input as true only when the payload has the string "true", and runs each job in its own
copy of the workspace.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STANDINS = {
    "actions/setup-python": "setup-python",
    "dagger/dagger-for-github": "dagger-for-github",
    "docker/login-action": "login-action",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/setup-go": "setup-go",
    "actions/cache": "cache",
}
SAME_REPOSITORY = {"actions/checkout"}  # act uses its own copy of the workspace for these
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)", re.MULTILINE)
# Never handed to act: it passes the host's environment to every step.
PRIVATE = re.compile(r"PASSWORD|TOKEN|SECRET|^DOCKER_CONFIG$|^GITHUB_|^ACTIONS_|^RUNNER_|^ACT$")


def act_binary() -> Path:
    """act at the version tests/infra/tools.sh pins, built there once (cached)."""
    tools = HERE.parent / "tools.sh"
    subprocess.run(["bash", str(tools), "install", "act"], capture_output=True, text=True, check=True)
    done = subprocess.run(["bash", str(tools), "path", "act"], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def assemble_actions(dest: Path) -> Path:
    """The stand-ins, each self-contained (act copies only the directory it is given)."""
    shutil.copytree(HERE / "actions", dest)
    for name in ("upload-artifact", "download-artifact"):
        shutil.copy(HERE / "artifact.py", dest / name / "artifact.py")
    return dest


def local_repositories(workspace: Path, actions: Path) -> list[str]:
    """--local-repository flags for every `uses:` of the workspace's workflows."""
    flags: list[str] = []
    text = "".join(p.read_text() for p in sorted((workspace / ".github" / "workflows").glob("*.yml")))
    for ref in sorted(set(USES.findall(text))):
        name = ref.split("@")[0]
        if ref.startswith("./") or name in SAME_REPOSITORY:
            continue
        if name not in STANDINS:
            raise AssertionError(f"{ref}: no offline stand-in in tests/infra/act/actions")
        flags += ["--local-repository", f"{ref}={actions / STANDINS[name]}"]
    return flags


def event_payload(
    event: str, owner: str, sha: str, inputs: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What GitHub sends for the event (the fields act and the workflow read)."""
    repository = {
        "full_name": f"{owner}/tf-images",
        "name": "tf-images",
        "owner": {"login": owner},
        "default_branch": "main",
    }
    if event == "pull_request":  # github.ref = refs/pull/7/merge
        pull = {"number": 7, "head": {"ref": "feature", "sha": sha}, "base": {"ref": "main", "sha": sha}}
        return {"action": "synchronize", "number": 7, "pull_request": pull, "repository": repository}
    if event == "push":  # github.sha = after (act reads it only when "deleted" is present)
        return {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": sha,
            "deleted": False,
            "repository": repository,
        }
    # workflow_dispatch: inputs are strings, as in GitHub's payload (act reads a boolean input as
    # true only for the string "true")
    return {"ref": "refs/heads/main", "inputs": dict(inputs or {}), "repository": repository}


@dataclass
class ActRun:
    event: str
    dir: Path
    returncode: int
    records: list[dict[str, Any]]  # act --json: one object per log line
    seconds: float
    logged_in: bool  # a job wrote registry credentials (~/.docker/config.json; removed after the run)

    @property
    def jobs(self) -> dict[str, str]:
        """job name (act's: 'images/plan', '<tag>/image/<tag>', ...) -> result."""
        return {str(r["job"]).strip(): str(r["jobResult"]) for r in self.records if "jobResult" in r}

    def steps(self, job: str) -> list[str]:
        """The main steps that ran (not skipped) in the jobs whose name contains `job`, in order."""
        return [
            str(r["step"])
            for r in self.records
            if job in str(r.get("job", "")) and r.get("stage") == "Main" and r.get("stepResult") == "success"
        ]

    def outputs(self, name: str) -> list[str]:
        """Every value a step set for the output `name` (::set-output / $GITHUB_OUTPUT)."""
        return [
            str(r["arg"]) for r in self.records if r.get("command") == "set-output" and r.get("name") == name
        ]

    def text(self, job: str | None = None) -> str:
        """What the job log shows (every job, or those whose name contains `job`)."""
        return "".join(
            str(r.get("msg", "")) + ("" if str(r.get("msg", "")).endswith("\n") else "\n")
            for r in self.records
            if job is None or job in str(r.get("job", ""))
        )

    def artifacts(self) -> dict[str, zipfile.ZipFile]:
        """name -> zip, from act's artifact server directory (<dir>/<run id>/<name>/<name>.zip)."""
        found = {}
        for path in sorted((self.dir / "artifacts").glob("*/*/*.zip")):
            found[path.parent.name] = zipfile.ZipFile(path)
        return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dotenv(path: Path, values: Mapping[str, str]) -> Path:
    path.touch(mode=0o600)
    path.write_text("".join(f"{key}={json.dumps(value)}\n" for key, value in values.items()))
    return path


def run_act(
    workspace: Path,
    event: str,
    payload: Mapping[str, Any],
    run_dir: Path,
    *,
    actions: Path,
    job: str | None = None,
    variables: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    actor: str = "maintainer",
    env: Mapping[str, str] | None = None,
    timeout: float = 1800,
) -> ActRun:
    """One `act EVENT` (or `-j JOB`: that job and the jobs it needs) in `workspace`."""
    home = run_dir / "home"  # ~/.actrc, ~/.docker/config.json of the login stand-in: per run
    home.mkdir(parents=True)
    event_file = run_dir / "event.json"
    event_file.write_text(json.dumps(payload))
    environment = {k: v for k, v in os.environ.items() if not PRIVATE.search(k)}
    environment |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    environment |= dict(env or {})
    argv = [
        str(act_binary()), event, "--json",
        "-C", str(workspace), "-W", ".github/workflows/images.yml",
        "--eventpath", str(event_file), "-P", "ubuntu-latest=-self-hosted",
        "--action-offline-mode", "--action-cache-path", str(run_dir / "act-cache"),
        "--artifact-server-path", str(run_dir / "artifacts"), "--artifact-server-addr", "127.0.0.1",
        "--artifact-server-port", str(_free_port()), "--no-cache-server", "--defaultbranch", "main",
        "--actor", actor,
        "--var-file", str(_dotenv(run_dir / "vars", variables or {})),
        "--secret-file", str(_dotenv(run_dir / "secrets", secrets or {})),
        *(["-j", job] if job else []),
        *local_repositories(workspace, actions),
    ]  # fmt: skip
    started = time.monotonic()
    credentials = home / ".docker" / "config.json"
    try:
        done = subprocess.run(
            argv, cwd=run_dir, env=environment, capture_output=True, text=True, timeout=timeout, check=False
        )
    finally:  # no credential stays on disk after the run
        (run_dir / "secrets").unlink()
        logged_in = credentials.exists()
        credentials.unlink(missing_ok=True)
    (run_dir / "act.log").write_text(done.stdout + done.stderr)
    records = []
    for line in done.stdout.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    shutil.rmtree(run_dir / "act-cache", ignore_errors=True)  # job workspaces and their venvs
    return ActRun(event, run_dir, done.returncode, records, time.monotonic() - started, logged_in)

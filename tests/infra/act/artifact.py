"""Offline stand-in for actions/upload-artifact@v4 and actions/download-artifact@v4 (act runs only).

Why: the real actions are JavaScript fetched from GitHub, and act v0.2.89's own artifact server
rejects uploads from the official client (nektos/act#6021: its signed upload URL carries an
unescaped `=` that the Azure SDK drops). This client speaks the same artifact service protocol (v4:
Twirp JSON at $ACTIONS_RESULTS_URL, authorised by the $ACTIONS_RUNTIME_TOKEN JWT whose `scp` claim
names the run and job) and keeps the signed URL verbatim, so an upload lands where the real action's
would: <--artifact-server-path>/<run id>/<name>/<name>.zip.

Emulated: upload `path` (lines, globs, `!` exclusions, a directory means its files; archive paths
relative to the search paths' common root, like @actions/artifact), if-no-files-found,
include-hidden-files, overwrite (without it GitHub answers 409 for an existing name; emulated here
because act's server silently replaces), compression-level; download by name or pattern,
merge-multiple, path; outputs artifact-id, artifact-digest, download-path. Not emulated:
retention-days (accepted), artifact-ids, cross-run downloads, artifact-url (empty).

Usage: python3 artifact.py upload|download   (inputs in INPUT_* variables, as a composite action)
"""

from __future__ import annotations

import base64
import fnmatch
import glob
import hashlib
import http.client
import io
import json
import os
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, NoReturn

SERVICE = "twirp/github.actions.results.api.v1.ArtifactService"


def inp(name: str, default: str = "") -> str:
    return os.environ.get("INPUT_" + name.upper().replace("-", "_"), "").strip() or default


def output(name: str, value: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as stream:
        stream.write(f"{name}={value}\n")


def fail(message: str) -> NoReturn:
    print(f"::error::{message}")
    sys.exit(1)


def backend_ids() -> tuple[str, str]:
    """(workflow run, job run) backend ids from the runtime token's `scp` claim, as @actions/artifact."""
    payload = os.environ["ACTIONS_RUNTIME_TOKEN"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    for scope in str(claims.get("scp", "")).split(" "):
        parts = scope.split(":")
        if parts[0] == "Actions.Results" and len(parts) == 3:
            return parts[1], parts[2]
    fail("the runtime token has no Actions.Results scope")


def _open(request: urllib.request.Request | str, timeout: float) -> Any:
    """The artifact server is local: never through the host's HTTP(S) proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(request, timeout=timeout)


def call(method: str, body: dict[str, object]) -> dict[str, Any]:
    run, job = backend_ids()
    request = urllib.request.Request(  # noqa: S310  (http://127.0.0.1, act's server)
        f"{os.environ['ACTIONS_RESULTS_URL'].rstrip('/')}/{SERVICE}/{method}",
        data=json.dumps({"workflowRunBackendId": run, "workflowJobRunBackendId": job, **body}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer " + os.environ["ACTIONS_RUNTIME_TOKEN"],
        },
        method="POST",
    )
    with _open(request, 60) as response:
        answer = json.loads(response.read() or b"{}")
    assert isinstance(answer, dict)
    return answer


def listed(name: str | None = None) -> list[dict[str, Any]]:
    try:
        found = call("ListArtifacts", {"nameFilter": name} if name else {}).get("artifacts", [])
    except http.client.RemoteDisconnected:
        return []  # act's server panics on a run with no artifact directory yet; GitHub: []
    except urllib.error.HTTPError as exc:
        if exc.code == 500:
            return []
        raise
    return [a for a in found if isinstance(a, dict)]


def _search_root(pattern: str) -> Path:
    """The pattern's directory part before its first glob character (@actions/glob's search path)."""
    parts = Path(pattern).parts
    fixed: list[str] = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    root = Path(*fixed) if fixed else Path(".")
    return root if (root.is_dir() or len(fixed) < len(parts)) else root.parent


def files_to_upload(spec: str, include_hidden: bool) -> tuple[Path, list[Path]]:
    workspace = Path(os.environ.get("GITHUB_WORKSPACE", "."))
    includes: list[str] = []
    excludes: list[str] = []
    for line in (line.strip() for line in spec.splitlines()):
        if line and not line.startswith("#"):
            target = excludes if line.startswith("!") else includes
            target.append(str((workspace / os.path.expanduser(line.lstrip("!"))).resolve()))
    found: set[Path] = set()
    roots: list[Path] = []
    for pattern in includes:
        roots.append(_search_root(pattern).resolve())
        for match in glob.glob(pattern, recursive=True):
            path = Path(match)
            found.update(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else found.add(path)

    def excluded(path: Path) -> bool:
        return any(fnmatch.fnmatch(str(path), x) or str(path).startswith(x + "/") for x in excludes)

    root = Path(os.path.commonpath([str(r) for r in roots])) if roots else workspace
    kept = [f for f in found if not excluded(f)]
    if not include_hidden:
        kept = [f for f in kept if not any(p.startswith(".") for p in f.relative_to(root).parts)]
    return root, sorted(kept)


def upload() -> None:
    name, mode = inp("name", "artifact"), inp("if-no-files-found", "warn")
    root, files = files_to_upload(inp("path"), inp("include-hidden-files", "false") == "true")
    if not files:
        message = f"No files were found with the provided path: {inp('path')}. No artifacts will be uploaded."
        if mode == "error":
            fail(message)
        if mode == "warn":
            print(f"::warning::{message}")
        return
    if listed(name):
        if inp("overwrite", "false") != "true":
            fail(
                "Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: "
                "an artifact with this name already exists on the workflow run"
            )
        call("DeleteArtifact", {"name": name})
        print(f"Artifact '{name}' deleted (overwrite: true)")
    buffer = io.BytesIO()
    level = int(inp("compression-level", "6"))
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    url = str(call("CreateArtifact", {"name": name, "version": 4})["signedUploadUrl"])
    for comp, body in (("appendBlock", data), ("blocklist", b"<BlockList></BlockList>")):
        put = urllib.request.Request(f"{url}&comp={comp}", data=body, method="PUT")  # noqa: S310
        with _open(put, 300):
            pass
    final = call("FinalizeArtifact", {"name": name, "size": str(len(data)), "hash": f"sha256:{digest}"})
    output("artifact-id", str(final.get("artifactId", "")))
    output("artifact-digest", digest)
    output("artifact-url", "")
    print(f"Artifact {name}: {len(files)} files, {len(data)} bytes, sha256:{digest}")


def download() -> None:
    for unsupported in ("artifact-ids", "github-token"):
        if inp(unsupported):
            fail(f"download-artifact stand-in: {unsupported} is not emulated")
    workspace = Path(os.environ.get("GITHUB_WORKSPACE", "."))
    target = (workspace / os.path.expanduser(inp("path", str(workspace)))).resolve()
    name, pattern = inp("name"), inp("pattern")
    if name:
        artifacts = listed(name)
        if not artifacts:
            fail(f"Unable to download artifact(s): Artifact not found for name: {name}")
    else:
        artifacts = [a for a in listed() if not pattern or fnmatch.fnmatchcase(str(a["name"]), pattern)]
    merge = bool(name) or inp("merge-multiple", "false") == "true"
    for artifact in artifacts:
        url = str(call("GetSignedArtifactURL", {"name": artifact["name"]})["signedUrl"])
        with _open(url, 300) as response:
            data = response.read()
        where = target if merge else target / str(artifact["name"])
        where.mkdir(parents=True, exist_ok=True)
        if not data:  # act keeps the empty file CreateArtifact made when an upload then failed
            print(f"::warning::artifact {artifact['name']} is empty (a failed upload?)")
            continue
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(where)
        print(f"Artifact {artifact['name']} ({len(data)} bytes) extracted to {where}")
    print(f"Total of {len(artifacts)} artifact(s) downloaded")
    output("download-path", str(target))


if __name__ == "__main__":
    {"upload": upload, "download": download}[sys.argv[1]]()

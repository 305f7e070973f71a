"""examples/: the Kubernetes manifests against the Kubernetes schemas and the image contract, and
docker-run.sh's command line (ports, /sync, variables, and no secret in any argument).

Why against ci/model/contract.py: the examples are the image's interface as users meet it; importing the
contract here means a changed port, URL path or variable name fails these tests until the examples
follow. The probe targets are also fetched from a running image in tests/e2e/test_examples_probes.py.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ci.model import contract
from ci.table.load import load_table
from ci.table.resolve import resolve_targets

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DEPLOYMENT = EXAMPLES / "k8s" / "deployment.yaml"
SERVICE = EXAMPLES / "k8s" / "service.yaml"
DOCKER_RUN = EXAMPLES / "docker-run.sh"
# The oldest Kubernetes minor still common in managed clusters, and the newest the validator ships.
K8S_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
# The guide's NodePorts (seed guide, section 6.2).
NODE_PORTS = {contract.JUPYTER.port: 30002, contract.TENSORBOARD.port: 30003, contract.SSH.port: 30004}
SECRET_ENV = (contract.ENV_ROOT_PASSWORD, contract.ENV_JUPYTER_TOKEN)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def container() -> dict[str, Any]:
    (only,) = load(DEPLOYMENT)["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def named_ports() -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container()["ports"]}


def port_number(port: int | str) -> int:
    return named_ports()[port] if isinstance(port, str) else port


def probe_targets() -> set[tuple[str, int, str | None]]:
    """(kind, port, path) of every probe; the readiness exec probe parsed into its tcp/http parts."""
    targets: set[tuple[str, int, str | None]] = set()
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container()[kind]
        if "httpGet" in probe:
            targets.add(("http", port_number(probe["httpGet"]["port"]), probe["httpGet"]["path"]))
        elif "tcpSocket" in probe:
            targets.add(("tcp", port_number(probe["tcpSocket"]["port"]), None))
        else:
            script = " ".join(probe["exec"]["command"])
            targets |= {("tcp", int(p), None) for p in re.findall(r"/dev/tcp/127\.0\.0\.1/(\d+)", script)}
            found = re.findall(r"http://127\.0\.0\.1:(\d+)(/\S*)", script)
            targets |= {("http", int(port), path) for port, path in found}
    return targets


def image_tags() -> set[str]:
    return {tag for spec in resolve_targets(load_table()) for tag in spec.all_tags}


# --------------------------------------------------------------------------- Kubernetes


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", [DEPLOYMENT, SERVICE], ids=lambda p: p.name)
def test_manifests_are_valid_kubernetes_objects(path: Path, version: str) -> None:
    kubernetes_validate.validate(load(path), version, strict=True)


def test_the_validator_rejects_a_misspelled_field() -> None:
    broken = load(DEPLOYMENT)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_container_ports_are_the_contract_services() -> None:
    assert sorted(named_ports().values()) == sorted(s.port for s in contract.SERVICES)
    assert {p.get("protocol", "TCP") for p in container()["ports"]} == {"TCP"}


def test_service_exposes_every_port_on_the_guides_node_ports() -> None:
    service = load(SERVICE)
    deployment = load(DEPLOYMENT)
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    exposed = {port_number(p["targetPort"]): p["nodePort"] for p in service["spec"]["ports"]}
    assert exposed == NODE_PORTS
    assert all(p["port"] == port_number(p["targetPort"]) for p in service["spec"]["ports"])


def test_probes_check_every_service_on_its_contract_port_and_path() -> None:
    targets = probe_targets()
    assert ("tcp", contract.SSH.port, None) in targets
    http = {(port, path) for kind, port, path in targets if kind == "http"}
    assert {port for port, _ in http} == {contract.JUPYTER.port, contract.TENSORBOARD.port}
    for service in (contract.JUPYTER, contract.TENSORBOARD):
        paths = [path for port, path in http if port == service.port]
        assert paths, service
        assert all(str(path).startswith(str(service.path)) for path in paths), (service, paths)
    # Liveness never depends on a (possibly busy) notebook server: ssh only.
    assert container()["livenessProbe"]["tcpSocket"]["port"] == "ssh"


def test_passwords_and_tokens_come_from_a_secret_never_a_literal() -> None:
    env = {e["name"]: e for e in container()["env"]}
    assert set(env) <= set(contract.OPERATOR_ENV)
    for name in SECRET_ENV:
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "tensorflow-example"
    for path in (DEPLOYMENT, SERVICE):
        assert load(path)["kind"] != "Secret"


def test_gpu_limit_and_a_memory_backed_dev_shm() -> None:
    assert container()["resources"]["limits"]["nvidia.com/gpu"] == 1
    (mount,) = [m for m in container()["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    (volume,) = [
        v for v in load(DEPLOYMENT)["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    ]
    assert volume["emptyDir"]["medium"] == "Memory"


def test_examples_name_an_image_tag_the_table_produces() -> None:
    tag = container()["image"].rsplit(":", 1)[1]
    assert tag in image_tags()
    default = re.search(r"IMAGE:-([^}]+)\}", DOCKER_RUN.read_text())
    assert default is not None
    assert default.group(1).rsplit(":", 1)[1] in image_tags()


def test_readme_walkthrough_uses_the_manifests_names_and_ports() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    assert "kubectl apply -f examples/k8s/" in readme
    assert "kubectl create secret generic tensorflow-example" in readme
    for key in ("root-password", "jupyter-token"):
        assert f"--from-file={key}=" in readme
    assert f"ssh -p {NODE_PORTS[contract.SSH.port]} root@" in readme
    assert f":{NODE_PORTS[contract.JUPYTER.port]}{contract.JUPYTER.path}" in readme
    assert f":{NODE_PORTS[contract.TENSORBOARD.port]}{contract.TENSORBOARD.path}" in readme
    assert "--from-literal" not in readme  # a literal lands in shell history and `ps`


# --------------------------------------------------------------------------- docker-run.sh


def test_docker_run_passes_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)")
    done = subprocess.run(["shellcheck", str(DOCKER_RUN)], text=True, capture_output=True, check=False)
    assert done.returncode == 0, done.stdout


def run_docker_run(tmp_path: Path, **env: str) -> tuple[list[str], dict[str, str], Path]:
    """Run the script with a `docker` on PATH that records its argv and environment.

    Why a recording docker: this machine has no Docker daemon. What is under test is the script's
    own work (the argv it builds, the files it writes); the image's side of the same inputs
    (/sync/root-passwd, JUPYTER_TOKEN, SSH_PUBLIC_KEY) runs for real in the service checks.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$RECORD"\nenv > "$RECORD.env"\n')
    fake.chmod(0o755)
    record = tmp_path / "argv"
    sync = tmp_path / "sync"
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "RECORD": str(record),
        "SYNC_DIR": str(sync),
        **env,
    }
    done = subprocess.run(
        ["bash", str(DOCKER_RUN)],
        env=environment,
        stdin=subprocess.DEVNULL,
        text=True,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = dict(line.split("=", 1) for line in Path(f"{record}.env").read_text().splitlines() if "=" in line)
    return record.read_text().splitlines(), seen, sync


def test_docker_run_command_line_follows_the_contract_and_carries_no_secret(tmp_path: Path) -> None:
    argv, seen, sync = run_docker_run(
        tmp_path,
        ROOT_PASSWORD="pw-never-in-argv",  # noqa: S106 - a marker to search argv for
        JUPYTER_TOKEN="tok-never-in-argv",  # noqa: S106
    )
    assert not [a for a in argv if "never-in-argv" in a]
    assert argv[:2] == ["run", "-d"]
    pairs = list(itertools.pairwise(argv))
    published = {int(value.split(":")[1]): int(value.split(":")[0]) for flag, value in pairs if flag == "-p"}
    assert published == {
        contract.SSH.port: 2222,
        contract.JUPYTER.port: 8888,
        contract.TENSORBOARD.port: 6006,
    }
    assert ("-v", f"{sync}:{contract.SYNC_DIR}") in pairs
    assert ("--gpus", "all") in pairs
    assert ("--restart", "always") in pairs
    assert ("--shm-size", "8g") in pairs
    passed_env = [value for flag, value in pairs if flag == "-e"]
    assert passed_env == [contract.ENV_JUPYTER_TOKEN]  # a name only: docker reads the value from its env
    assert set(passed_env) <= set(contract.OPERATOR_ENV)
    assert seen[contract.ENV_JUPYTER_TOKEN] == "tok-never-in-argv"
    assert contract.ENV_ROOT_PASSWORD not in seen  # handed over as a file, not an environment variable
    password_file = sync / Path(contract.ROOT_PASSWORD_FILE).name
    assert password_file.read_text() == "root:pw-never-in-argv\n"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(sync.stat().st_mode) == 0o700


def test_docker_run_without_gpus_or_secrets_leaves_them_to_the_image(tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_ed25519.pub").write_text("ssh-ed25519 AAAA test@example\n")
    argv, seen, sync = run_docker_run(tmp_path, GPUS="")
    assert "--gpus" not in argv
    assert [v for f, v in itertools.pairwise(argv) if f == "-e"] == [contract.ENV_SSH_PUBLIC_KEY]
    assert seen[contract.ENV_SSH_PUBLIC_KEY] == "ssh-ed25519 AAAA test@example"
    assert not (sync / "root-passwd").exists()  # no terminal, no password: the image generates one

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
K8S = EXAMPLES / "k8s"
DEPLOYMENT = K8S / "deployment.yaml"
SERVICE = K8S / "service.yaml"
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


def json_patch(document: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 `add` and `replace` (what gpu/gpu.yaml uses), as kustomize applies them."""
    for operation in operations:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"].split("/")[1:]]
        target = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key: Any = int(last) if isinstance(target, list) else last
        assert operation["op"] in ("add", "replace"), operation
        if operation["op"] == "replace":
            assert key in target if isinstance(target, dict) else key < len(target), operation["path"]
        target[key] = operation["value"]
    return document


def gpu_deployment() -> dict[str, Any]:
    operations = yaml.safe_load((K8S / "gpu" / "gpu.yaml").read_text())
    patched = json_patch(load(DEPLOYMENT), operations)
    assert isinstance(patched, dict)
    return patched


def image_tags() -> set[str]:
    return {tag for spec in resolve_targets(load_table()) for tag in spec.all_tags}


# --------------------------------------------------------------------------- Kubernetes


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", ["deployment", "gpu deployment", "service", "pvc"])
def test_manifests_are_valid_kubernetes_objects(name: str, version: str) -> None:
    manifest = {"deployment": load(DEPLOYMENT), "gpu deployment": gpu_deployment()}.get(name)
    kubernetes_validate.validate(manifest or load(K8S / f"{name}.yaml"), version, strict=True)


def test_the_validator_rejects_a_misspelled_field() -> None:
    broken = load(DEPLOYMENT)
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(broken, K8S_VERSIONS[0], strict=True)


def test_kustomizations_name_every_manifest_and_the_gpu_patch() -> None:
    base = load(K8S / "kustomization.yaml")
    assert sorted(base["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    overlay = load(K8S / "gpu" / "kustomization.yaml")
    assert overlay["resources"] == [".."]
    (patch,) = overlay["patches"]
    assert patch["target"] == {"kind": "Deployment", "name": load(DEPLOYMENT)["metadata"]["name"]}
    assert (K8S / "gpu" / patch["path"]).is_file()


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
    assert env[contract.ENV_SSH_PUBLIC_KEY]["valueFrom"]["secretKeyRef"]["optional"] is True
    for path in (DEPLOYMENT, SERVICE, K8S / "pvc.yaml"):
        assert load(path)["kind"] != "Secret"


def test_root_and_the_host_keys_live_on_the_persistent_volume() -> None:
    """Issue 20, defect 12: the only volume was /dev/shm; a restart lost notebooks, logs and host keys."""
    pod = load(DEPLOYMENT)["spec"]["template"]["spec"]
    (state,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert state["persistentVolumeClaim"]["claimName"] == load(K8S / "pvc.yaml")["metadata"]["name"]
    mounts = {
        m["mountPath"]: m.get("subPath") for m in container()["volumeMounts"] if m["name"] == state["name"]
    }
    assert mounts == {contract.WORKDIR: "home", "/etc/ssh": "ssh"}
    assert contract.TENSORBOARD_LOGDIR.startswith(contract.WORKDIR + "/")
    assert contract.JUPYTER_TOKEN_FILE.startswith(contract.WORKDIR + "/")
    (seed,) = pod["initContainers"]
    assert [m["name"] for m in seed["volumeMounts"]] == [state["name"]]
    assert seed["image"] == container()["image"]  # the image whose /root and /etc/ssh it seeds


def test_a_restricted_security_context() -> None:
    for spec in (container(), load(DEPLOYMENT)["spec"]["template"]["spec"]["initContainers"][0]):
        security = spec["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert not {"SYS_ADMIN", "NET_RAW", "NET_ADMIN"} & set(security["capabilities"]["add"])
        assert "privileged" not in security
    assert container()["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


@pytest.mark.parametrize("deployment", ["cpu", "gpu"])
def test_an_alias_is_pulled_every_time_and_names_a_tag_the_table_makes(deployment: str) -> None:
    """Defect 12: a floating alias with IfNotPresent never picks up a promoted image."""
    pod = (load(DEPLOYMENT) if deployment == "cpu" else gpu_deployment())["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "tensorflow-example-pull"}]
    for spec in (*pod["initContainers"], *pod["containers"]):
        image = spec["image"]
        assert "@sha256:" in image or spec["imagePullPolicy"] == "Always", spec["name"]
        assert image.rsplit(":", 1)[1] in image_tags()
        assert image.rsplit(":", 1)[1].endswith(deployment)


def test_the_gpu_variant_requests_a_gpu_and_the_cpu_one_does_not() -> None:
    gpu = gpu_deployment()["spec"]["template"]["spec"]
    assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert gpu["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "nvidia.com/gpu" not in container()["resources"]["limits"]
    (mount,) = [m for m in container()["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    (volume,) = [
        v for v in load(DEPLOYMENT)["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    ]
    assert volume["emptyDir"]["medium"] == "Memory"


def test_examples_name_an_image_tag_the_table_produces() -> None:
    default = re.search(r"IMAGE:-([^}]+)\}", DOCKER_RUN.read_text())
    assert default is not None
    assert default.group(1).rsplit(":", 1)[1] in image_tags()


def k8s_blocks() -> list[str]:
    """The shell blocks of examples/README.md's Kubernetes walkthrough, in order."""
    readme = (EXAMPLES / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)```", readme.split("## Kubernetes", 1)[1], re.DOTALL)


@pytest.mark.parametrize("ssh_key", [True, False], ids=["with-ssh-key", "without-ssh-key"])
@pytest.mark.parametrize("pull_secret", [True, False], ids=["private-package", "public-package"])
def test_readme_walkthrough_runs_with_or_without_the_optional_steps(
    tmp_path: Path, ssh_key: bool, pull_secret: bool
) -> None:
    """Defect 12: the Secret step failed where the optional SSH key was skipped. Each setup block
    runs in one bash (as a reader pastes them), with a `kubectl` that records its arguments."""
    secret, pull, apply, use = k8s_blocks()
    assert use.lstrip().startswith("ssh -p")  # the last block uses the deployment; nothing to run
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    if ssh_key:
        (home / ".ssh" / "id_ed25519.pub").write_text("ssh-ed25519 AAAA user@example\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "kubectl.calls"
    (bin_dir / "kubectl").write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {calls}\n')
    (bin_dir / "kubectl").chmod(0o755)
    script = secret + (pull if pull_secret else "") + apply
    answers = "root-pw\n" + ("me\ntoken-secret\n" if pull_secret else "")
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=tmp_path, input=answers, text=True, capture_output=True, check=False,
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(home)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    created = lines[0].split()
    assert created[:4] == ["create", "secret", "generic", "tensorflow-example"]
    assert "--from-file=root-password=root-password" in created
    assert any(a.startswith("--from-file=ssh-public-key=") for a in created) == ssh_key
    assert ("create secret generic tensorflow-example-pull" in calls.read_text()) == pull_secret
    assert "apply -k examples/k8s" in lines
    assert "rollout status deployment/tensorflow-example --timeout=10m" in lines
    assert not (tmp_path / "root-password").exists()  # shredded
    assert not (tmp_path / "pull.json").exists()
    assert "root-pw" not in calls.read_text()
    assert "token-secret" not in calls.read_text()
    assert stat.S_IMODE((tmp_path / "jupyter-token").stat().st_mode) == 0o600


def test_readme_walkthrough_uses_the_manifests_names_and_ports() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    assert "kubectl apply -k examples/k8s" in readme
    assert "kubectl apply -k examples/k8s/gpu" in readme
    assert f"ssh -p {NODE_PORTS[contract.SSH.port]} root@" in readme
    assert f":{NODE_PORTS[contract.JUPYTER.port]}{contract.JUPYTER.path}" in readme
    assert f":{NODE_PORTS[contract.TENSORBOARD.port]}{contract.TENSORBOARD.path}" in readme
    assert "--from-literal" not in readme  # a literal lands in shell history and `ps`
    assert "--docker-password" not in readme


def seed(tmp_path: Path, image_root: Path, prefix: str) -> subprocess.CompletedProcess[str]:
    """The init container's script, run on this host with the pod's paths under tmp_path."""
    (seed_spec,) = load(DEPLOYMENT)["spec"]["template"]["spec"]["initContainers"]
    script = seed_spec["command"][-1]
    for path in ("/mnt/state", "/etc/tfimage/contract.env", "/etc/ssh", "/root"):
        script = script.replace(path, f"{tmp_path}/pod{path}")
    contract_env = tmp_path / "pod" / "etc" / "tfimage" / "contract.env"
    contract_env.parent.mkdir(parents=True, exist_ok=True)
    contract_env.write_text(f"TFIMAGE_PYTHON_PREFIX={tmp_path}/pod{prefix}\n")
    return subprocess.run([*seed_spec["command"][:-1], script], text=True, capture_output=True, check=False)


def test_the_init_container_seeds_once_keeps_users_files_and_follows_the_images_python(
    tmp_path: Path,
) -> None:
    image = tmp_path / "pod"
    for path, text in {
        "etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*.conf\n",
        "root/.bashrc": "# image\n",
        "root/miniconda3/conda-meta/python-3.10.json": "{}",
        "root/miniconda3/lib/python3.10/site-packages/tensorflow-2.15.0.dist-info/METADATA": "2.15.0",
    }.items():
        (image / path).parent.mkdir(parents=True, exist_ok=True)
        (image / path).write_text(text)
    state = image / "mnt" / "state"
    assert seed(tmp_path, image, "/root/miniconda3").returncode == 0
    assert (state / "ssh" / "sshd_config").is_file()
    assert (state / "home" / "miniconda3" / "conda-meta" / "python-3.10.json").is_file()
    # What the first boot and the users make: host keys, notebooks, logs.
    (state / "ssh" / "ssh_host_ed25519_key").write_text("key")
    (state / "home" / "work.ipynb").write_text("{}")
    (state / "home" / ".bashrc").write_text("# mine\n")
    done = seed(tmp_path, image, "/root/miniconda3")  # the next start, same image
    assert done.returncode == 0, done.stderr
    assert (state / "ssh" / "ssh_host_ed25519_key").read_text() == "key"
    assert (state / "home" / ".bashrc").read_text() == "# mine\n"
    # A new image: TensorFlow 2.16 in its Miniconda. The volume's copy becomes the image's.
    old = image / "root/miniconda3/lib/python3.10/site-packages/tensorflow-2.15.0.dist-info"
    old.rename(old.with_name("tensorflow-2.16.1.dist-info"))
    done = seed(tmp_path, image, "/root/miniconda3")
    assert done.returncode == 0, done.stderr
    site = state / "home" / "miniconda3" / "lib" / "python3.10" / "site-packages"
    assert sorted(p.name for p in site.iterdir()) == ["tensorflow-2.16.1.dist-info"]
    assert (state / "home" / "work.ipynb").is_file()
    assert (state / "ssh" / "ssh_host_ed25519_key").read_text() == "key"
    # A system-Python image (/opt/python) keeps nothing of its Python under /root: nothing to follow.
    assert seed(tmp_path, image, "/opt/python").returncode == 0


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

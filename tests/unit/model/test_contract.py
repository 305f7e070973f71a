"""ci/model/contract.py is the one home of the image's promises: the generated file round-trips through
every reader in the image, and no file in context/ carries its own copy of a value."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import tokenize
from pathlib import Path

import pytest

from ci.model import contract
from tests.unit.context_env import CONTEXT, PREFIX, clean_env, load_init_module

# Values that would betray a copy: every contract value distinctive enough to search for (WORKDIR
# "/root" and the like also appear as ordinary paths such as /root/.ssh).
DISTINCTIVE = (
    contract.TIMEZONE,
    contract.LOCALE,
    contract.LANGUAGE,
    str(contract.JUPYTER.port),
    str(contract.TENSORBOARD.port),
    str(contract.JUPYTER.path).rstrip("/"),
    str(contract.TENSORBOARD.path).rstrip("/"),
    contract.TENSORBOARD_LOGDIR,
    contract.SUPERVISOR_LOG_DIR,
    contract.JUPYTER_TOKEN_FILE,
    contract.MINICONDA_PREFIX,
    contract.SYSTEM_PYTHON_PREFIX,
    f"{contract.SYNC_DIR}/",
    contract.ENV_SNAPSHOT_FILE,
)


def code_without_comments(path: Path) -> str:
    """What a file does, without what it says: comments and docstrings are documentation."""
    text = path.read_text()
    if path.suffix == ".py":
        tree = ast.parse(text)
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        kept = []
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                continue
            kept.append(token.string)
        code = " ".join(kept)
        for node in ast.walk(tree):
            if id(node) in docstrings and isinstance(node, ast.Constant):
                code = code.replace(repr(node.value), "").replace(str(node.value), "")
        return code
    comment = ";" if path.suffix == ".conf" and "supervisor" in path.parts else "#"
    lines = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith((comment, "#")):
            continue
        lines.append(re.sub(r"\s+#\s.*$", "", line))  # trailing shell comments
    return "\n".join(lines)


def copies_in(code: str) -> list[str]:
    """The contract values `code` spells out (a port as a number, a path not inside another path)."""
    found = []
    for value in DISTINCTIVE:
        # A port as a whole number; a path not inside another (/jupyter vs /init/jupyter/...).
        number, path = rf"(?<!\d){value}(?!\d)", rf"(?<![\w./-]){re.escape(value)}"
        if re.search(number if value.isdigit() else path, code):
            found.append(value)
    return found


CODE_FILES = sorted(p for p in CONTEXT.rglob("*") if p.is_file() and p.suffix != ".md")


@pytest.mark.parametrize("path", CODE_FILES, ids=lambda p: str(p.relative_to(CONTEXT)))
def test_no_context_file_hard_codes_a_contract_value(path: Path) -> None:
    copies = copies_in(code_without_comments(path))
    assert copies == [], f"{path.relative_to(CONTEXT)} spells out {copies}; read them from the contract"


def test_the_search_would_find_a_copy(tmp_path: Path) -> None:
    """The check above is not vacuous: a copied port or locale in code is found, in a comment not."""
    sample = tmp_path / "x.sh"
    sample.write_text(f"# {contract.LOCALE} in a comment is fine\nLANG={contract.LOCALE}\n")
    assert copies_in(code_without_comments(sample)) == [contract.LOCALE]
    py = tmp_path / "x.py"
    py.write_text(
        f'"""Port {contract.JUPYTER.port} in the docstring."""\nPORT = {contract.JUPYTER.port}  # no\n'
    )
    assert copies_in(code_without_comments(py)) == [str(contract.JUPYTER.port)]
    py.write_text(
        f'"""Port {contract.JUPYTER.port} in the docstring."""\nPORT = 1  # {contract.JUPYTER.port}\n'
    )
    assert copies_in(code_without_comments(py)) == []
    conf = tmp_path / "supervisord.conf"
    conf.write_text("; /monitor here is fine\ncommand=tensorboard --path_prefix /monitor\n")
    assert copies_in(code_without_comments(conf)) == [str(contract.TENSORBOARD.path).rstrip("/")]


def test_contract_env_round_trips_through_every_reader(tmp_path: Path) -> None:
    env_file = tmp_path / "contract.env"
    text = contract.contract_env_file(PREFIX)
    env_file.write_text(text)
    want = dict(contract.contract_env(PREFIX))
    # POSIX sh and bash (boot.sh, profile.d, the MOTD) source it.
    for shell in ("sh", "bash"):
        out = subprocess.run(
            [shell, "-c", f'set -a; . "{env_file}"; env'],
            env=clean_env(),
            text=True,
            capture_output=True,
            check=True,
        ).stdout
        got = dict(line.split("=", 1) for line in out.splitlines() if line.startswith("TFIMAGE_"))
        assert got == want, shell
    # init.py's reader, jupyter_config.py's rule and ci's own parser.
    assert load_init_module().parse_env_file(text) == want
    assert contract.parse_contract_env(text) == want


def test_contract_env_refuses_a_value_no_reader_could_take(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "TIMEZONE", "Asia/Shang hai")
    with pytest.raises(ValueError, match="TFIMAGE_TIMEZONE"):
        contract.contract_env_file(PREFIX)
    monkeypatch.setattr(contract, "TIMEZONE", "%(here)s")  # supervisord would expand it
    with pytest.raises(ValueError, match="unquoted"):
        contract.contract_env_file(PREFIX)


def test_contract_is_self_consistent() -> None:
    assert [s.port for s in contract.SERVICES] == [22, 8888, 6006]  # the product's published ports
    assert str(contract.JUPYTER.path).startswith("/")
    assert str(contract.JUPYTER.path).endswith("/")
    assert contract.BOOT_SCRIPT.startswith(contract.INIT_DIR + "/")
    assert dict(contract.locale_env())["LANG"] == contract.LOCALE

"""Loading versions.yaml: the shared sections (sources, os_bases, pythons, cuda_images) against the
reference data, and a loaded table that round-trips."""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ci import select
from ci.model.errors import UserError
from ci.model.paths import DEFAULT_TABLE
from ci.table.fields import display_name
from ci.table.load import load_table
from ci.table.rows import Table
from tests.unit import hostile

REFERENCE = Path(__file__).resolve().parents[2] / "fixtures" / "reference"  # its README names the sources


def test_sources_cited_in_versions_yaml_exist(table: Table) -> None:
    """Every "(source: KEY)" a comment or value names is in sources:, with an https URL."""
    text = table.path.read_text(encoding="utf-8")
    cited = set(re.findall(r"(?<![_a-z])source: ([a-z0-9][a-z0-9.-]*[a-z0-9])", text)) - {"null"}
    assert cited, "no citations found"
    unknown = cited - set(table.compat.sources)
    assert not unknown, f"cited but not in sources: {sorted(unknown)}"
    assert not re.search(r"\(S\d+b?\)|\bS\d+\b|/work/|compat-data", text), "opaque or machine-local source"
    assert all(s.url.startswith("https://") for s in table.compat.sources.values())


def test_os_bases_include_the_offline_debian(table: Table) -> None:
    assert table.os_bases["debian12"].image == "debian:bookworm"
    assert {"ubuntu20.04", "ubuntu22.04", "ubuntu24.04"} <= set(table.os_bases)


def _reference_hashes() -> dict[str, str]:
    lines = (REFERENCE / "miniconda-linux-x86_64-sha256.txt").read_text().splitlines()
    return dict(line.split() for line in lines if line and not line.startswith("#"))


def test_verified_miniconda_hashes_match_primary_reference_data(table: Table) -> None:
    hashes = _reference_hashes()
    assert hashes, "reference files parsed to nothing"
    for py, row in table.pythons.items():
        if row.miniconda is None or not row.miniconda.verified:
            continue
        assert hashes.get(row.miniconda.filename) == row.miniconda.sha256, py


def test_unverified_installers_are_kept_but_flagged(table: Table) -> None:
    py313 = table.pythons["3.13"].miniconda
    assert py313 is not None
    assert not py313.verified
    assert table.pythons["3.6"].miniconda is None
    assert table.pythons["3.6"].miniconda_missing


def test_gpu_cudnn_versions_match_nvidia_dockerfiles(table: Table) -> None:
    text = (REFERENCE / "nvidia-cuda-cudnn-versions-in-dockerfiles.txt").read_text()
    for tag, image in table.cuda_images.items():
        cuda, _, os_id = tag.split("-")[0], None, image.os_id
        os_dir = os_id.replace(".", "")
        pattern = (
            rf"dist/(?:end-of-life/)?{re.escape(cuda)}/{os_dir}/devel/cudnn\d?/Dockerfile"
            rf" .*NV_CUDNN_VERSION[ =]{re.escape(image.cudnn)}"
        )
        assert re.search(pattern, text), tag


def test_round_trip_of_the_real_table_loads(write_table: Any, raw_table: dict[str, Any]) -> None:
    loaded = load_table(write_table(raw_table))
    assert loaded.tf_versions == load_table().tf_versions


# --------------------------------------------------------------------------- property (issue 16)

_RAW = yaml.safe_load(DEFAULT_TABLE.read_text(encoding="utf-8"))


@hostile.PROPERTY
@given(
    document=st.one_of(
        hostile.yaml_documents(),
        st.tuples(st.integers(0, 5000), hostile.json_values).map(
            lambda change: yaml.safe_dump(hostile.mutate(copy.deepcopy(_RAW), *change), sort_keys=False)
        ),
    ),
    kind=st.sampled_from(hostile.PATH_KINDS),
)
def test_the_table_reader_on_hostile_tables(document: str, kind: str) -> None:
    """Any table text: loaded and resolved (targets and aliases), or one line naming the file."""
    with tempfile.TemporaryDirectory() as directory:
        path = hostile.hostile_path(Path(directory), "versions.yaml", document, kind)
        hostile.assert_reader(lambda: select.load(path), display_name(path))


def test_the_installer_pin_is_checked(write_table: Any, raw_table: dict[str, Any]) -> None:
    """tools.uv: a version, a cited source and, per platform, a uv wheel URL with two sha256."""

    def loads(change: Any) -> None:
        data = copy.deepcopy(raw_table)
        change(data["tools"]["uv"])
        load_table(write_table(data))

    amd64 = "linux/amd64"
    cases = [
        (
            lambda uv: uv["files"][amd64].update(sha256="abc"),
            r"tools.uv.files\['linux/amd64'\]: field 'sha256'",
        ),
        (lambda uv: uv["files"][amd64].pop("binary_sha256"), "field 'binary_sha256': missing"),
        (
            lambda uv: uv["files"][amd64].update(url="https://x.example/pip-1.0.whl"),
            "is not a uv 0.13.8 wheel",
        ),
        (lambda uv: uv.update(files={"linux/arm64": uv["files"][amd64]}), "no wheel for linux/amd64"),
        (lambda uv: uv.update(files={"amd64": uv["files"][amd64]}), "not a platform"),
        (lambda uv: uv.update(source="nowhere"), "'nowhere' is not a key of sources"),
        (lambda uv: uv.update(version="0.13"), "field 'version'"),
    ]
    for change, message in cases:
        with pytest.raises(UserError, match=message):
            loads(change)
    data = copy.deepcopy(raw_table)
    del data["tools"]
    with pytest.raises(UserError, match="tools"):
        load_table(write_table(data))

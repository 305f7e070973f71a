"""Finding syft, osv-scanner and cosign: $TFCI_<TOOL> first, else PATH; missing is one line saying
what needs it and how to name it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci.model.errors import UserError
from ci.supply import tools


def test_the_variable_names_the_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "syft"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("TFCI_SYFT", str(binary))
    assert tools.find(tools.SYFT, "--report-dir") == binary
    binary.chmod(0o644)
    with pytest.raises(UserError, match=r"\$TFCI_SYFT .*/syft: not an executable file"):
        tools.find(tools.SYFT, "--report-dir")


def test_else_path_else_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFCI_COSIGN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError) as err:
        tools.find(tools.COSIGN, "sign")
    assert err.value.message == (
        "sign needs cosign (github.com/sigstore/cosign), not found on PATH: install it "
        "(tests/infra/tools.sh install cosign builds the pinned version) or name the binary in $TFCI_COSIGN"
    )
    (tmp_path / "cosign").write_text("#!/bin/sh\n")
    (tmp_path / "cosign").chmod(0o755)
    assert tools.find(tools.COSIGN, "sign") == tmp_path / "cosign"

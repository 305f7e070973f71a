"""The pip-CUDA image the probe tests check against, beside the CPU image of tests/unit/conftest.py."""

from __future__ import annotations

import pytest

from ci.model.spec import ImageSpec
from ci.table.resolve import resolve
from ci.table.rows import Table
from tests.e2e.specs import GPU_REQUEST


@pytest.fixture
def pip_spec(table: Table) -> ImageSpec:
    """The pip-CUDA image the slow e2e test builds (2.15.1, Debian 12)."""
    return resolve(table, GPU_REQUEST)

"""The image the pipeline tests build, check and publish: the e2e CPU image."""

from __future__ import annotations

import pytest

from ci.model.spec import ImageSpec


@pytest.fixture
def spec(cpu_spec: ImageSpec) -> ImageSpec:
    return cpu_spec

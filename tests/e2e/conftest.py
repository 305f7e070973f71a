"""The e2e tests' own fixtures: the multi-platform build that starts with the first engine test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import background

BACKGROUND = "background"  # the marker of the tests that read the background build


@pytest.fixture(scope="session", autouse=True)
def _background_build(request: pytest.FixtureRequest) -> Iterator[background.BackgroundBuild | None]:
    """Start the multi-platform build as soon as an e2e test runs, if any selected test reads it."""
    if not any(item.get_closest_marker(BACKGROUND) for item in request.session.items):
        yield None
        return
    infra = request.getfixturevalue("infra")
    build = background.start(infra)
    try:
        yield build
    finally:
        build.stop()


@pytest.fixture(scope="session")
def multi_build(_background_build: background.BackgroundBuild | None) -> background.BackgroundBuild:
    assert _background_build is not None, "the background build starts when a test is marked background"
    return _background_build

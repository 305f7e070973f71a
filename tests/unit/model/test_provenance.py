"""Provenance labels come from the commit and the workflow's environment, never from the clock."""

from __future__ import annotations

import pytest

from ci.model.errors import UserError
from ci.model.provenance import Commit, provenance, provenance_of, rfc3339

COMMIT = Commit("0123456789abcdef0123456789abcdef01234567", 1_700_000_000)


def test_a_commit_gives_revision_and_its_own_time() -> None:
    found = provenance(COMMIT, env={})
    assert found.revision == COMMIT.revision
    assert found.created == "2023-11-14T22:13:20Z" == rfc3339(COMMIT.time)
    assert found.source is None  # versions.yaml image.source then applies (ci.select)
    assert provenance(COMMIT, env={}) == found  # the same commit: the same labels, at any time


def test_outside_a_checkout_nothing_is_made_up() -> None:
    assert provenance(None, env={}) == provenance(None, env={"HOME": "/root"})
    found = provenance(None, env={})
    assert (found.created, found.revision, found.source) == (None, None, None)


def test_a_workflow_names_its_repository_and_commit() -> None:
    env = {
        "GITHUB_SERVER_URL": "https://github.com/",
        "GITHUB_REPOSITORY": "MyOrg/tf-images",
        "GITHUB_SHA": "f" * 40,
    }
    assert provenance(None, env).source == "https://github.com/MyOrg/tf-images"
    assert provenance(None, env).revision == "f" * 40
    assert provenance(COMMIT, env).revision == COMMIT.revision  # the checkout is what was built


def test_source_date_epoch_wins_and_must_be_seconds() -> None:
    assert provenance(COMMIT, {"SOURCE_DATE_EPOCH": "0"}).created == "1970-01-01T00:00:00Z"
    with pytest.raises(UserError, match=r"\$SOURCE_DATE_EPOCH: expected seconds .* got 'yesterday'"):
        provenance(COMMIT, {"SOURCE_DATE_EPOCH": "yesterday"})


def test_provenance_as_an_image_states_it() -> None:
    labels = {
        "org.opencontainers.image.revision": "abc",
        "org.opencontainers.image.version": "2.15.0-cpu",
        "org.opencontainers.image.title": "tensorflow",
        "io.tfimages.variant": "cpu",
    }
    assert provenance_of(labels) == {"revision": "abc", "version": "2.15.0-cpu"}

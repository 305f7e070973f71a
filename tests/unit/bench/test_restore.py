"""The restore split (tests/bench/restore.py) read from an engine log and a registry access log."""

from __future__ import annotations

import pytest

from tests.bench.restore import MATERIALIZE_MARKER, restore_split

ENGINE_LOG = "\n".join(
    (
        'time="2026-12-02T02:46:54Z" level=debug msg="fetching layer" chunk_size=0 span="x"',
        'time="2026-12-02T02:47:00Z" level=debug msg="starting container" '
        'args="[/.init bash -euo pipefail /tmp/tfci-build/locale.sh zh_CN.UTF-8]" call_id="xxh3:1"',
        'time="2026-12-02T02:47:03Z" level=debug msg="container done" '
        'args="[/.init bash -euo pipefail /tmp/tfci-build/locale.sh zh_CN.UTF-8]" call_id="xxh3:1"',
        f'time="2026-12-02T02:47:30Z" level=debug msg="starting container" '
        f'args="[/.init sh -c echo {MATERIALIZE_MARKER} 0a1b]" call_id="xxh3:2"',
    )
)


def _blob_get(when: str, duration: str, written: int, path: str = "blobs/sha256:" + "a" * 64) -> str:
    return (
        f'time="{when}" level=info msg="response completed" http.request.method=GET '
        f'http.request.uri="/v2/tfci-bench/layer-cache/{path}" http.response.duration={duration} '
        f"http.response.status=200 http.response.written={written}"
    )


REGISTRY_LOG = "\n".join(
    (
        _blob_get("2026-12-02T02:46:55.500000000Z", "500ms", 1_000_000),
        _blob_get("2026-12-02T02:46:57.000000000Z", "1m0.5s", 300_000_000),  # started before the first
        _blob_get("2026-12-02T02:46:58.000000000Z", "1ms", 0),  # a HEAD-like empty answer: not a blob
        _blob_get("2026-12-02T02:46:58.000000000Z", "1ms", 900, path="manifests/image"),
    )
)


def test_split_pull_from_the_registry_rerun_from_the_engine_unpack_the_rest() -> None:
    split = restore_split(ENGINE_LOG, REGISTRY_LOG)
    assert (split.blobs, split.blob_bytes) == (2, 301_000_000)
    assert split.pull_s == pytest.approx(60.5)  # 02:45:56.5 .. 02:46:57 (the last blob with bytes)
    assert split.rerun == ["locale"]
    assert split.rerun_s == 3.0
    assert split.unpack_s == pytest.approx(33 - 3)  # 02:46:57 .. 02:47:30 minus the re-run
    assert "layer commands run again: locale" in split.render()


def test_split_without_a_registry_log_starts_unpacking_at_the_first_fetch() -> None:
    split = restore_split(ENGINE_LOG, "")
    assert split.pull_s is None
    assert split.blobs == 0
    assert split.unpack_s == pytest.approx(36 - 3)
    assert "pull ?" in split.render()

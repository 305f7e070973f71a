"""Counting each layer function's filesystem operations (the counts the report's layer attribution
reads, ci.report.layers), and when the wheel prefetch runs next to the layers."""

from __future__ import annotations

from typing import Any, cast

import pytest

from ci.build import steps as steps_module
from ci.build.layers import LAYER_ORDER, Layers
from ci.build.options import BuildOptions
from ci.build.steps import FS_OPERATIONS, PREFETCH_NEEDED_BY, _Counting, _unwrap, build_in_steps
from ci.model.spec import ImageSpec


def test_layer_order_and_filesystem_operations_are_known() -> None:
    assert LAYER_ORDER[0] == "base"
    assert {"with_exec", "with_directory", "with_new_file"} <= FS_OPERATIONS
    assert not {"with_env_variable", "with_mounted_cache", "with_label", "with_workdir"} & FS_OPERATIONS


def test_a_counting_container_counts_only_what_adds_a_layer() -> None:
    """The wrapper sees every call a layer function makes, and counts the filesystem changes only."""
    from dagger import Container, dag

    operations: list[str] = []
    wrapped: Any = _Counting(dag.container(), operations)
    result = (
        wrapped.from_("debian:bookworm")
        .with_exec(["true"])
        .with_env_variable("A", "1")
        .with_new_file("/etc/x", "y")
        .with_label("k", "v")
        .with_mounted_cache("/c", dag.cache_volume("c"))
        .with_directory("/d", dag.directory())
        .without_mount("/c")
    )
    assert operations == ["with_exec", "with_new_file", "with_directory"]
    assert isinstance(result, _Counting)
    assert isinstance(_unwrap(result), Container)


def test_the_layers_of_a_build_are_counted_per_layer_function(cpu_spec: ImageSpec) -> None:
    """What build_in_steps records per step, without an engine: the operations of each layer."""
    from dagger import dag

    counts: dict[str, list[str]] = {}
    container: Any = dag.container()
    for name, layer in Layers(BuildOptions()).ordered():
        operations: list[str] = []
        container = _unwrap(layer(cast(Any, _Counting(container, operations)), cpu_spec))
        counts[name] = operations
    assert list(counts) == list(LAYER_ORDER)
    assert counts["base"] == []  # a pull adds the base's own layers, counted apart
    assert counts["ca_trust"] == []  # no --bake-ca: nothing added
    assert counts["tensorflow"] == ["with_exec"]
    assert counts["system_files"] == ["with_exec"]  # the tree is copied by its exec
    assert counts["runtime_files"] == ["with_directory"]  # one copy, no exec
    assert counts["metadata"] == []
    assert all(op in FS_OPERATIONS for ops in counts.values() for op in ops)


class _Synced:
    """Stands in for what a layer returns: sync() records when it ran (after an optional delay)."""

    def __init__(self, name: str, events: list[str], delay: float = 0.0, fail: bool = False) -> None:
        self.name, self.events, self.delay, self.fail = name, events, delay, fail

    async def sync(self) -> _Synced:
        import anyio

        await anyio.sleep(self.delay)
        if self.fail:
            raise RuntimeError(f"{self.name} broke")
        self.events.append(self.name)
        return self


class _FakeLayers(Layers):
    """Layers that sync after `delay` seconds each (0: as if cached)."""

    def __init__(self, events: list[str], delay: float = 0.0) -> None:
        super().__init__(BuildOptions())
        self.events = events
        self.delay = delay

    def ordered(self) -> tuple[tuple[str, Any], ...]:
        def layer(name: str) -> Any:
            def add_one(ctr: Any, spec: ImageSpec) -> _Synced:
                ctr._operations.append("with_exec")  # as a real exec is counted: this layer is synced
                return _Synced(name, self.events, self.delay)

            return add_one

        return tuple((name, layer(name)) for name in LAYER_ORDER)


def _run_steps(spec: ImageSpec, layers: Layers) -> list[str]:
    import anyio

    async def main() -> list[str]:
        _, steps = await build_in_steps(spec, BuildOptions(), layers=layers)
        return [s.name for s in steps]

    return anyio.run(main)


def test_the_tensorflow_layer_waits_for_the_prefetch_and_nothing_else_does(
    cpu_spec: ImageSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    monkeypatch.setattr(steps_module, "PREFETCH_AFTER_S", 0.05)
    monkeypatch.setattr(
        steps_module, "prefetch", lambda start, spec, options: _Synced("prefetch", events, 0.3)
    )
    assert _run_steps(cpu_spec, _FakeLayers(events, delay=0.02)) == list(LAYER_ORDER)
    assert events.index("python") < events.index("prefetch"), "the first layers do not wait for it"
    assert events.index("prefetch") < events.index(PREFETCH_NEEDED_BY)


def test_no_prefetch_when_the_layers_below_tensorflow_come_from_the_cache(
    cpu_spec: ImageSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to overlap: a no-op rebuild or context edit does not pay for the prefetch's queries."""
    events: list[str] = []
    monkeypatch.setattr(steps_module, "PREFETCH_AFTER_S", 0.5)
    monkeypatch.setattr(steps_module, "prefetch", lambda start, spec, options: _Synced("prefetch", events))
    assert _run_steps(cpu_spec, _FakeLayers(events)) == list(LAYER_ORDER)
    assert "prefetch" not in events


def test_a_config_only_layer_is_not_synced(cpu_spec: ImageSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    """metadata (labels, ENV, ports) has nothing to run: no engine round trip, 0 layers, ~0 s."""
    events: list[str] = []
    monkeypatch.setattr(steps_module, "prefetch", lambda start, spec, options: _Synced("prefetch", events))
    layers = _FakeLayers(events)
    ordered = dict(layers.ordered())
    ordered["metadata"] = lambda ctr, spec: ctr  # labels, ENV: no filesystem operation
    monkeypatch.setattr(layers, "ordered", lambda: tuple(ordered.items()))

    import anyio

    async def main() -> list[Any]:
        _, steps = await build_in_steps(cpu_spec, BuildOptions(), layers=layers)
        return steps

    steps = anyio.run(main)
    assert "metadata" not in events
    assert [s.name for s in steps] == list(LAYER_ORDER)
    assert steps[-1].layers == 0
    assert steps[-1].seconds < 0.5


def test_a_failed_prefetch_is_reported_and_the_build_goes_on(
    cpu_spec: ImageSpec, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    events: list[str] = []
    monkeypatch.setattr(steps_module, "PREFETCH_AFTER_S", 0.0)
    monkeypatch.setattr(
        steps_module, "prefetch", lambda start, spec, options: _Synced("prefetch", events, fail=True)
    )
    assert _run_steps(cpu_spec, _FakeLayers(events, delay=0.02)) == list(LAYER_ORDER)
    assert "wheel prefetch failed" in capsys.readouterr().err
    assert "prefetch" not in events


def test_a_failing_layer_raises_itself_not_an_exception_group(
    cpu_spec: ImageSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """build_and_check catches ExecError by type: the layer's own exception must reach it."""
    events: list[str] = []
    monkeypatch.setattr(steps_module, "PREFETCH_AFTER_S", 0.0)
    monkeypatch.setattr(steps_module, "prefetch", lambda start, spec, options: _Synced("prefetch", events, 5))
    layers = _FakeLayers(events)
    broken = dict(layers.ordered())

    def broken_locale(ctr: Any, spec: ImageSpec) -> _Synced:
        ctr._operations.append("with_exec")
        return _Synced("locale", events, fail=True)

    broken["locale"] = broken_locale
    monkeypatch.setattr(layers, "ordered", lambda: tuple(broken.items()))
    with pytest.raises(RuntimeError, match="locale broke"):
        _run_steps(cpu_spec, layers)
    assert "prefetch" not in events, "a prefetch still running is cancelled"

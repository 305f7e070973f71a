"""Counting each layer function's filesystem operations: the counts the report's layer attribution
reads (ci.report.layers)."""

from __future__ import annotations

from typing import Any, cast

from ci.build.layers import LAYER_ORDER, Layers
from ci.build.options import BuildOptions
from ci.build.steps import FS_OPERATIONS, _Counting, _unwrap
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
    assert counts["system_files"] == ["with_new_file", "with_directory", "with_exec"]
    assert counts["runtime_files"] == ["with_directory"]  # one copy, no exec
    assert counts["metadata"] == []
    assert all(op in FS_OPERATIONS for ops in counts.values() for op in ops)

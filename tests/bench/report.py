"""The benchmark's numbers: what each row measured, the targets with met / NOT MET, and the tables.

Why apart from the runner (tests/bench/bench.py): the targets and their ratios are the benchmark's
claims; keeping them in one small module makes each rule readable in one place.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ci.model.spec import ImageSpec
from tests.bench.restore import RestoreSplit
from tests.e2e.progress import LAYER_EXEC_MARKERS

LAYER_NAMES = tuple(dict.fromkeys(name for name, _ in LAYER_EXEC_MARKERS))  # layers that run a command


@dataclass
class Measure:
    seconds: float
    downloaded: int  # bytes into the engine instance's bridge
    uv_prepared: int = 0  # packages uv downloaded (or built) into its cache, prefetch included
    uv_installed: int = 0
    layers_run: list[str] = field(default_factory=list)  # layer commands the engine really ran
    prefetch_runs: int = 0  # commands of the wheel prefetch the engine ran (0: from the cache)
    engine_cpu_s: float = 0.0
    load: float = 0.0  # 1-minute load average when the row ended
    split: RestoreSplit | None = None  # registry-cache rows: pull / unpack / re-run


@dataclass
class Row:
    key: str
    label: str
    ours: Measure | None = None
    guide: Measure | None = None


@dataclass
class VariantResult:
    variant: str
    image: str
    spec: ImageSpec
    rows: list[Row] = field(default_factory=list)
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    cpus: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))  # cores the builds shared

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key), None)


# (key, what is promised, limit, how the value is computed from a result; None: not measured)
Value = Callable[[VariantResult], float | None]


def _measures(
    result: VariantResult, key: str, num: str, den_key: str, den: str
) -> tuple[Measure | None, Measure | None]:
    """(row KEY's NUM measure, row DEN_KEY's DEN measure); None where a row or order is missing."""
    a, b = result.row(key), result.row(den_key)
    return (getattr(a, num, None) if a else None), (getattr(b, den, None) if b else None)


def _ratio(key: str, num: str, den_key: str, den: str) -> Value:
    def value(result: VariantResult) -> float | None:
        top, bottom = _measures(result, key, num, den_key, den)
        if top is None or bottom is None or bottom.seconds <= 0:
            return None
        return float(top.seconds / bottom.seconds)

    return value


def _cpu_floor(key: str, den_key: str, den: str) -> Value:
    """The lowest ratio any schedule of the row's measured engine CPU could reach on these cores.

    Why: a cold build here is CPU-bound (dpkg, byte-compiling, copying); CPU-seconds / cores is the
    shortest wall time possible on this machine, so a limit under this floor cannot be met here
    by any change to the build's order or parallelism, only by less work or more cores.
    """

    def value(result: VariantResult) -> float | None:
        top, bottom = _measures(result, key, "ours", den_key, den)
        if top is None or bottom is None or bottom.seconds <= 0 or top.engine_cpu_s <= 0:
            return None
        return float(top.engine_cpu_s / result.cpus / bottom.seconds)

    return value


def _caches(result: VariantResult) -> float | None:
    ours = result.sizes.get("ours")
    return None if ours is None else float(sum(ours["package_caches"].values()))


def _size(result: VariantResult) -> float | None:
    ours, guide = result.sizes.get("ours"), result.sizes.get("guide")
    if not ours or not guide or "compressed" not in ours or "compressed" not in guide:
        return None
    return float(ours["compressed"] / guide["compressed"])


TARGETS: tuple[tuple[str, str, float, Value, Value | None], ...] = (
    (
        "cold",
        "cold build, download caches warm <= 0.5x the guide's",
        0.5,
        _ratio("cold", "ours", "cold", "guide"),
        _cpu_floor("cold", "cold", "guide"),
    ),
    (
        "true cold",
        "true cold build <= 0.7x the guide's",
        0.7,
        _ratio("true cold", "ours", "true cold", "guide"),
        _cpu_floor("true cold", "true cold", "guide"),
    ),
    (
        "early input",
        "rebuild after adding one OS package <= 0.5x the guide's",
        0.5,
        _ratio("early input", "ours", "early input", "guide"),
        _cpu_floor("early input", "early input", "guide"),
    ),
    (
        "registry cache",
        "fresh engine + registry cache <= 0.25x the true cold build",
        0.25,
        _ratio("registry cache", "ours", "true cold", "ours"),
        None,
    ),
    (
        "registry vs guide",
        "fresh engine + registry cache no slower than the guide-order image's",
        1.0,
        _ratio("registry cache", "ours", "registry cache", "guide"),
        None,
    ),
    (
        "three versions",
        "three TensorFlow versions built together <= 1.2x one image",
        1.2,
        _ratio("three versions", "ours", "one image", "ours"),
        _cpu_floor("three versions", "one image", "ours"),
    ),
    (
        "context edit",
        "rebuild after editing one context/ file <= 1% of the cold build",
        0.01,
        _ratio("context edit", "ours", "cold", "ours"),
        None,
    ),
    ("no-op", "no-op rebuild <= 1% of the cold build", 0.01, _ratio("no-op", "ours", "cold", "ours"), None),
    ("package caches", "zero bytes of package caches in the image", 0, _caches, None),
    ("image size", "image no larger than the guide-order image (same TensorFlow package)", 1.0, _size, None),
)


def _shown(limit: float, value: float) -> str:
    if limit == 0.01:
        return f"{value:.1%}"
    return f"{value:.2f}x" if limit else f"{value:.0f} bytes"


def targets(result: VariantResult) -> list[dict[str, Any]]:
    out = []
    for key, text, limit, compute, floor_of in TARGETS:
        value = compute(result)
        state = "not measured" if value is None else "met" if value <= limit else "NOT MET"
        floor = floor_of(result) if floor_of else None
        out.append(
            {"key": key, "target": text, "limit": limit, "value": value, "state": state, "cpu_floor": floor}
        )
    return out


def results(measured: list[VariantResult], minutes: float) -> dict[str, Any]:
    return {
        "minutes": round(minutes, 1),
        "load_average_at_end": os.getloadavg(),
        "variants": [
            {
                "variant": r.variant,
                "image": r.image,
                "tensorflow_requirement": r.spec.tensorflow_requirement,
                "rows": [
                    {
                        "key": row.key,
                        "label": row.label,
                        "ours": _asdict(row.ours),
                        "guide": _asdict(row.guide),
                    }
                    for row in r.rows
                ],
                "sizes": r.sizes,
                "extras": r.extras,
                "notes": r.notes,
                "cpus": r.cpus,
                "targets": targets(r),
            }
            for r in measured
        ],
    }


def _asdict(measure: Measure | None) -> dict[str, Any] | None:
    return None if measure is None else dataclasses.asdict(measure)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def _gb(n: float) -> str:
    return f"{n / 1e9:.2f} GB"


def _split(split: dict[str, Any] | None) -> str:
    return "-" if not split else RestoreSplit(**split).render()


def render(data: dict[str, Any]) -> str:
    start = data.get("load_average_at_start")
    lines = [
        f"benchmark: {data['minutes']} minutes, load average (1 min) "
        + (f"at start {start[0]:.1f}, " if start else "")
        + f"at end {data['load_average_at_end'][0]:.1f}"
    ]
    for variant in data["variants"]:
        lines += [
            "",
            f"== {variant['variant']}: {variant['image']} ({variant['tensorflow_requirement']})",
            "",
        ]
        head = (
            f"{'step':<62} {'layers':>8} {'guide':>8} {'ours/guide':>10}  "
            f"{'downloaded (layers / guide)':<28} {'uv dl/inst':<10} {'commands run':<13} load"
        )
        lines += [head, "-" * len(head)]
        for row in variant["rows"]:
            o, g = row["ours"], row["guide"]
            ratio = f"{o['seconds'] / g['seconds']:.2f}x" if o and g and g["seconds"] > 0 else "-"
            down = f"{_mb(o['downloaded'])} / {_mb(g['downloaded'])}" if o and g else "-"
            uv = f"{o['uv_prepared']}/{o['uv_installed']}" if o else "-"
            ran = f"{len(o['layers_run'])} of {len(LAYER_NAMES)}" if o else "-"
            load = "/".join(f"{m['load']:.1f}" for m in (o, g) if m)
            lines.append(
                f"{row['label']:<62} {o['seconds'] if o else 0:>7.1f}s {g['seconds'] if g else 0:>7.1f}s "
                f"{ratio:>10}  {down:<28} {uv:<10} {ran:<13} {load}"
            )
        one = next((r for r in variant["rows"] if r["key"] == "one image"), None)
        three = next((r for r in variant["rows"] if r["key"] == "three versions"), None)
        if one and three:
            ours_ratio = three["ours"]["seconds"] / one["ours"]["seconds"]
            guide_ratio = three["guide"]["seconds"] / one["guide"]["seconds"]
            lines.append(f"{'three versions / one image':<62} {ours_ratio:>7.2f}x {guide_ratio:>7.2f}x")
        restore = next((r for r in variant["rows"] if r["key"] == "registry cache"), None)
        if restore:
            for order in ("ours", "guide"):
                m = restore[order]
                if m:
                    cpu = m["engine_cpu_s"]
                    lines.append(f"  restore split, {order}: {_split(m['split'])}; engine CPU {cpu:.0f} s")
        sizes = variant["sizes"]
        if sizes:
            head = f"{'image':<12} {'compressed':>11} {'uncompressed':>13} {'layers':>7}"
            lines += ["", f"{head}  package caches inside (bytes)"]
            for name, label in (("ours", "layers"), ("guide", "guide order")):
                s = sizes.get(name)
                if not s:
                    continue
                caches = ", ".join(f"{k} {v}" for k, v in s["package_caches"].items())
                compressed = _gb(s["compressed"]) if "compressed" in s else "-"
                layers = s.get("layers", "-")
                lines.append(
                    f"{label:<12} {compressed:>11} {_gb(s['uncompressed']):>13} {layers:>7}  {caches}"
                )
        lines += ["", "targets:"]
        for t in variant["targets"]:
            shown = "" if t["value"] is None else f": {_shown(t['limit'], t['value'])}"
            state = {"met": "met", "NOT MET": "NOT MET", "not measured": "not measured"}[t["state"]]
            floor = t.get("cpu_floor")
            if floor is not None:
                reach = "out of reach here" if floor > t["limit"] else "reachable here"
                cores = variant.get("cpus", "?")
                shown += f" (CPU floor on {cores} cores: {_shown(t['limit'], floor)}, {reach})"
            lines.append(f"  [{state}] {t['target']}{shown}")
        lines += [f"  note: {note}" for note in variant["notes"]]
    return "\n".join(lines)

"""A Node container suspect is kept only when the container's real element count grows too."""

from __future__ import annotations

import numpy as np

from workbench.analysis.leaks import LeakPolicy
from workbench.analysis.node_sizes import container_series_name, gate_by_size
from workbench.model.findings import Finding


def _suspect(name: str) -> Finding:
    return Finding("map", name, "f (/srv/a.js:1)", 60_000.0, "bytes", 0.9, "1 KiB -> 60 KiB", projected_1h=9e6)


def _series(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(len(values), dtype=np.float64) * 2.0, np.array(values, dtype=np.float64)


def test_a_level_count_clears_the_suspect_a_growing_one_confirms_it() -> None:
    filling = [100.0 + 40 * i for i in range(6)] + [340.0] * 10  # a capped cache: fills, then level
    sizes = {
        container_series_name("tokens Map"): _series([574.0, 580, 577, 575, 579, 574, 576, 578, 575, 577, 574]),
        container_series_name("slowRows.map Map"): _series(filling),
        container_series_name("sockets Map"): _series([687.0 + 60 * i for i in range(12)]),
    }
    names = ["tokens Map", "slowRows.map Map", "sockets Map", "unmeasured Map"]
    suspects, checked = gate_by_size([_suspect(n) for n in names], [], sizes, LeakPolicy())
    assert [f.name for f in suspects] == ["sockets Map", "unmeasured Map"]  # no count yet: unchanged
    assert "Confirmed: real size 687 items -> 1,347 items" in suspects[0].evidence
    by_name = {f.name: f for f in checked}
    assert set(by_name) == {"tokens Map", "slowRows.map Map"}
    for f in checked:
        assert not f.suspect and f.projected_1h is None and f.evidence.startswith("bounded: its real size")


def test_too_few_counts_leave_the_heap_verdict_alone() -> None:
    sizes = {container_series_name("tokens Map"): _series([574.0, 580, 577])}
    suspects, checked = gate_by_size([_suspect("tokens Map")], [], sizes, LeakPolicy())
    assert [f.name for f in suspects] == ["tokens Map"] and checked == []

"""Series in words and units, counters as rates, numbers rounded: the table the GUI and CLI share."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.series_display import (
    DEFAULT_CHART_DECLS,
    SERIES_KINDS,
    describe,
    display_values,
    format_series_value,
)
from workbench.model.units import format_percent, format_rate


@pytest.mark.parametrize(
    ("name", "label", "unit", "counter"),
    [
        ("process.rss_bytes", "RSS", "bytes", False),
        ("go.heap_inuse_bytes", "heap in use", "bytes", False),
        ("go.goroutines@billing", "goroutines @billing", "count", False),
        ("pool.db.in_use", "db in use", "connections", False),
        ("pool.main.db.wait_count", "main.db waits/s", "/s", True),
        ("python.gc.gen2.collections", "gen 2 collections/s", "/s", True),
        ("go.gc.count", "Go GCs/s", "/s", True),
        ("custom.thing_ns", "custom.thing_ns", "s", False),
    ],
)
def test_describe(name: str, label: str, unit: str, counter: bool) -> None:
    info = describe(name)
    assert (info.label, info.unit, info.counter) == (label, unit, counter)


def test_counters_become_rates_and_a_reset_is_no_rate() -> None:
    t = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    v = np.array([10.0, 40.0, 70.0, 5.0, 25.0])  # a restart between 2 and 3
    ts, rates = display_values(describe("pool.db.wait_count"), t, v)
    assert ts.tolist() == [1.0, 2.0, 5.0]
    assert rates.tolist() == [30.0, 30.0, 10.0]


def test_go_pause_nanoseconds_shown_in_seconds() -> None:
    info = describe("go.gc.pause_ns")
    _t, v = display_values(info, np.array([1.0]), np.array([1.5e6]))
    assert v.tolist() == [pytest.approx(1.5e-3)]
    assert format_series_value(info, float(v[0])) == "Go GC pause 1.5 ms"
    assert format_series_value(describe("pool.db.wait_count"), 3.25) == "db waits/s 3.25"


def test_rounded_growth_and_confidence() -> None:
    assert format_rate(19932.02518138193, "waits") == "+19,932 waits/min"
    assert format_rate(1.2 * 2**20, "bytes") == "+1.2 MiB/min"
    assert format_rate(-3.31, "items") == "-3.31 items/min"
    assert format_percent(0.8734, 0) == "87 %"


def test_every_chart_pattern_is_in_the_table_and_charts_have_one_unit() -> None:
    declared = {k.pattern for k in SERIES_KINDS}
    for chart in DEFAULT_CHART_DECLS:
        units = set()
        for p in chart.patterns:
            assert p in declared, p
            units.add(next(k.unit for k in SERIES_KINDS if k.pattern == p))
        # connections and plain counts read the same on an axis; nothing else mixes
        assert len(units - {"count", "connections"}) <= 1 and not (units & {"/s"} and units - {"/s"}), chart

"""model/units.py: one printed form per value."""

from __future__ import annotations

import math

import pytest

from workbench.model.units import (
    format_bytes,
    format_count,
    format_ns,
    format_number,
    format_percent,
    format_quantity,
    format_rate,
    format_seconds,
    format_value,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (-0.0, "0"),
        (5, "5"),
        (1.5, "1.5"),
        (12.345, "12.3"),
        (0.05123, "0.0512"),
        (99.96, "100"),
        (-1.25, "-1.25"),
        (19932.02518138193, "19,932"),
        (1_234_567, "1,234,567"),
        (math.inf, "inf"),
        (math.nan, "nan"),
    ],
)
def test_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_sizes_times_and_percentages() -> None:
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(100 * 2**20) == "100 MiB"
    assert format_bytes(-3 * 2**30) == "-3 GiB"
    assert format_bytes(5000 * 2**30) == "5,000 GiB"  # never an exponent
    assert format_ns(789) == "789 ns"
    assert format_ns(456_000) == "456 \u00b5s"
    assert format_ns(12_345_678) == "12.3 ms"
    assert format_ns(1.234e9) == "1.23 s"
    assert format_seconds(0.25) == "250 ms"
    assert format_seconds(3600) == "3,600 s"
    assert format_percent(0.123) == "12.3 %"
    assert format_percent(0.5, 0) == "50 %"


def test_value_by_unit_and_with_the_unit_named() -> None:
    assert format_value(2048, "bytes") == "2 KiB"
    assert format_value(2e6, "nanoseconds") == "2 ms"
    assert format_value(2.5, "s") == "2.5 s"
    assert format_value(42.0, "%") == "42 %"
    assert format_value(1234, "count") == "1,234"  # counts print bare: the column names them
    assert format_quantity(1234, "waits") == "1,234 waits"
    assert format_quantity(2048, "bytes") == "2 KiB"
    assert format_count(3, "samples") == "3 samples"


def test_rates_are_rounded_for_people() -> None:
    assert format_rate(19932.02518138193, "waits") == "+19,932 waits/min"
    assert format_rate(1.5 * 2**20, "bytes") == "+1.5 MiB/min"
    assert format_rate(-12, "items") == "-12 items/min"
    assert format_rate(0.5, "items", per="s") == "+0.5 items/s"
    assert format_rate(7, "objects", per="") == "+7 objects"
    assert format_rate(7, "objects", signed=False) == "7 objects/min"

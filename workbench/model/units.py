"""The one way a value is printed for people: bytes, durations, percentages, counts and rates.

Every view (CLI text, tables, tooltips, leak evidence) formats through here, so one value
reads the same everywhere: three significant digits, never an exponent, thousands
separated (``19,932``), sizes in binary units (``1.5 MiB``), times in the largest unit
they reach (``12.3 ms``). Machine output (``--json``, files) keeps the raw numbers.
"""

from __future__ import annotations

import math

# sample and series units as profiles and series name them
BYTES = ("bytes", "byte", "B")
NANOSECONDS = ("nanoseconds", "ns")
SECONDS = ("seconds", "s")
PERCENT = ("%", "percent")
BARE = ("", "count", "connections")  # counts whose chart or column already names the thing

_BYTE_SCALES = ((float(1 << 30), "GiB"), (float(1 << 20), "MiB"), (float(1 << 10), "KiB"))
_NS_SCALES = ((1e9, "s"), (1e6, "ms"), (1e3, "\u00b5s"))
DIGITS = 3


def format_number(value: float, digits: int = DIGITS) -> str:
    """``value`` to ``digits`` significant digits without an exponent: ``19,932``, ``12.3``, ``0.0512``.

    Whole numbers of ``10**(digits-1)`` and more print all their digits (a count is never
    rounded to ``19,900``); NaN and infinities print as Python spells them.
    """
    x = float(value)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"  # and never "-0"
    a = abs(x)
    if a >= 10 ** (digits - 1) or x == int(x):
        return f"{x:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(a))
    text = f"{x:,.{decimals}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "0", "") else text


def format_count(value: float, noun: str = "") -> str:
    """``1,234`` or ``1,234 samples``."""
    text = format_number(value)
    return f"{text} {noun}" if noun else text


def format_bytes(value: float) -> str:
    """``512 B``, ``1.5 KiB``, ``23.4 MiB``, ``1.21 GiB`` (the largest binary unit reached)."""
    x = float(value)
    if math.isfinite(x):
        for scale, suffix in _BYTE_SCALES:
            if abs(x) >= scale:
                return f"{format_number(x / scale)} {suffix}"
    return f"{format_number(x)} B"


def format_ns(value: float) -> str:
    """A duration in nanoseconds: ``789 ns``, ``456 µs``, ``12.3 ms``, ``1.23 s``."""
    x = float(value)
    if math.isfinite(x):
        for scale, suffix in _NS_SCALES:
            if abs(x) >= scale:
                return f"{format_number(x / scale)} {suffix}"
    return f"{format_number(x)} ns"


def format_seconds(value: float) -> str:
    """A duration in seconds, in the largest unit it reaches (``250 ms``, ``3.5 s``)."""
    return format_ns(float(value) * 1e9)


def format_percent(fraction: float, decimals: int = 1) -> str:
    """A fraction as a percentage: ``0.123`` -> ``12.3 %``."""
    x = 100.0 * float(fraction)
    if not math.isfinite(x):
        return f"{x} %"
    return f"{x:.{decimals}f} %"


def format_value(value: float, unit: str) -> str:
    """A value of a sample type or series in ``unit``; counts print bare (the column names them)."""
    if unit in BYTES:
        return format_bytes(value)
    if unit in NANOSECONDS:
        return format_ns(value)
    if unit in SECONDS:
        return format_seconds(value)
    if unit in PERCENT:
        return f"{format_number(value)} %"
    return format_number(value)


def format_quantity(value: float, unit: str) -> str:
    """A value with its unit always named: ``1.5 MiB``, ``19,932 waits``, ``3 items``; rates of
    a series drawn per second: ``3.2/s``, ``12 ms/s`` (time spent waiting per second)."""
    if unit == "/s":
        return f"{format_number(value)}/s"
    if unit.endswith("/s") and unit[:-2] in (*SECONDS, *BYTES):
        return f"{format_value(value, unit[:-2])}/s"
    if unit in BARE:
        return format_number(value)
    text = format_value(value, unit)
    if unit in BYTES or unit in NANOSECONDS or unit in SECONDS or unit in PERCENT or not unit:
        return text
    return f"{text} {unit}"


def format_rate(value: float, unit: str, per: str = "min", signed: bool = True) -> str:
    """A growth rate: ``+19,932 waits/min``, ``+1.5 MiB/min``, ``-12 items/min``.

    ``per=""`` leaves the time unit out, for a column whose header names it.
    """
    text = format_quantity(value, unit)
    if signed and float(value) >= 0 and not text.startswith("+"):
        text = "+" + text
    return f"{text}/{per}" if per else text

"""Human-readable values for sample units (nanoseconds, bytes, counts)."""

from __future__ import annotations


def format_value(value: float, unit: str) -> str:
    if unit == "nanoseconds":
        for div, suffix in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
            if abs(value) >= div:
                return f"{value / div:.3g} {suffix}"
        return f"{value:.0f} ns"
    if unit == "bytes":
        for div, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= div:
                return f"{value / div:.3g} {suffix}"
        return f"{value:.0f} B"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.3g}"

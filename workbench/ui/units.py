"""Human-readable values for the UI: the one formatter in ``workbench.model.units``."""

from __future__ import annotations

from ..model.units import format_percent, format_quantity, format_rate, format_value

__all__ = ["format_percent", "format_quantity", "format_rate", "format_value"]

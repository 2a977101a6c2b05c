"""The leak panel: the session's findings, with an empty state that says where they come from."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..model.findings import Finding
from .text import plain_tooltip

EMPTY_TEXT = (
    "No leak findings in this session.\n\n"
    "Findings come from captures that watch memory over time:\n"
    "  - the Python runtime agent (largest containers and their growth, GC),\n"
    "  - memray (live allocations by stack),\n"
    "  - pprof heap and goroutine profiles of a Go service (by URL),\n"
    "  - `workbench leaks --pid/--url` from the command line.\n"
    "Capture for a few minutes under load: growth needs time to show."
)
SPARK = "▁▂▃▄▅▆▇█"
COLUMNS = ("kind", "name", "growth", "rate / min", "confidence", "where")


def sparkline(values: list[float], width: int = 24) -> str:
    """A text sparkline; values are resampled to ``width`` characters."""
    if not values:
        return ""
    step = max(1, len(values) // width)
    vals = values[::step][-width:]
    lo, hi = min(vals), max(vals)
    span = hi - lo or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1)))] for v in vals)


class LeakPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.table)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)
        self._shown: list[Finding] = []

    def set_findings(self, findings: list[Finding]) -> None:
        suspects = [f for f in findings if f.suspect]
        if suspects == self._shown:
            return
        self._shown = list(suspects)
        self.stack.setCurrentWidget(self.table if suspects else self.empty)
        self.table.setRowCount(len(suspects))
        for r, f in enumerate(suspects):
            cells = (
                f.kind,
                f.name,
                sparkline(f.sparkline),
                f"{f.growth_per_min:+.3g} {f.unit}",
                f"{100 * f.confidence:.0f} %",
                f.where,
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                tip = f.evidence
                if f.stack:
                    tip += "\n\nfilled by:\n" + "\n".join(f.stack[-30:])
                item.setToolTip(plain_tooltip(tip))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()

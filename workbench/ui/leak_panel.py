"""The leak panel: suspects (the leak engine's verdicts and the session's own findings) with
sparkline, rate, projection and confidence, numbers rounded as a person reads them; the
selected suspect's evidence and the stack that fills it under the table; below them the
candidates judged bounded and why. Activating a suspect asks the window to show the stack
that fills it in the flame graph."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..model.findings import Finding
from .text import plain_tooltip
from .units import format_percent, format_quantity, format_rate

EMPTY_TEXT = (
    "No leak findings in this session.\n\n"
    "Findings come from captures that watch memory over time:\n"
    "  - the Python runtime agent (largest containers and their growth, GC),\n"
    "  - memray (live allocations by stack),\n"
    "  - pprof heap and goroutine profiles of a Go service (by URL),\n"
    "  - the Node.js inspector (heap sampling by allocation site),\n"
    "  - `workbench leaks --pid/--url` from the command line.\n"
    "Capture for a few minutes under load: growth needs time to show."
)
SPARK = "▁▂▃▄▅▆▇█"
COLUMNS = ("kind", "name", "growth", "rate", "confidence", "where", "in 1 h")
MAX_STACK_LINES = 40  # innermost frames: where it is filled, then its callers
CHECKED_COLUMNS = ("kind", "name", "growth", "why not flagged")


def sparkline(values: list[float], width: int = 24) -> str:
    """A text sparkline; values are resampled to ``width`` characters."""
    if not values:
        return ""
    step = max(1, len(values) // width)
    vals = values[::step][-width:]
    lo, hi = min(vals), max(vals)
    span = hi - lo or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1)))] for v in vals)


def _table(columns: tuple[str, ...]) -> QTableWidget:
    t = QTableWidget(0, len(columns))
    t.setHorizontalHeaderLabels(list(columns))
    t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    t.horizontalHeader().setStretchLastSection(True)
    t.verticalHeader().hide()
    return t


def _projection(f: Finding) -> str:
    if f.projected_1h is None:
        return ""
    return format_quantity(f.projected_1h, f.unit)


def details_text(f: Finding) -> str:
    """What the details pane shows: the verdict in words, its evidence, the filling stack
    innermost first (the function that fills it, then who called it)."""
    lines = [
        f"{f.name} ({f.kind}) grows {format_rate(f.growth_per_min, f.unit)}, "
        f"{format_percent(f.confidence, 0)} sure" + (f", ~{_projection(f)} in 1 h" if f.projected_1h else ""),
    ]
    if f.where:
        lines.append(f"where: {f.where}")
    if f.evidence:
        lines.append(f.evidence)
    if f.stack:
        frames = list(reversed(f.stack))
        lines.append("")
        lines.append("filled by (double-click the row to show it in the flame graph):")
        lines.extend(f"  {'at' if i == 0 else 'from'} {frame}" for i, frame in enumerate(frames[:MAX_STACK_LINES]))
        if len(frames) > MAX_STACK_LINES:
            lines.append(f"  ... {len(frames) - MAX_STACK_LINES} callers more")
    else:
        lines.append("")
        lines.append("no filling stack recorded for this suspect")
    return "\n".join(lines)


class LeakPanel(QWidget):
    """``show_stack`` carries the finding whose filling code should be shown."""

    show_stack = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.table = _table(COLUMNS)
        self.table.cellActivated.connect(self._activated)
        self.table.cellDoubleClicked.connect(self._activated)
        self.table.itemSelectionChanged.connect(self._show_details)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("select a suspect to see its evidence and the stack that fills it")
        self.details.setMaximumBlockCount(MAX_STACK_LINES + 20)
        self.checked = _table(CHECKED_COLUMNS)
        self.checked_label = QLabel("judged bounded (not flagged):")
        lower = QWidget()
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.checked_label)
        ll.addWidget(self.checked)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.table)
        self.split.addWidget(self.details)
        self.split.addWidget(lower)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.split.setStretchFactor(2, 2)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.split)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)
        self._findings: list[Finding] = []
        self._verdicts: tuple[list[Finding], list[Finding]] = ([], [])
        self._shown: tuple[list[Finding], list[Finding]] | None = None

    # the session's own findings (pool saturation, census entries) ...
    def set_findings(self, findings: list[Finding]) -> None:
        self._findings = list(findings)
        self._render()

    # ... and the leak engine's latest verdicts
    def set_verdicts(self, suspects: list[Finding], checked: list[Finding]) -> None:
        self._verdicts = (list(suspects), list(checked))
        self._render()

    def suspects(self) -> list[Finding]:
        return self._shown[0] if self._shown else []

    def _render(self) -> None:
        judged = {(f.target, f.name) for f in self._verdicts[0] + self._verdicts[1]}
        suspects = list(self._verdicts[0]) + [
            f for f in self._findings if f.suspect and (f.target, f.name) not in judged
        ]
        checked = list(self._verdicts[1])
        if self._shown == (suspects, checked):
            return
        self._shown = (suspects, checked)
        self.stack.setCurrentWidget(self.split if suspects or checked else self.empty)
        self.table.setRowCount(len(suspects))
        for r, f in enumerate(suspects):
            cells = (
                f.kind,
                f.name,
                sparkline(f.sparkline),
                format_rate(f.growth_per_min, f.unit),
                format_percent(f.confidence, 0),
                f.where,
                _projection(f),
            )
            tip = f.evidence
            if f.stack:
                tip += "\n\nfilled by (double-click to show it in the flame graph):\n" + "\n".join(f.stack[-30:])
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tooltip(tip))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        if suspects and not self.table.selectedItems():
            self.table.selectRow(0)
        self._show_details()
        self.checked_label.setVisible(bool(checked))
        self.checked.setVisible(bool(checked))
        self.checked.setRowCount(len(checked))
        for r, f in enumerate(checked):
            why = f.evidence.removeprefix("bounded: ")
            for c, text in enumerate((f.kind, f.name, sparkline(f.sparkline), why)):
                item = QTableWidgetItem(text)
                item.setToolTip(plain_tooltip(f.evidence))
                self.checked.setItem(r, c, item)
        self.checked.resizeColumnsToContents()

    def _show_details(self) -> None:
        suspects = self.suspects()
        row = self.table.currentRow()
        rows = {i.row() for i in self.table.selectedItems()}
        if rows:
            row = min(rows)
        text = details_text(suspects[row]) if 0 <= row < len(suspects) else ""
        if self.details.toPlainText() != text:
            self.details.setPlainText(text)

    def _activated(self, row: int, _col: int) -> None:
        suspects = self.suspects()
        if 0 <= row < len(suspects):
            self.show_stack.emit(suspects[row])

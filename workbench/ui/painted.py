"""The base of the widgets that draw everything in one paint routine (flame graph, flame chart)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QWidget


class PaintedWidget(QWidget):
    """One ``_paint`` per paintEvent on a cleared background; ``paint_count`` counts them (tests
    and benchmarks read it). The painter is ended even when a paint raises: a QPainter left
    active on a widget aborts the next paint."""

    paint_count = 0  # paintEvents run (per widget: the first += makes it the instance's own)

    def paintEvent(self, ev) -> None:
        self.paint_count += 1
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()))
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        raise NotImplementedError

    def _paint_empty(self, painter: QPainter, why: str) -> None:
        """The message drawn instead of boxes (nothing loaded, nothing in range)."""
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, why)

"""The flame chart tab: the profile's samples in time order (x = time, y = stack, root on top).

Boxes come from ``analysis.flamechart`` as flat arrays and are painted in one
``paintEvent``, batched per palette colour into ``drawRects`` (never one item per box),
like the flame graph canvas. The layout is redone only when the profile's version, the
sample type, the time range or the width changed.

Linked to the timeline both ways: the timeline's brush sets the chart's time range
(``set_window``), and zooming (wheel, a click on a box) or panning (drag) the chart moves the brush
(``rangeRequested``, which the window hands to ``TimelineView.set_range``; the brush then
cuts the flame graph to the same range). Without a brush the chart shows the whole profile
and follows it as it grows.
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from ..analysis.flamechart import ChartLayout, chart_layout, empty_chart, time_span
from ..analysis.layout import NameRankCache
from ..model.profile import Profile
from ..model.units import format_seconds
from .flame_colors import COLOR_PACKAGE, FramePaletteCache, palette
from .painted import PaintedWidget
from .text import plain_tooltip
from .units import format_value

ROW_H = 18
AXIS_H = 20
MIN_SPAN_S = 1e-3  # zoom limit
TICK_STEPS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
                900, 1800, 3600, 7200, 21600, 43200, 86400)  # fmt: skip
MIN_TICK_PX = 90


def tick_step(span_s: float, width_px: float) -> float:
    """The smallest of ``TICK_STEPS_S`` that keeps ticks ``MIN_TICK_PX`` apart."""
    for step in TICK_STEPS_S:
        if step * width_px / max(span_s, 1e-12) >= MIN_TICK_PX:
            return float(step)
    return float(TICK_STEPS_S[-1])


def tick_label(t: float, step: float) -> str:
    base = time.strftime("%H:%M:%S", time.localtime(t))
    if step < 1:
        return f"{base}.{round((t % 1) * 1000) % 1000:03d}"
    return base


class FlameChartWidget(PaintedWidget):
    """Paints one profile in time order. ``view`` None shows the whole profile."""

    rangeRequested = Signal(float, float)  # the user zoomed or panned: move the brush there
    hoverChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 120)
        self.profile: Profile | None = None
        self.sample_index = 0
        self.view: tuple[float, float] | None = None
        self._ranks = NameRankCache()
        self._colors = FramePaletteCache()
        self._lay: ChartLayout | None = None
        self._lay_key: tuple[object, ...] = ()
        self._brushes = [QBrush(QColor(*c)) for c in palette(COLOR_PACKAGE)]
        self._hover = -1
        self._press: QPointF | None = None
        self._press_view: tuple[float, float] = (0.0, 1.0)
        self._dragged = False
        self.boxes_drawn = 0  # boxes painted by the last paint, for tests
        self.layout_ms = 0.0  # cost of the last layout, for the benchmark
        self._font = QFont(self.font())
        self._font.setPointSizeF(max(7.0, self._font.pointSizeF() * 0.9))

    # ------------------------------------------------------------------ state
    def set_profile(self, profile: Profile | None, sample_index: int | None = None) -> None:
        self.profile = profile
        if profile is not None:
            if sample_index is not None:
                self.sample_index = sample_index
            if not 0 <= self.sample_index < len(profile.sample_types):
                self.sample_index = profile.default_sample_type
        self.update()

    def set_sample_index(self, i: int) -> None:
        self.sample_index = i
        self.update()

    def set_view(self, view: tuple[float, float] | None) -> None:
        """Show ``view`` (epoch seconds), or the whole profile for None; emits nothing."""
        self.view = None if view is None else (float(min(view)), float(max(view)))
        self.update()

    def shown_range(self) -> tuple[float, float] | None:
        """The time range on screen: the view, or the profile's whole span."""
        if self.view is not None:
            return self.view
        return time_span(self.profile) if self.profile is not None else None

    def chart(self) -> ChartLayout:
        """The layout for the current profile, range and width (cached)."""
        p = self.profile
        rng = self.shown_range()
        if p is None or rng is None:
            return empty_chart()
        key = (id(p), p.version, len(p.slices), self.sample_index, rng, self.width())
        if key != self._lay_key or self._lay is None:
            t = time.perf_counter()
            self._lay = chart_layout(
                p, self.sample_index, rng, float(max(self.width(), 1)), ranks=self._ranks.get(p.frames)
            )
            self.layout_ms = (time.perf_counter() - t) * 1e3
            self._lay_key = key
            self._hover = -1
            self.setMinimumHeight(max(120, AXIS_H + (self._lay.rows + 1) * ROW_H))
        return self._lay

    # ----------------------------------------------------------------- mouse
    def _t_at(self, x: float) -> float | None:
        rng = self.shown_range()
        if rng is None:
            return None
        return rng[0] + (rng[1] - rng[0]) * x / max(self.width(), 1)

    def box_at(self, pos: QPointF) -> int:
        t = self._t_at(pos.x())
        if t is None or pos.y() < AXIS_H:
            return -1
        return self.chart().hit(t, int((pos.y() - AXIS_H) // ROW_H))

    def hover_text(self, box: int) -> str:
        lay = self.chart()
        p = self.profile
        if p is None or not 0 <= box < len(lay):
            return ""
        node = int(lay.node[box])
        f = p.frames[int(p.frame[node])]
        lines = [f.function]
        if f.file:
            lines.append(f"{f.file}:{f.line}" if f.line else f.file)
        st = p.sample_types[self.sample_index]
        t0, t1 = float(lay.t0[box]), float(lay.t1[box])
        lines.append(f"from {tick_label(t0, 0.5)} for {format_seconds(t1 - t0)}")
        lines.append(f"{st.type}: {format_value(float(lay.value[box]), st.unit)} in that time")
        return "\n".join(lines)

    def _request(self, view: tuple[float, float]) -> None:
        self.set_view(view)
        self.rangeRequested.emit(*view)

    def zoom(self, factor: float, at_fraction: float) -> None:
        """Zoom by ``factor`` (>1 zooms in) around ``at_fraction`` of the width; moves the brush."""
        rng = self.shown_range()
        if rng is None:
            return
        span = rng[1] - rng[0]
        anchor = rng[0] + at_fraction * span
        new = max(MIN_SPAN_S, span / factor)
        whole = time_span(self.profile) if self.profile is not None else None
        if whole is not None:
            new = min(new, whole[1] - whole[0])
        t0 = anchor - at_fraction * new
        self._request((t0, t0 + new))

    def wheelEvent(self, ev) -> None:
        steps = ev.angleDelta().y() / 120.0
        if steps == 0:
            ev.ignore()
            return
        self.zoom(math.pow(1.25, steps), ev.position().x() / max(self.width(), 1))
        ev.accept()

    def mousePressEvent(self, ev) -> None:
        rng = self.shown_range()
        if ev.button() == Qt.MouseButton.LeftButton and rng is not None:
            self._press = ev.position()
            self._press_view = rng
            self._dragged = False

    def mouseMoveEvent(self, ev) -> None:
        pos = ev.position()
        if self._press is not None and ev.buttons() & Qt.MouseButton.LeftButton:
            dx = pos.x() - self._press.x()
            if abs(dx) > 3 or self._dragged:
                self._dragged = True
                v0, v1 = self._press_view
                shift = -dx / max(self.width(), 1) * (v1 - v0)
                self.set_view((v0 + shift, v1 + shift))
            return
        b = self.box_at(pos)
        if b != self._hover:
            self._hover = b
            text = self.hover_text(b)
            self.hoverChanged.emit(text)
            if text:
                QToolTip.showText(ev.globalPosition().toPoint(), plain_tooltip(text), self)
            else:
                QToolTip.hideText()
            self.update()

    def mouseReleaseEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self._press is not None:
            if self._dragged and self.view is not None:
                self.rangeRequested.emit(*self.view)
            elif not self._dragged:
                self.zoom_to_box(self.box_at(ev.position()))
        self._press = None
        self._dragged = False

    def zoom_to_box(self, box: int) -> None:
        """Show the time a box spans (a click on it), with a margin; moves the brush."""
        lay = self.chart()
        if not 0 <= box < len(lay):
            return
        t0, t1 = float(lay.t0[box]), float(lay.t1[box])
        pad = max((t1 - t0) * 0.05, MIN_SPAN_S)
        self._request((t0 - pad, t1 + pad))

    # ------------------------------------------------------------------ paint
    def _paint(self, painter: QPainter) -> None:
        fg = self.palette().color(self.foregroundRole())
        lay = self.chart()
        rng = self.shown_range()
        p = self.profile
        if p is None or rng is None or not len(lay):
            why = "No samples over time: pick a captured CPU or wall profile" if p is not None else "No profile"
            self._paint_empty(painter, why)
            self.boxes_drawn = 0
            return
        W = float(self.width())
        v0, v1 = rng
        px = W / (v1 - v0)
        x0 = np.maximum((lay.t0 - v0) * px, 0.0)
        x1 = np.minimum((lay.t1 - v0) * px, W)
        ys = AXIS_H + lay.row.astype(np.float64) * ROW_H
        clip = painter.clipBoundingRect() if painter.hasClipping() else QRectF(self.rect())
        vis = np.flatnonzero((x1 > x0) & (ys + ROW_H > clip.top()) & (ys < clip.bottom()))
        table = self._colors.get(p.frames, COLOR_PACKAGE)
        fr = p.frame[lay.node].astype(np.int64)
        slot = np.where(fr >= 0, table[np.maximum(fr, 0)] if len(table) else 0, 0)
        painter.setPen(Qt.PenStyle.NoPen)
        order = vis[np.argsort(slot[vis], kind="stable")]
        s_sorted = slot[order]
        cuts = np.flatnonzero(np.diff(s_sorted)) + 1
        # a 1 px gap separates boxes (pens cost ~2x in the raster engine)
        x0l = x0.tolist()
        wl = np.maximum(x1 - x0 - 1.0, 1.0).tolist()
        yl = ys.tolist()
        start = 0
        for end in [*cuts.tolist(), len(order)]:
            if end > start:
                painter.setBrush(self._brushes[int(s_sorted[start]) % len(self._brushes)])
                painter.drawRects([QRectF(x0l[i], yl[i], wl[i], ROW_H - 1.0) for i in order[start:end].tolist()])
            start = end
        self.boxes_drawn = len(order)
        if 0 <= self._hover < len(lay):
            b = self._hover
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(fg, 1.5))
            painter.drawRect(QRectF(x0l[b], yl[b], wl[b], ROW_H - 1.0))
        self._paint_text(painter, lay, order, x0=x0, w=x1 - x0, ys=ys)
        self._paint_axis(painter, v0, v1, W, fg)

    def _paint_text(self, painter: QPainter, lay: ChartLayout, order: np.ndarray, *, x0, w, ys) -> None:
        p = self.profile
        assert p is not None
        painter.setFont(self._font)
        fm = QFontMetricsF(self._font)
        cw = max(fm.averageCharWidth(), 1.0)
        cand = order[w[order] >= cw * 3 + 4]
        painter.setPen(QColor(20, 20, 20))
        base = (ROW_H - 1 + fm.ascent() - fm.descent()) / 2.0
        frames, frame_arr = p.frames, p.frame
        for i in cand.tolist():
            text = frames[int(frame_arr[int(lay.node[i])])].function
            n_chars = int((float(w[i]) - 4) / cw)
            if len(text) > n_chars:
                text = text[: max(n_chars - 1, 1)] + "…"
            painter.drawText(QPointF(float(x0[i]) + 2.0, float(ys[i]) + base), text)

    def _paint_axis(self, painter: QPainter, v0: float, v1: float, W: float, fg: QColor) -> None:
        painter.setFont(self._font)
        painter.setPen(fg)
        step = tick_step(v1 - v0, W)
        t = math.ceil(v0 / step) * step
        fm = QFontMetricsF(self._font)
        while t <= v1:
            x = (t - v0) * W / (v1 - v0)
            painter.drawLine(QPointF(x, AXIS_H - 5), QPointF(x, AXIS_H))
            label = tick_label(t, step)
            if x + fm.horizontalAdvance(label) + 2 <= W:
                painter.drawText(QPointF(x + 2, AXIS_H - 7), label)
            t += step
        painter.drawLine(QPointF(0, AXIS_H - 0.5), QPointF(W, AXIS_H - 0.5))


class FlameChartView(QWidget):
    """The tab: a range label, sample type, "whole profile", and the canvas in a scroll area."""

    rangeRequested = Signal(float, float)
    wholeRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = FlameChartWidget()
        self.canvas.rangeRequested.connect(self._requested)
        self.sample_type = QComboBox()
        self.sample_type.setToolTip("sample type")
        self.sample_type.currentIndexChanged.connect(self._on_sample_type)
        self.range_label = QLabel("")
        self.range_label.setObjectName("chartRange")
        self.whole_btn = QPushButton("whole profile")
        self.whole_btn.setToolTip("show the whole profile (clears the timeline's brush)")
        self.whole_btn.clicked.connect(self.wholeRequested.emit)
        self.hint = QLabel("wheel or click a box: zoom (moves the timeline's brush), drag: pan")
        self.hint.setToolTip(
            "Each column is one capture batch or more (py-spy: 1-2 s): its boxes share its width by value, "
            "ordered by name, since a batch does not keep the order of its samples. Frames that stay on the "
            "stack across columns are joined into one bar."
        )
        row = QHBoxLayout()
        row.addWidget(self.sample_type)
        row.addWidget(self.range_label, 1)
        row.addWidget(self.hint)
        row.addWidget(self.whole_btn)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setWidget(self.canvas)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(area, 1)
        self._types: tuple[object, ...] = ()

    def set_profile(self, profile: Profile | None) -> None:
        types = tuple(profile.sample_types) if profile is not None else ()
        if types != self._types:
            self._types = types
            self.sample_type.blockSignals(True)
            self.sample_type.clear()
            for st in types:
                self.sample_type.addItem(f"{st.type} ({st.unit})")
            if profile is not None:
                self.sample_type.setCurrentIndex(profile.default_sample_type)
            self.sample_type.blockSignals(False)
            self.canvas.set_profile(profile, profile.default_sample_type if profile is not None else None)
        else:
            self.canvas.set_profile(profile)
        self._update_label()

    def set_window(self, window: tuple[float, float] | None) -> None:
        """The timeline's brush (or None: the whole profile)."""
        self.canvas.set_view(window)
        self._update_label()

    def _requested(self, t0: float, t1: float) -> None:
        self._update_label()
        self.rangeRequested.emit(t0, t1)

    def _on_sample_type(self, i: int) -> None:
        if i >= 0:
            self.canvas.set_sample_index(i)

    def _update_label(self) -> None:
        rng = self.canvas.shown_range()
        p = self.canvas.profile
        if rng is None or p is None:
            self.range_label.setText("no samples over time in this profile" if p is not None else "")
            return
        what = "brushed range" if self.canvas.view is not None else "whole profile"
        self.range_label.setText(f"{what}: {tick_label(rng[0], 1)} for {format_seconds(rng[1] - rng[0])}")

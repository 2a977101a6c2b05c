"""The timeline: charts of session series on one shared time axis, a range brush, hover values.

Adding a chart is declaring a title and the series names (fnmatch patterns) it plots;
charts with no matching series stay hidden. Data comes from bounded ``RingSeries`` and
is only re-sent to pyqtgraph when a series' version changed.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..model.series import RingSeries
from ..model.session import EventBatch, Session
from .units import format_value

PEN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2")
MAX_MARKERS = 50  # the newest events; older ones stay in the session
MAX_CURVES_PER_CHART = 8  # pool.* could match hundreds: keep a chart readable and bounded
LEFT_AXIS_PX = 64  # room for a unit label and five digits of tick text


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    patterns: tuple[str, ...]
    unit: str = ""  # axis unit; pyqtgraph adds the SI prefix (MB, ms)

    def matches(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.patterns)


DEFAULT_CHARTS = (
    ChartSpec("CPU %", ("process.cpu_percent",), "%"),
    ChartSpec("memory", ("process.rss_bytes", "process.uss_bytes", "go.heap_inuse_bytes"), "B"),
    ChartSpec("GC pauses", ("go.gc.pause_ns", "python.gc.pause_s")),
    ChartSpec("threads / goroutines", ("process.threads", "go.goroutines")),
    ChartSpec("pool", ("pool.*.in_use", "pool.*.open", "pool.*.wait_count", "pool.*.wait_s")),
)


def _unit_of(name: str, unit: str) -> str:
    if unit:
        return unit
    for suffix, u in (("_bytes", "bytes"), ("_ns", "nanoseconds"), ("_s", "s"), ("_percent", "%")):
        if name.endswith(suffix):
            return u
    return ""


def value_at(series: RingSeries, t: float) -> float | None:
    """Last value at or before ``t`` (what the chart shows there), None before the first point."""
    times = series.times
    i = int(np.searchsorted(times, t, side="right")) - 1
    return float(series.values[i]) if i >= 0 else None


class _Chart:
    def __init__(self, spec: ChartSpec, plot: pg.PlotItem) -> None:
        self.spec = spec
        self.plot = plot
        self.curves: dict[str, tuple[pg.PlotDataItem, int]] = {}  # name -> (curve, series version)
        self.region = pg.LinearRegionItem(movable=True, brush=QColor(100, 150, 255, 50))
        self.region.setZValue(10)
        self.region.hide()
        plot.addItem(self.region, ignoreBounds=True)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888", width=1))
        self.cursor.hide()
        plot.addItem(self.cursor, ignoreBounds=True)
        self.markers: list[pg.InfiniteLine] = []  # session events: triggers, pauses, target exit


class TimelineView(QWidget):
    """Emits ``rangeSelected(t0, t1)`` when the brush settles and ``rangeCleared`` when removed."""

    rangeSelected = Signal(float, float)
    rangeCleared = Signal()

    def __init__(self, parent: QWidget | None = None, charts: tuple[ChartSpec, ...] = DEFAULT_CHARTS) -> None:
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setMinimumHeight(120)
        self.brush_box = QCheckBox("select range")
        self.brush_box.setToolTip("drag the shaded range to cut the flame graph to that time window")
        self.brush_box.toggled.connect(self._brush_toggled)
        self.hover_label = QLabel("")
        self.hover_label.setObjectName("timelineHover")
        self.empty = QLabel("No time series yet: start a capture (process stats, pprof, agent) or open a session.")
        head = QHBoxLayout()
        head.addWidget(self.brush_box)
        head.addWidget(self.hover_label, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(head)
        lay.addWidget(self.empty)
        lay.addWidget(self.glw, 1)
        self.session: Session | None = None
        self._events_shown = -1
        self.charts: list[_Chart] = []
        self.selected: tuple[float, float] | None = None
        self._syncing = False
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(200)  # cut the profile when the brush stops moving, not per pixel
        self._settle.timeout.connect(self._emit_range)
        for spec in charts:
            self.add_chart(spec)
        self._mouse_proxy = pg.SignalProxy(self.glw.scene().sigMouseMoved, rateLimit=30, slot=self._mouse_moved)
        self.apply_palette()

    # ---------------------------------------------------------------- charts
    def add_chart(self, spec: ChartSpec) -> None:
        axis = pg.DateAxisItem(orientation="bottom")
        plot = self.glw.addPlot(row=len(self.charts), col=0, axisItems={"bottom": axis})
        plot.setTitle(spec.title, size="9pt", justify="left")
        plot.setMinimumHeight(70)
        if spec.unit:
            plot.setLabel("left", units=spec.unit)
        # one left-axis width for every chart, so one moment sits at one x on all of them
        plot.getAxis("left").setWidth(LEFT_AXIS_PX)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMouseEnabled(x=True, y=False)
        plot.addLegend(offset=(-5, 5), labelTextSize="8pt")  # top right: the newest data is there
        plot.hideButtons()
        if self.charts:
            plot.setXLink(self.charts[0].plot)
        chart = _Chart(spec, plot)
        chart.region.sigRegionChanged.connect(lambda _r, c=chart: self._region_moved(c))
        self.charts.append(chart)
        plot.hide()

    def changeEvent(self, ev) -> None:
        # a palette reaches this widget once it has propagated (a window's setPalette, the
        # platform switching to dark); pyqtgraph paints its own background, so pass it on
        if ev.type() == QEvent.Type.PaletteChange:
            self.apply_palette()
        super().changeEvent(ev)

    def apply_palette(self) -> None:
        """Follow the widget palette (light or dark)."""
        pal = self.palette()
        bg = pal.color(pal.ColorRole.Base)
        fg = pal.color(pal.ColorRole.Text)
        self.glw.setBackground(bg)
        for c in self.charts:
            for name in ("left", "bottom"):
                ax = c.plot.getAxis(name)
                ax.setPen(fg)
                ax.setTextPen(fg)

    def set_session(self, session: Session | None) -> None:
        self.session = session
        for c in self.charts:
            for curve, _v in c.curves.values():
                c.plot.removeItem(curve)
            c.curves.clear()
        self._events_shown = -1
        self.refresh()

    def _refresh_markers(self, events: list[EventBatch]) -> None:
        """One dashed vertical line per session event (bounded: the session keeps the last 1000),
        labelled on the first chart, with the event text as tooltip."""
        if len(events) == self._events_shown:
            return
        self._events_shown = len(events)
        shown = events[-MAX_MARKERS:]
        for i, c in enumerate(self.charts):
            for m in c.markers:
                c.plot.removeItem(m)
            c.markers = []
            last_labelled = float("-inf")
            for e in shown:
                # events at about the same moment (a trigger firing and its capture starting)
                # share one label, so texts never print over each other
                labelled = i == 0 and e.t - last_labelled > 1.0
                if labelled:
                    last_labelled = e.t
                color = "#d9534f" if "trigger" in e.kind or "exit" in e.kind else "#888"
                line = pg.InfiniteLine(
                    pos=e.t, angle=90, movable=False, pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine),
                    label=e.kind.rsplit(".", 1)[-1] if labelled else None,
                    # text to the right of its line: an event at the start of the axis stays readable
                    labelOpts={"position": 0.9, "color": color, "anchors": [(0, 0.5), (0, 0.5)]},
                )  # fmt: skip
                line.setToolTip(f"{e.kind}: {e.text}")
                c.plot.addItem(line, ignoreBounds=True)
                c.markers.append(line)

    def refresh(self) -> None:
        """Re-send changed series to their charts (called from the window's throttled timer)."""
        s = self.session
        any_data = False
        if s is not None:
            with s.lock():
                series = dict(s.series)
                events = list(s.events)
            self._refresh_markers(events)
            for c in self.charts:
                names = sorted(n for n in series if c.spec.matches(n))[:MAX_CURVES_PER_CHART]
                for i, name in enumerate(names):
                    rs = series[name]
                    entry = c.curves.get(name)
                    if entry is not None and entry[1] == rs.version:
                        continue
                    if entry is None:
                        curve = c.plot.plot(name=name, pen=pg.mkPen(PEN_COLORS[i % len(PEN_COLORS)], width=1.5))
                    else:
                        curve = entry[0]
                    curve.setData(rs.times, rs.values)
                    c.curves[name] = (curve, rs.version)
                visible = bool(c.curves)
                c.plot.setVisible(visible)
                any_data |= visible
        self.empty.setVisible(not any_data)
        self.glw.setVisible(any_data)

    def visible_charts(self) -> list[_Chart]:
        return [c for c in self.charts if c.curves]

    # ----------------------------------------------------------------- brush
    def _brush_toggled(self, on: bool) -> None:
        charts = self.visible_charts() or self.charts
        if on:
            (x0, x1), _y = charts[0].plot.viewRange()
            span = x1 - x0
            self.set_range(x0 + 0.6 * span, x0 + 0.9 * span)
        else:
            for c in self.charts:
                c.region.hide()
            self.selected = None
            self.rangeCleared.emit()

    def set_range(self, t0: float, t1: float) -> None:
        """Place the brush (also used by tests); emits ``rangeSelected`` once it settles."""
        self._syncing = True
        try:
            for c in self.charts:
                c.region.setRegion((t0, t1))
                c.region.show()
        finally:
            self._syncing = False
        if not self.brush_box.isChecked():
            self.brush_box.blockSignals(True)
            self.brush_box.setChecked(True)
            self.brush_box.blockSignals(False)
        self.selected = (min(t0, t1), max(t0, t1))
        self._settle.start()

    def _region_moved(self, chart: _Chart) -> None:
        if self._syncing:
            return
        t0, t1 = chart.region.getRegion()
        self._syncing = True
        try:
            for c in self.charts:
                if c is not chart:
                    c.region.setRegion((t0, t1))
        finally:
            self._syncing = False
        self.selected = (float(t0), float(t1))
        self._settle.start()

    def _emit_range(self) -> None:
        if self.selected is not None:
            self.rangeSelected.emit(*self.selected)

    # ----------------------------------------------------------------- hover
    def hover_text(self, t: float) -> str:
        """Values of every plotted series at time ``t``."""
        s = self.session
        if s is None:
            return ""
        parts = []
        with s.lock():
            for c in self.charts:
                for name in c.curves:
                    rs = s.series.get(name)
                    if rs is None:
                        continue
                    v = value_at(rs, t)
                    if v is not None:
                        parts.append(f"{name} {format_value(v, _unit_of(name, rs.unit))}")
        return "   ".join(parts)

    def _mouse_moved(self, evt: tuple[object, ...]) -> None:
        pos = evt[0]
        for c in self.visible_charts():
            if c.plot.sceneBoundingRect().contains(pos):
                self.show_cursor(float(c.plot.vb.mapSceneToView(pos).x()))
                return

    def show_cursor(self, t: float) -> None:
        """A vertical line at ``t`` on every chart and the values of all series in the label."""
        for c in self.visible_charts():
            c.cursor.setPos(t)
            c.cursor.show()
        self.hover_label.setText(self.hover_text(t))

    # ---------------------------------------------------------------- export
    def export_csv(self, path: str) -> int:
        """The visible series within the visible time range, long format; returns rows written."""
        s = self.session
        charts = self.visible_charts()
        if s is None or not charts:
            return 0
        (x0, x1), _y = charts[0].plot.viewRange()
        rows = 0
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["series", "unit", "time_s", "value"])
            with s.lock():
                for c in charts:
                    for name in c.curves:
                        rs = s.series.get(name)
                        if rs is None:
                            continue
                        ts, vs = rs.window(x0, x1 + 1e-9)
                        for t, v in zip(ts.tolist(), vs.tolist(), strict=True):
                            w.writerow([name, rs.unit, f"{t:.6f}", repr(v)])
                            rows += 1
        return rows

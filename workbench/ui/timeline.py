"""The timeline: charts of session series on one shared time axis, a range brush, hover values.

Adding a chart is declaring a title and the series names (fnmatch patterns) it plots;
charts with no matching series stay hidden. Data comes from bounded ``RingSeries`` and
is only re-sent to pyqtgraph when a series' version changed. Legends and hover values are
words and units from ``analysis.series_display``; counters are drawn as rates.

The time axis is one range owned by this view, not a pyqtgraph link to some chart: a link
to a hidden chart never propagates (a URL-only session has no CPU chart), so every chart
is set to the same range here, following the session's data until the user pans or zooms.
"""

from __future__ import annotations

import csv
import fnmatch
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..analysis.series_display import DEFAULT_CHART_DECLS, SeriesInfo, base_name, describe, display_values
from ..analysis.series_display import format_series_value as _format_series_value
from ..analysis.series_display import value_at as _display_value_at
from ..model.series import RingSeries
from ..model.session import EventBatch, Session

PEN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2")
MAX_MARKERS = 50  # the newest events; older ones stay in the session
MAX_CURVES_PER_CHART = 8  # pool.* could match hundreds: keep a chart readable and bounded
LEFT_AXIS_PX = 64  # room for a unit label and five digits of tick text
CHART_MIN_PX = 44  # a title line and a plot a curve can be read in (11 charts fit at 1000 px)
AXIS_PX = 28  # the one time axis, under the last chart
HEAD_PX = 34  # the brush / hover row
ROW_GAP_PX = 2


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    patterns: tuple[str, ...]
    unit: str = ""  # axis unit; pyqtgraph adds the SI prefix (MB, ms)

    def matches(self, name: str) -> bool:
        # a labelled capture's series (go.goroutines@billing) goes where its base name goes
        base = base_name(name)[0]
        return any(fnmatch.fnmatchcase(base, p) for p in self.patterns)


DEFAULT_CHARTS = tuple(ChartSpec(d.title, d.patterns, d.unit) for d in DEFAULT_CHART_DECLS)


def value_at(series: RingSeries, t: float) -> float | None:
    """What the chart shows at ``t`` (a counter's rate, a scaled value), None before the first point."""
    return _display_value_at(describe(series.name, series.unit), series.times, series.values, t)


def _data_span(series: RingSeries) -> tuple[float, float] | None:
    times = series.times
    return (float(times[0]), float(times[-1])) if len(times) else None


class _Chart:
    def __init__(self, spec: ChartSpec, plot: pg.PlotItem) -> None:
        self.spec = spec
        self.plot = plot
        self.curves: dict[str, tuple[pg.PlotDataItem, int]] = {}  # name -> (curve, series version)
        self.infos: dict[str, SeriesInfo] = {}  # name -> words and unit of its curve
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
        self.glw.ci.setContentsMargins(2, 2, 2, 2)
        self.glw.ci.layout.setSpacing(ROW_GAP_PX)
        self.brush_box = QCheckBox("select range")
        self.brush_box.setToolTip("drag the shaded range to cut the flame graph to that time window")
        self.brush_box.toggled.connect(self._brush_toggled)
        self.all_btn = QPushButton("whole session")
        self.all_btn.setToolTip("show the whole session's time range on every chart and follow new data")
        self.all_btn.clicked.connect(self.follow_data)
        self.hover_label = QLabel("")
        self.hover_label.setObjectName("timelineHover")
        self.empty = QLabel("No time series yet: start a capture (process stats, pprof, agent) or open a session.")
        head = QHBoxLayout()
        head.addWidget(self.brush_box)
        head.addWidget(self.hover_label, 1)
        head.addWidget(self.all_btn)
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
        # the shared time axis: None = follow the session's data (whole span, growing live)
        self.x_range: tuple[float, float] | None = None
        self._x_syncing = False
        self._shown_count = -1
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
        plot.setTitle(spec.title, size="8pt", justify="left")
        plot.titleLabel.setMaximumHeight(16)
        plot.layout.setRowFixedHeight(0, 16)
        plot.setMinimumHeight(CHART_MIN_PX)
        if spec.unit:
            plot.setLabel("left", units=spec.unit)
        # one left-axis width for every chart, so one moment sits at one x on all of them
        plot.getAxis("left").setWidth(LEFT_AXIS_PX)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMouseEnabled(x=True, y=False)
        legend = plot.addLegend(labelTextSize="8pt", verSpacing=-6)
        # in the title row, right of the title: a short chart keeps its curves uncovered
        legend.setParentItem(plot)
        legend.anchor((1, 0), (1, 0), offset=(-4, -4))
        plot.hideButtons()
        # x is set by this view (see the module docstring); y follows what is visible
        plot.vb.disableAutoRange(axis=pg.ViewBox.XAxis)
        plot.vb.setAutoVisible(y=True)
        if self.x_range is not None:
            plot.setXRange(*self.x_range, padding=0)
        plot.vb.sigXRangeChanged.connect(self._x_changed)
        plot.vb.sigRangeChangedManually.connect(lambda _m: self._user_moved_x())
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
            c.infos.clear()
        self._events_shown = -1
        self.x_range = None
        self.refresh()

    # ------------------------------------------------------------- time axis
    def data_span(self) -> tuple[float, float] | None:
        """First and last time of every series on a chart (what 'whole session' shows)."""
        s = self.session
        if s is None:
            return None
        lo, hi = float("inf"), float("-inf")
        with s.lock():
            for c in self.charts:
                for name in c.curves:
                    rs = s.series.get(name)
                    span = _data_span(rs) if rs is not None else None
                    if span is not None:
                        lo, hi = min(lo, span[0]), max(hi, span[1])
        if lo > hi:
            return None
        if hi - lo < 1.0:  # one point: a second around it, not a zero-width axis
            lo, hi = lo - 0.5, hi + 0.5
        return lo, hi

    def follow_data(self) -> None:
        """Back to the whole session's span, following new data."""
        self.x_range = None
        self._apply_x(self.data_span())

    def _apply_x(self, span: tuple[float, float] | None) -> None:
        if span is None:
            return
        self._x_syncing = True
        try:
            for c in self.charts:
                c.plot.setXRange(span[0], span[1], padding=0.01)
        finally:
            self._x_syncing = False

    def _x_changed(self, vb: pg.ViewBox, r: tuple[float, float]) -> None:
        """One chart's x moved (a pan, a zoom, the menu): every other chart takes the same range."""
        if self._x_syncing:
            return
        self._x_syncing = True
        try:
            for c in self.charts:
                if c.plot.vb is not vb:
                    c.plot.setXRange(float(r[0]), float(r[1]), padding=0)
        finally:
            self._x_syncing = False

    def _user_moved_x(self) -> None:
        (x0, x1), _y = (self.visible_charts() or self.charts)[0].plot.viewRange()
        self.x_range = (float(x0), float(x1))

    def visible_x_range(self) -> tuple[float, float]:
        """The time range every visible chart shows."""
        (x0, x1), _y = (self.visible_charts() or self.charts)[0].plot.viewRange()
        return float(x0), float(x1)

    def _refresh_markers(self, events: list[EventBatch]) -> None:
        """One dashed vertical line per session event (bounded: the session keeps the last 1000),
        labelled on the first chart, with the event text as tooltip."""
        if len(events) == self._events_shown:
            return
        self._events_shown = len(events)
        shown = events[-MAX_MARKERS:]
        first = (self.visible_charts() or self.charts)[0]
        for c in self.charts:
            for m in c.markers:
                c.plot.removeItem(m)
            c.markers = []
            last_labelled = float("-inf")
            for e in shown:
                # events at about the same moment (a trigger firing and its capture starting)
                # share one label, so texts never print over each other
                labelled = c is first and e.t - last_labelled > 1.0
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
            for c in self.charts:
                names = sorted(n for n in series if c.spec.matches(n))[:MAX_CURVES_PER_CHART]
                for i, name in enumerate(names):
                    rs = series[name]
                    entry = c.curves.get(name)
                    if entry is not None and entry[1] == rs.version:
                        continue
                    info = c.infos.get(name) or describe(name, rs.unit)
                    if entry is None:
                        pen = pg.mkPen(PEN_COLORS[i % len(PEN_COLORS)], width=1.5)
                        curve = c.plot.plot(name=info.label, pen=pen)
                        if c.plot.legend is not None:  # one row: a short chart has no room for a column
                            c.plot.legend.setColumnCount(len(names))
                        self._legend_tooltip(c, curve, info)
                    else:
                        curve = entry[0]
                    curve.setData(*display_values(info, rs.times, rs.values))
                    c.curves[name] = (curve, rs.version)
                    c.infos[name] = info
                visible = bool(c.curves)
                c.plot.setVisible(visible)
                any_data |= visible
            if self.x_range is None:
                self._apply_x(self.data_span())
            self._layout_charts()
            self._refresh_markers(events)
        self.empty.setVisible(not any_data)
        self.glw.setVisible(any_data)

    @staticmethod
    def _legend_tooltip(chart: _Chart, curve: pg.PlotDataItem, info: SeriesInfo) -> None:
        legend = chart.plot.legend
        label = legend.getLabel(curve) if legend is not None else None
        if label is not None:
            unit = f" ({info.unit})" if info.unit and info.unit != "count" else ""
            rate = ", plotted as a rate per second" if info.counter else ""
            label.setToolTip(f"{info.name}{unit}{rate}")

    def _layout_charts(self) -> None:
        """One time axis, under the last visible chart; room enough for every chart with data
        (the window's splitter gives the timeline at least this height)."""
        shown = self.visible_charts()
        if len(shown) == self._shown_count:
            return
        self._shown_count = len(shown)
        self._events_shown = -1  # marker labels go on the first visible chart
        for c in self.charts:
            # every chart keeps its bottom axis (it draws the vertical grid), only the last one
            # prints the times: one time axis for all
            last = bool(shown) and c is shown[-1]
            axis = c.plot.getAxis("bottom")
            axis.setStyle(showValues=last)
            axis.setHeight(None if last else 2)
            c.plot.setMinimumHeight(CHART_MIN_PX + (AXIS_PX if last else 0))
        rows = (CHART_MIN_PX + ROW_GAP_PX) * len(shown)
        self.setMinimumHeight(max(220, HEAD_PX + AXIS_PX + rows + 2 * ROW_GAP_PX + 8))

    def visible_charts(self) -> list[_Chart]:
        return [c for c in self.charts if c.curves]

    # ----------------------------------------------------------------- brush
    def _brush_toggled(self, on: bool) -> None:
        if on:
            x0, x1 = self.visible_x_range()
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
                    info = c.infos.get(name)
                    if rs is None or info is None:
                        continue
                    v = _display_value_at(info, rs.times, rs.values, t)
                    if v is not None:
                        parts.append(_format_series_value(info, v))
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
        x0, x1 = self.visible_x_range()
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

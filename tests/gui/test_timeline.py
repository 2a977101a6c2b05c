"""The timeline draws every series mix on one time axis: a Go service by URL has no CPU chart
(no ``process.*``), a Python service by PID may have nothing but ``process.*``; both must show
curves where the data is, live and reopened from a saved session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QRect

from workbench.analysis.series_display import describe, display_values
from workbench.formats.wbs import load_session, save_session
from workbench.model import SeriesBatch, SeriesPoint
from workbench.model.session import Session
from workbench.ui.timeline import TimelineView

T0 = 1_700_000_000.0
SECONDS = 30


def _go_and_pool(s: Session) -> None:
    """What pprof-fetch gives for a Go service by URL: go.* and pool.*, no process.*."""
    for i in range(SECONDS):
        t = T0 + i
        s.put(
            SeriesBatch(
                [
                    SeriesPoint("go.goroutines", t, 10.0 + i, "count"),
                    SeriesPoint("go.heap_inuse_bytes", t, 4e6 + i * 2e5, "bytes"),
                    SeriesPoint("go.gc.count", t, float(i * 2), "count"),
                    SeriesPoint("go.gc.pause_ns", t + 0.5, 2e5 + 1e4 * i, "ns"),
                    SeriesPoint("pool.db.open", t, 3.0, "count"),
                    SeriesPoint("pool.db.in_use", t, 3.0, "count"),
                    SeriesPoint("pool.db.idle", t, 0.0, "count"),
                    SeriesPoint("pool.db.max_open", t, 3.0, "count"),
                    SeriesPoint("pool.db.wait_count", t, float(i * 330), "count"),
                    SeriesPoint("pool.db.wait_s", t, i * 1.5, "s"),
                    # the service's latency histogram, as pprof-fetch reads it from /metrics
                    SeriesPoint("hist.http_request_duration_seconds.p50", t, 0.02 + 0.001 * i, "s"),
                    SeriesPoint("hist.http_request_duration_seconds.p99", t, 0.2 + 0.01 * i, "s"),
                    SeriesPoint("hist.http_request_duration_seconds.count", t, float(i * 40), "count"),
                ]
            )
        )


def _process_only(s: Session) -> None:
    for i in range(SECONDS):
        t = T0 + i
        s.put(
            SeriesBatch(
                [
                    SeriesPoint("process.cpu_percent", t, 40.0 + i, "%"),
                    SeriesPoint("process.rss_bytes", t, 1e8 + i * 1e6, "bytes"),
                    SeriesPoint("process.uss_bytes", t, 8e7 + i * 1e6, "bytes"),
                    SeriesPoint("process.threads", t, 12.0, "count"),
                ]
            )
        )


def _view(qtbot, session: Session) -> TimelineView:
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(1200, 700)
    view.show()
    qtbot.waitExposed(view)
    view.set_session(session)
    view.refresh()
    qtbot.wait(50)  # one layout pass, so every chart has its size
    return view


def _assert_draws_everything(view: TimelineView, session: Session, expected_titles: set[str]) -> None:
    shown = view.visible_charts()
    assert {c.spec.title for c in shown} == expected_titles
    for c in view.charts:
        assert c.plot.isVisible() == (c in shown), c.spec.title
    with session.lock():
        series = dict(session.series)
    for c in shown:
        (x0, x1), _y = c.plot.viewRange()
        assert c.curves, c.spec.title
        for name, (curve, _v) in c.curves.items():
            rs = series[name]
            t, _vals = display_values(describe(name, rs.unit), rs.times, rs.values)
            assert len(t), name
            # every point of every curve is inside the visible time range of its chart
            assert x0 <= float(t[0]) and float(t[-1]) <= x1, (c.spec.title, name, (x0, x1), (t[0], t[-1]))
            xs, _ys = curve.getData()
            assert xs is not None and len(xs) == len(t)
        # and the range is the data's, not pyqtgraph's 0..1 default
        assert x1 - x0 < 2 * SECONDS, (c.spec.title, x0, x1)
        assert c.plot.getAxis("bottom").style["showValues"] == (c is shown[-1])


def _grab(view: TimelineView, name: str, tmp_path: Path) -> Path:
    out_dir = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    assert view.grab().save(str(path))
    return path


GO_CHARTS = {
    "latency",
    "requests",
    "memory",
    "threads / goroutines",
    "GC pauses",
    "GC runs",
    "pool connections",
    "pool waits",
    "pool wait time",
}


def test_url_only_session_without_process_series_draws_every_chart(qtbot, tmp_path) -> None:
    s = Session()
    _go_and_pool(s)
    view = _view(qtbot, s)
    _assert_draws_everything(view, s, GO_CHARTS)
    legend = {info.label for c in view.visible_charts() for info in c.infos.values()}
    assert {"heap in use", "goroutines", "Go GCs/s", "Go GC pause", "db in use", "db max", "db waits/s"} <= legend
    # counters are rates: 330 waits per second, not a count of thousands
    waits = next(c for c in view.charts if c.spec.title == "pool waits")
    _xs, ys = waits.curves["pool.db.wait_count"][0].getData()
    assert ys is not None and float(ys.max()) == pytest.approx(330.0)
    text = view.hover_text(T0 + 10.2)
    assert "goroutines 20" in text and "db waits/s 330" in text and "heap in use 5.72 MiB" in text
    _grab(view, "timeline-go-url.png", tmp_path)


def test_process_only_session_draws_its_charts(qtbot, tmp_path) -> None:
    s = Session()
    _process_only(s)
    view = _view(qtbot, s)
    _assert_draws_everything(view, s, {"CPU", "memory", "threads / goroutines"})
    assert "RSS 95.4 MiB" in view.hover_text(T0 + 0.5)
    _grab(view, "timeline-process.png", tmp_path)


def test_reopened_session_looks_like_it_did_live(qtbot, tmp_path) -> None:
    s = Session()
    _go_and_pool(s)
    path = tmp_path / "go.wbs"
    save_session(s, path)
    reopened = load_session(path)
    view = _view(qtbot, reopened)
    _assert_draws_everything(view, reopened, GO_CHARTS)


def test_pan_moves_every_chart_and_whole_session_follows_again(qtbot, tmp_path) -> None:
    s = Session()
    _go_and_pool(s)
    view = _view(qtbot, s)
    shown = view.visible_charts()
    shown[0].plot.vb.setXRange(T0 + 5, T0 + 10, padding=0)
    shown[0].plot.vb.sigRangeChangedManually.emit([True, False])  # what a drag emits
    for c in shown:
        x0, x1 = c.plot.viewRange()[0]
        assert (x0, x1) == pytest.approx((T0 + 5, T0 + 10)), c.spec.title
    s.put(SeriesBatch([SeriesPoint("go.goroutines", T0 + 100, 5.0, "count")]))
    view.refresh()
    assert view.visible_x_range() == pytest.approx((T0 + 5, T0 + 10))  # the user's view stays
    view.all_btn.click()
    x0, x1 = view.visible_x_range()
    assert x0 <= T0 and x1 >= T0 + 100


def _python_gc(s: Session) -> None:
    for i in range(SECONDS):
        t = T0 + i
        s.put(
            SeriesBatch(
                [
                    SeriesPoint(f"python.gc.gen{g}.collections", t, float(i * (3 - g) * 4), "collections")
                    for g in range(3)
                ]
                + [SeriesPoint("python.gc.pause_s", t + 0.3, 0.002 + 0.0001 * i, "s")]
            )
        )


def _waits(s: Session) -> None:
    """A wall profile's waiting share by kind (what `--profile wall` adds to the timeline)."""
    for i in range(SECONDS):
        t = T0 + i
        s.put(SeriesBatch([SeriesPoint("wait.pool.share", t, 0.6, ""), SeriesPoint("wait.network.share", t, 0.1, "")]))


def test_main_window_at_1600x1000_shows_every_chart_without_scrolling(qtbot, window, tmp_path) -> None:
    window.resize(1600, 1000)
    _process_only(window.session)
    _go_and_pool(window.session)
    _python_gc(window.session)
    _waits(window.session)
    window.refresh()
    qtbot.wait(100)
    _grab(window, "main-window-1600x1000.png", tmp_path)
    tl = window.timeline
    shown = tl.visible_charts()
    assert len(shown) == len(tl.charts)  # the mix fills every default chart
    view_rect = tl.glw.viewport().rect()
    win_rect = window.rect()
    for c in shown:
        # each chart lies inside the visible part of the timeline and of the window itself (a
        # timeline taller than the window would be cut off at its bottom), tall enough to read
        rect = tl.glw.mapFromScene(c.plot.sceneBoundingRect()).boundingRect()
        assert view_rect.contains(rect), (c.spec.title, rect, view_rect)
        in_window = QRect(tl.glw.viewport().mapTo(window, rect.topLeft()), rect.size())
        assert win_rect.contains(in_window), (c.spec.title, in_window, win_rect)
        assert c.plot.vb.height() >= 24, c.spec.title
    runs = next(c for c in shown if c.spec.title == "GC runs")
    assert {i.label for i in runs.infos.values()} == {
        "Go GCs/s",
        "gen 0 collections/s",
        "gen 1 collections/s",
        "gen 2 collections/s",
    }
    _grab(window, "main-window-1600x1000.png", tmp_path)

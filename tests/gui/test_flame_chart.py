"""The flame chart canvas and tab (pytest-qt): hover, wheel and drag, and the window's linking."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from workbench.model import WALL_NS, Frame, Profile, ProfileKey, Runtime
from workbench.ui.flame_chart import AXIS_H, ROW_H, FlameChartView, tick_label, tick_step


def _phases() -> Profile:
    p = Profile([WALL_NS])
    for i in range(20):
        leaf = "alpha" if (i // 5) % 2 == 0 else "beta"
        f = [Frame(n, f"/srv/{n}.py", 3, "app", Runtime.PYTHON) for n in ("main", leaf)]
        p.add_stack(f, [1e9], 1000.0 + i, 1001.0 + i)
    return p


@pytest.fixture
def view(qtbot):
    v = FlameChartView()
    qtbot.addWidget(v)
    v.resize(1000, 300)
    v.show()
    qtbot.waitExposed(v)
    v.set_profile(_phases())
    return v


def test_hover_zoom_and_pan(view, qtbot) -> None:
    c = view.canvas
    assert c.shown_range() == (1000.0, 1020.0)
    c.grab()  # paint
    assert c.boxes_drawn >= 5, "main bar + 4 alternating phases"
    b = c.box_at(QPointF(c.width() * 0.1, AXIS_H + ROW_H * 1.5))
    assert b >= 0 and c.hover_text(b).startswith("alpha\n/srv/alpha.py:3")
    assert "for 5 s\nwall: 5 s in that time" in c.hover_text(b)
    with qtbot.waitSignal(view.rangeRequested) as sig:
        c.zoom(2.0, 0.5)
    t0, t1 = sig.args
    assert (t0, t1) == pytest.approx((1005.0, 1015.0))
    assert c.shown_range() == pytest.approx((1005.0, 1015.0))
    assert "brushed range" in view.range_label.text()
    with qtbot.waitSignal(view.rangeRequested) as sig:
        qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=QPoint(500, 60))
        qtbot.mouseMove(c, QPoint(400, 60))
        qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=QPoint(400, 60))
    assert sig.args[0] == pytest.approx(1006.0), "dragging left by a tenth moves the range a tenth later"
    with qtbot.waitSignal(view.wholeRequested):
        view.whole_btn.click()
    view.set_window(None)
    c.grab()
    # a click on beta (1005-1010 s)
    with qtbot.waitSignal(view.rangeRequested) as sig:
        qtbot.mouseClick(c, Qt.MouseButton.LeftButton, pos=QPoint(int(c.width() * 0.3), int(AXIS_H + ROW_H * 1.5)))
    assert sig.args == pytest.approx([1004.75, 1010.25]), "a click zooms to the box's time"


def test_axis_ticks() -> None:
    assert tick_step(3600.0, 1600.0) == 300
    assert tick_step(2.0, 1600.0) == 0.2
    assert tick_label(1000.25, 0.05).endswith(".250")


def test_window_links_chart_and_brush(window, qtbot) -> None:
    p = _phases()
    window.session.add_profiles([(ProfileKey("pyspy", "1", "wall"), p)])
    window.refresh()
    window.tabs.setCurrentWidget(window.chart)
    assert window.chart.canvas.profile is not None
    window.timeline.set_range(1004.0, 1009.0)
    qtbot.waitUntil(lambda: window.chart.canvas.view == (1004.0, 1009.0), timeout=5000)
    window.chart.canvas.zoom(2.0, 0.5)
    qtbot.waitUntil(lambda: window.time_window == pytest.approx((1005.25, 1007.75)), timeout=5000)
    assert window.timeline.selected == pytest.approx((1005.25, 1007.75))
    window.chart.whole_btn.click()
    qtbot.waitUntil(lambda: window.time_window is None and window.chart.canvas.view is None, timeout=5000)


def test_profile_without_time_slices(view) -> None:
    p = Profile([WALL_NS])
    p.add_stack([Frame("main")], [1.0])  # an opened collapsed file: no times
    view.set_profile(p)
    view.canvas.grab()
    assert view.canvas.boxes_drawn == 0
    assert view.range_label.text() == "no samples over time in this profile"

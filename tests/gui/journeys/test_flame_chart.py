"""Journey: the flame chart (time order) of a live py-spy capture, linked to the timeline.

A Python process alternates between two phases (``phase_alpha`` then ``phase_beta``, about
1.5 s each). The user picks its PID, starts the default sources (py-spy + process stats),
opens the Flame chart tab: boxes are drawn across the whole width, and the two phases
alternate along the time axis. Ticking "select range" on the timeline narrows the chart to
the brush; a wheel step on the chart zooms it and moves the brush (which cuts the flame
graph to the same window).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.gui.journeys import drive
from tests.helpers.targets import run_target
from workbench.ui.main_window import MainWindow

pytestmark = pytest.mark.slow

PHASES = textwrap.dedent(
    """
    import time

    def phase_alpha(until):
        x = 0
        while time.monotonic() < until:
            x += sum(i * i for i in range(2000))
        return x

    def phase_beta(until):
        x = 0
        while time.monotonic() < until:
            x ^= hash(str(x)) & 0xFFFF
        return x

    def main():
        print("TARGET_READY", flush=True)
        while True:
            phase_alpha(time.monotonic() + 1.5)
            phase_beta(time.monotonic() + 1.5)

    main()
    """
)
SPAN_S = 10.0  # enough for three alternations of the two phases


@dataclass
class Live:
    win: MainWindow
    art: Path


@pytest.fixture(scope="module")
def live(qapp, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flame_chart")
    with run_target(PHASES) as proc:
        win = drive.new_window(tmp / "settings.ini")
        try:
            drive.pick_pid(win, proc.pid)
            drive.click_start(win)
            drive.show_profile(win, lambda k: k.startswith("pyspy:") and k.endswith(":cpu"))
            drive.wait_until(lambda: _span(win) >= SPAN_S, 60, f"{SPAN_S:.0f} s of py-spy samples", win=win)
            drive.click_stop(win)  # a still profile: what is asserted is what is drawn
            drive.settle(600)
            yield Live(win, drive.artefact_dir(tmp))
        finally:
            drive.close_window(win)


def _span(win: MainWindow) -> float:
    key = win.profile_combo.currentText()
    p = win.session.snapshot_profile(key) if key else None
    if p is None or not p.slices:
        return 0.0
    return max(s.t1 for s in p.slices) - min(s.t0 for s in p.slices)


def _phase_boxes(win: MainWindow, name: str) -> list[tuple[float, float]]:
    canvas = win.chart.canvas
    p = canvas.profile
    lay = canvas.chart()
    out = []
    for i in range(len(lay)):
        if p.frames[int(p.frame[lay.node[i]])].function == name:
            out.append((float(lay.t0[i]), float(lay.t1[i])))
    return sorted(out)


def _painted_quarters(win: MainWindow) -> list[int]:
    """Non-background pixels of the chart canvas in each quarter of its width."""
    img = win.chart.canvas.grab().toImage()
    w = img.width()
    return [drive.non_background_pixels(img.copy(q * w // 4, 20, w // 4, img.height() - 20)) for q in range(4)]


def test_chart_draws_the_phases_in_time_order(live: Live) -> None:
    win = live.win
    win.tabs.setCurrentWidget(win.chart)
    drive.settle(400)
    canvas = win.chart.canvas
    assert canvas.view is None, "no brush: the whole profile"
    lay = canvas.chart()
    assert len(lay) > 10, f"the chart lays out {len(lay)} boxes"
    assert len(lay.columns) >= 5, f"{len(lay.columns)} time columns"
    assert canvas.boxes_drawn > 10, "boxes painted"
    quarters = _painted_quarters(win)
    assert all(q > 300 for q in quarters), f"boxes across the whole time axis (pixels per quarter: {quarters})"
    alpha = _phase_boxes(win, "phase_alpha")
    beta = _phase_boxes(win, "phase_beta")
    assert len(alpha) >= 2 and len(beta) >= 2, f"the phases alternate: alpha {alpha}, beta {beta}"
    # alternation in time: between two alpha bars lies a beta bar
    a_starts = [a[0] for a in alpha]
    assert any(a_starts[0] < b[0] < a_starts[-1] for b in beta), (alpha, beta)
    drive.screenshot(win, live.art, "flame-chart")


def test_brush_sets_the_chart_range_and_wheel_moves_the_brush(live: Live) -> None:
    win = live.win
    win.tabs.setCurrentWidget(win.chart)
    canvas = win.chart.canvas
    whole = canvas.shown_range()
    assert whole is not None
    n_whole = len(canvas.chart().columns)
    # the user ticks "select range": the brush covers 60-90 % of the visible time axis
    QTest.mouseClick(win.timeline.brush_box, Qt.MouseButton.LeftButton)
    drive.wait_until(lambda: win.time_window is not None, 10, "the brush to settle")
    drive.wait_until(lambda: canvas.view == win.time_window, 10, "the chart to show the brushed range")
    t0, t1 = canvas.shown_range()
    assert (t1 - t0) < 0.6 * (whole[1] - whole[0]), "the brushed range is narrower than the whole"
    drive.settle(300)
    lay = canvas.chart()
    assert len(lay) > 0 and lay.view == (t0, t1)
    assert lay.t1.max() > t0 and lay.t0.min() < t1
    assert "brushed range" in win.chart.range_label.text()
    assert win.window_label.text(), "the flame graph is cut to the same window"
    drive.screenshot(win, live.art, "flame-chart-brushed")
    # a wheel step (zoom in) on the chart moves the brush to the chart's new range
    centre = QPointF(canvas.width() / 2, 60)
    ev = QWheelEvent(centre, QPointF(canvas.mapToGlobal(QPoint(int(centre.x()), 60))), QPoint(0, 0),
                     QPoint(0, 240), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                     Qt.ScrollPhase.NoScrollPhase, False)  # fmt: skip
    QApplication.sendEvent(canvas, ev)
    z0, z1 = canvas.shown_range()
    assert (z1 - z0) < 0.8 * (t1 - t0), "the wheel zoomed the chart in"
    drive.wait_until(
        lambda: win.timeline.selected is not None and np.allclose(win.timeline.selected, (z0, z1)),
        10,
        "the timeline's brush to follow the chart's zoom",
    )
    drive.wait_until(
        lambda: win.time_window is not None and np.allclose(win.time_window, (z0, z1)), 10, "the window cut"
    )
    assert n_whole > len(canvas.chart().columns) or len(canvas.chart()) > 0
    # "whole profile" clears the brush and shows everything again
    QTest.mouseClick(win.chart.whole_btn, Qt.MouseButton.LeftButton)
    drive.wait_until(lambda: canvas.view is None and win.time_window is None, 10, "the whole profile again")
    assert not win.timeline.brush_box.isChecked()


def test_chart_of_the_reopened_session(live: Live) -> None:
    """The time slices are stored in the .wbs: the chart is the same offline."""
    win = live.win
    before = win.chart.canvas.chart()
    fresh = drive.save_and_reopen(win, live.art / "flame-chart.wbs", live.art / "fresh.ini")
    try:
        drive.show_profile(fresh, lambda k: k.startswith("pyspy:") and k.endswith(":cpu"))
        fresh.tabs.setCurrentWidget(fresh.chart)
        drive.settle(300)
        lay = fresh.chart.canvas.chart()
        assert len(lay.columns) == len(before.columns) and len(lay) == len(before), "the same boxes offline"
        assert fresh.chart.canvas.boxes_drawn > 10
    finally:
        drive.close_window(fresh)

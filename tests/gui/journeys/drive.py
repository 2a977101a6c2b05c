"""Drive the real MainWindow as a user does, and check what it DRAWS.

The checks read the widgets, not the session: a series in the session that no chart shows
(the x axis stuck at 0..1 while the data sits at epoch seconds) is a failure here.
Every helper returns plain data or raises AssertionError with what was on screen.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QGroupBox, QStyle, QStyleOptionGroupBox, QWidget

from workbench.ui.main_window import MainWindow

WINDOW_SIZE = (1500, 950)
BLANK_TOLERANCE = 24  # a pixel this close (per channel) to the background counts as background


# ------------------------------------------------------------------ waiting
def wait_until(pred: Callable[[], object], timeout: float, what: str, poll_ms: int = 50, win: object = None) -> None:
    """Spin the Qt event loop until ``pred()`` is truthy; fail naming ``what`` on timeout
    (with the window's banner, capture status, series and profiles when ``win`` is given)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pred():
                return
        except AssertionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for: {what}" + describe(win))
        QTest.qWait(poll_ms)


def describe(win: object) -> str:
    if not isinstance(win, MainWindow):
        return ""
    return (
        f"\n  banner: {banner_text(win)!r}\n  capture status: {win.capture.status.text()!r}"
        f"\n  profiles: {profile_keys(win)}\n  series: {sorted(win.session.series_names())[:40]}"
        f"\n  charts with curves: {sorted(charts_with_curves(win))}\n  leaks: {leak_rows(win)}"
    )


GDB_BROKEN = "Couldn't write extended state status"  # gdb cannot set registers here (some sandboxes)


def skip_if_injection_impossible(win: MainWindow) -> None:
    """The agent and memray attach through gdb; where gdb cannot write the target's
    registers (gVisor-like sandboxes), every injection fails the same way: skip, do not fail."""
    import pytest

    if GDB_BROKEN in banner_text(win):
        pytest.skip(f"gdb cannot inject on this machine: {banner_text(win)[:160]}")


def settle(ms: int = 400) -> None:
    """Let the window's refresh timer (333 ms) and pending paints run."""
    QTest.qWait(ms)


def artefact_dir(fallback: Path) -> Path:
    """Screenshots go to $WB_ARTEFACTS (CI uploads it) or the test's tmp dir."""
    root = os.environ.get("WB_ARTEFACTS")
    d = Path(root) / "journeys" if root else fallback
    d.mkdir(parents=True, exist_ok=True)
    return d


def screenshot(win: QWidget, directory: Path, name: str) -> Path:
    settle(200)
    path = directory / f"{name}.png"
    assert win.grab().save(str(path), "PNG"), f"cannot write {path}"
    return path


# ------------------------------------------------------------------ windows
def new_window(settings_path: Path) -> MainWindow:
    """A shown MainWindow with its own settings file (never the user's QSettings)."""
    settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    win.resize(*WINDOW_SIZE)
    win.show()
    QTest.qWaitForWindowExposed(win)
    return win


def close_window(win: MainWindow) -> None:
    win.close()  # stops every capture (bounded wait) before the window goes
    win.deleteLater()
    settle(100)


# --------------------------------------------------------------- the picker
def pick_url(win: MainWindow, url: str) -> None:
    """Type the URL into the picker's entry and press Enter."""
    entry = win.picker.url
    entry.clear()
    QTest.keyClicks(entry, url)
    QTest.keyClick(entry, Qt.Key.Key_Return)
    wait_until(lambda: win.capture.target is not None and win.capture.target.value == url, 5, f"target {url}")
    wait_planned(win)


def pick_pid(win: MainWindow, pid: int, timeout: float = 30.0) -> None:
    """Type the PID into the filter, wait for the process list, double-click its row."""
    picker = win.picker
    picker.filter.clear()
    QTest.keyClicks(picker.filter, str(pid))
    QTest.mouseClick(picker.refresh_btn, Qt.MouseButton.LeftButton)

    def row():
        for i in range(picker.tree.topLevelItemCount()):
            item = picker.tree.topLevelItem(i)
            if item.text(0) == str(pid) and not item.isHidden():
                return item
        return None

    wait_until(lambda: row() is not None, timeout, f"PID {pid} in the process list")
    item = row()
    picker.tree.scrollToItem(item)
    settle(100)
    centre = picker.tree.visualItemRect(item).center()
    QTest.mouseClick(picker.tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    QTest.mouseDClick(picker.tree.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    wait_until(lambda: win.capture.target is not None and win.capture.target.value == str(pid), 5, f"target PID {pid}")
    wait_planned(win)


def wait_planned(win: MainWindow, timeout: float = 20.0) -> None:
    """The chosen target's default sources are planned off the GUI thread (its runtime read, a Go
    PID's pprof listener located), then ticked: what a user sees a moment after picking."""
    wait_until(
        lambda: win.capture.default_plan is not None and win.capture.default_plan.target == win.capture.target,
        timeout,
        "the target's default sources",
        win=win,
    )


def runtime_shown(win: MainWindow, pid: int) -> str:
    """The runtime column of the PID's row in the picker (e.g. "go go1.22.1")."""
    for i in range(win.picker.tree.topLevelItemCount()):
        item = win.picker.tree.topLevelItem(i)
        if item.text(0) == str(pid):
            return item.text(2)
    return ""


# ------------------------------------------------------------- the capture panel
def _click_group_checkbox(box: QGroupBox) -> None:
    opt = QStyleOptionGroupBox()
    box.initStyleOption(opt)
    rect = box.style().subControlRect(
        QStyle.ComplexControl.CC_GroupBox, opt, QStyle.SubControl.SC_GroupBoxCheckBox, box
    )
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=rect.center())


def tick(win: MainWindow, wanted: Iterable[str]) -> None:
    """Tick exactly the ``wanted`` sources by clicking their group boxes' check boxes."""
    wanted = set(wanted)
    for name, ctl in win.capture.controls.items():
        box = ctl.box
        if not box.isCheckable():
            continue
        if box.isChecked() != (name in wanted):
            assert box.isEnabled() or name not in wanted, f"source {name} is greyed out for this target"
            if box.isEnabled():
                _click_group_checkbox(box)
            if box.isChecked() != (name in wanted):  # the style put the box elsewhere: still the user's act
                box.setChecked(name in wanted)
    ticked = {n for n, c in win.capture.controls.items() if c.box.isCheckable() and c.box.isChecked()}
    assert ticked == wanted, f"ticked {sorted(ticked)}, wanted {sorted(wanted)}"


def ticked(win: MainWindow) -> set[str]:
    return {
        n for n, c in win.capture.controls.items() if c.box.isCheckable() and c.box.isChecked() and c.box.isEnabled()
    }


def set_option(win: MainWindow, source: str, option: str, value: object) -> None:
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

    w = win.capture.controls[source].editors[option]
    if isinstance(w, QComboBox):
        i = w.findText(str(value))
        assert i >= 0, f"{source}.{option}: no choice {value!r}"
        w.setCurrentIndex(i)
    elif isinstance(w, QCheckBox):
        w.setChecked(bool(value))
    elif isinstance(w, QSpinBox | QDoubleSpinBox):
        w.setValue(value)  # type: ignore[arg-type]
    elif isinstance(w, QLineEdit):
        w.clear()
        QTest.keyClicks(w, str(value))


def click_start(win: MainWindow, timeout: float = 30.0) -> None:
    banner_before = banner_text(win)
    QTest.mouseClick(win.capture.start_btn, Qt.MouseButton.LeftButton)
    wait_until(
        lambda: bool(win.capture.running) and win.capture.stop_btn.isEnabled(),
        timeout,
        f"the capture to run (status: {win.capture.status.text()!r}, banner: {banner_text(win) or banner_before!r})",
    )


def click_stop(win: MainWindow, timeout: float = 30.0) -> None:
    QTest.mouseClick(win.capture.stop_btn, Qt.MouseButton.LeftButton)
    wait_until(
        lambda: not win.capture.running and win.capture.start_btn.isEnabled() and not win.capture.busy(),
        timeout,
        "the capture to stop",
    )


def running_sources(win: MainWindow) -> set[str]:
    return {r.name for r in win.capture.running}


def banner_text(win: MainWindow) -> str:
    return win.banner.text() if win.banner.isVisible() else ""


# ------------------------------------------------------------- profiles shown
def profile_keys(win: MainWindow) -> list[str]:
    return [win.profile_combo.itemText(i) for i in range(win.profile_combo.count())]


def show_profile(win: MainWindow, pred: Callable[[str], bool], timeout: float = 30.0) -> str:
    """Pick the first profile in the combo whose key satisfies ``pred``; returns the key."""
    wait_until(lambda: any(pred(k) for k in profile_keys(win)), timeout, f"a matching profile in {profile_keys(win)}")
    key = next(k for k in profile_keys(win) if pred(k))
    win.profile_combo.setCurrentIndex(profile_keys(win).index(key))
    win.tabs.setCurrentWidget(win.flame)
    settle(200)
    return key


# ------------------------------------------------------------- what is drawn
def _finite_xy(curve) -> tuple[np.ndarray, np.ndarray]:
    x, y = curve.getData()
    if x is None or y is None:
        return np.zeros(0), np.zeros(0)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def charts_with_curves(win: MainWindow) -> set[str]:
    """Titles of the timeline charts that are shown and hold a curve with finite data."""
    out = set()
    for c in win.timeline.charts:
        if not c.plot.isVisible():
            continue
        if any(len(_finite_xy(curve)[0]) for curve, _v in c.curves.values()):
            out.add(c.spec.title)
    return out


def curve_names(win: MainWindow, title: str) -> set[str]:
    for c in win.timeline.charts:
        if c.spec.title == title:
            return {n for n, (curve, _v) in c.curves.items() if len(_finite_xy(curve)[0])}
    return set()


@dataclass(frozen=True)
class ChartView:
    title: str
    data: tuple[float, float]  # the series' time range, epoch seconds
    view: tuple[float, float]  # the visible x range

    def visible_fraction(self) -> float:
        d0, d1 = self.data
        v0, v1 = self.view
        span = d1 - d0
        if span <= 0:
            return 1.0 if v0 <= d0 <= v1 else 0.0
        return max(0.0, min(d1, v1) - max(d0, v0)) / span


def chart_views(win: MainWindow) -> list[ChartView]:
    out = []
    for c in win.timeline.charts:
        if not c.plot.isVisible() or not c.curves:
            continue
        xs = [_finite_xy(curve)[0] for curve, _v in c.curves.values()]
        xs = [x for x in xs if len(x)]
        if not xs:
            continue
        (v0, v1), _y = c.plot.viewRange()
        out.append(ChartView(c.spec.title, (min(float(x.min()) for x in xs), max(float(x.max()) for x in xs)),
                             (float(v0), float(v1))))  # fmt: skip
    return out


def wait_for_span(win: MainWindow, seconds: float, timeout: float = 30.0) -> None:
    """Until every shown chart holds ``seconds`` of data (a range check on one point says little)."""
    wait_until(lambda: chart_views(win) and all(v.data[1] - v.data[0] >= seconds for v in chart_views(win)),
               timeout, f"{seconds} s of series on every chart", win=win)  # fmt: skip


def timeline_covers_data(win: MainWindow, min_fraction: float = 0.5) -> list[ChartView]:
    """Every shown chart has curves and its visible x range shows most of its data."""
    settle(100)
    views = chart_views(win)
    assert views, "the timeline shows no chart with data"
    for title in {c.spec.title for c in win.timeline.charts if c.plot.isVisible()} - {v.title for v in views}:
        raise AssertionError(f"chart {title!r} is shown without a curve holding data")
    bad = [v for v in views if v.visible_fraction() < min_fraction]
    assert not bad, "charts whose visible time range misses their data: " + "; ".join(
        f"{v.title}: data {v.data[0]:.1f}..{v.data[1]:.1f}, view {v.view[0]:.1f}..{v.view[1]:.1f}" for v in bad
    )
    for v in views:
        assert 1e9 < v.data[0] < 1e11, f"{v.title}: times are not epoch seconds ({v.data})"
    return views


def non_background_pixels(img: QImage) -> int:
    img = img.convertToFormat(QImage.Format.Format_RGB32)
    w, h = img.width(), img.height()
    if w == 0 or h == 0:
        return 0
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
    px = arr[:, : w * 4].reshape(h, w, 4)[:, :, :3].astype(np.int16)
    flat = px.reshape(-1, 3)
    # the background is the most common colour (the flame graph leaves most of its area empty)
    keys = (flat[:, 0].astype(np.int64) << 16) | (flat[:, 1].astype(np.int64) << 8) | flat[:, 2]
    vals, counts = np.unique(keys, return_counts=True)
    bg_key = int(vals[counts.argmax()])
    bg = np.array([(bg_key >> 16) & 255, (bg_key >> 8) & 255, bg_key & 255], dtype=np.int16)
    return int((np.abs(flat - bg).max(axis=1) > BLANK_TOLERANCE).sum())


def flame_has_boxes(win: MainWindow, min_boxes: int = 3, min_pixels: int = 2000) -> int:
    """The flame canvas holds a laid-out profile with more than ``min_boxes`` boxes and paints them."""
    win.tabs.setCurrentWidget(win.flame)
    settle(200)
    canvas = win.flame.canvas
    assert canvas.profile is not None, f"no profile on the flame graph (keys: {profile_keys(win)})"
    lay = canvas.absolute()
    assert lay is not None, "the flame graph has no layout"
    wide = int((lay.w > 0).sum())
    assert wide > min_boxes, f"the flame graph lays out {wide} boxes, wanted > {min_boxes}"
    view = canvas.boxes()
    assert view is not None and len(view.node) > min_boxes, "the visible view lays out too few boxes"
    painted = non_background_pixels(canvas.grab().toImage())
    assert painted >= min_pixels, f"the flame graph paints {painted} non-background pixels (blank?)"
    return wide


def top_function(profile) -> str:
    """The function with the most self time (the first row of the Top functions tab)."""
    from workbench.analysis.top import top_functions

    rows = top_functions(profile, limit=1)
    assert rows, "the profile has no samples"
    return rows[0].frame.function


def leak_rows(win: MainWindow) -> list[tuple[str, str, str]]:
    """(kind, name, where) of every row of the Leaks tab's suspects table."""
    t = win.leaks.table
    rows = []
    for r in range(t.rowCount()):

        def cell(c: int, r: int = r) -> str:
            it = t.item(r, c)
            return it.text() if it is not None else ""

        rows.append((cell(0), cell(1), cell(5)))
    return rows


def leak_details(win: MainWindow, needle: str) -> str:
    """Select the suspect row whose name or where holds ``needle``; the details pane's text."""
    t = win.leaks.table
    for r, (_k, name, where) in enumerate(leak_rows(win)):
        if needle in name or needle in where:
            t.selectRow(r)
            QApplication.processEvents()
            return win.leaks.details.toPlainText()
    raise AssertionError(f"no suspect row names {needle!r}:\n{leak_text(win)}")


def leak_text(win: MainWindow) -> str:
    return "\n".join(" | ".join(r) for r in leak_rows(win))


def markers(win: MainWindow) -> list[tuple[float, str]]:
    """(time, tooltip) of the event markers drawn on the first shown chart."""
    for c in win.timeline.charts:
        if c.plot.isVisible():
            return [(float(m.value()), m.toolTip()) for m in c.markers]
    return []


def marker_in_view(win: MainWindow, t: float) -> bool:
    for c in win.timeline.charts:
        if c.plot.isVisible():
            (v0, v1), _y = c.plot.viewRange()
            return v0 <= t <= v1
    return False


def save_and_reopen(win: MainWindow, path: Path, settings_path: Path, timeout: float = 60.0) -> MainWindow:
    """File > Save session, then a fresh window opens the file offline."""
    job = win.save_session(str(path))
    wait_until(lambda: job.done, timeout, f"saving {path.name}")
    assert job.error is None, f"save failed: {job.error}"
    assert path.stat().st_size > 0
    fresh = new_window(settings_path)
    empty = fresh.session
    fresh.open_files([str(path)])
    wait_until(lambda: fresh.session is not empty and not fresh.busy(), timeout, f"{path.name} to open", win=fresh)
    settle(500)
    return fresh


def center_click(widget: QWidget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(widget.width() // 2, widget.height() // 2))


def finite(x: float) -> bool:
    return math.isfinite(x)


def process_events() -> None:
    QApplication.processEvents()

"""Journey d: a Node service picked by PID, its inspector opened with consent; then the CPU
flame graph, memory curves and the session saved and reopened offline (journey f)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.journeys import drive
from tests.node.nodesvc import NodeService, start_service
from workbench.ui.capture_panel import CapturePanel
from workbench.ui.main_window import MainWindow

pytestmark = pytest.mark.slow


@dataclass
class Live:
    win: MainWindow
    svc: NodeService
    tmp: Path
    art: Path
    asked: list[str]


@pytest.fixture(scope="module")
def live(qapp, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("node_pid")
    svc = start_service()
    asked: list[str] = []
    mp = pytest.MonkeyPatch()
    mp.setattr(CapturePanel, "ask_consent", lambda self, plugin, target, text="": asked.append(plugin.name) or True)
    win = drive.new_window(tmp / "settings.ini")
    try:
        drive.pick_pid(win, svc.pid)
        yield Live(win, svc, tmp, drive.artefact_dir(tmp), asked)
    finally:
        drive.close_window(win)
        mp.undo()
        svc.stop()


def test_default_sources(live: Live) -> None:
    assert drive.runtime_shown(live.win, live.svc.pid).startswith("node")
    assert drive.ticked(live.win) == {"inspector", "procstats"}


def test_inspector_asks_consent(live: Live) -> None:
    win = live.win
    drive.tick(win, ["inspector"])
    QTest.mouseClick(win.capture.start_btn, Qt.MouseButton.LeftButton)
    try:
        drive.wait_until(lambda: live.asked or drive.banner_text(win) or win.capture.running, 20, "consent or a start")
        assert live.asked == ["inspector"], f"no consent question; banner: {drive.banner_text(win)!r}"
    finally:
        if win.capture.running:
            drive.click_stop(win)
        drive.wait_until(win.capture.start_btn.isEnabled, 20, "start enabled again")


def test_inspector_journey(live: Live) -> None:
    win = live.win
    drive.tick(win, ["inspector", "procstats"])
    editors = win.capture.controls["inspector"].editors
    if not live.asked and "yes" in editors:
        drive.set_option(win, "inspector", "yes", True)  # the workaround until the GUI asks: its consent box
    drive.click_start(win, timeout=60)
    drive.show_profile(win, lambda k: k.startswith("inspector:") and k.endswith(":cpu"), timeout=40)
    drive.wait_until(lambda: drive.flame_has_boxes(win), 30, "Node CPU flame graph boxes", win=win)
    drive.wait_until(lambda: {"CPU", "memory"} <= drive.charts_with_curves(win), 30, "CPU and memory", win=win)
    drive.wait_for_span(win, 4)
    drive.timeline_covers_data(win)
    drive.screenshot(win, live.art, "node-pid")


def test_node_heap_is_drawn(live: Live) -> None:
    win = live.win
    drive.wait_until(lambda: any(n.startswith("node.") for n in win.session.series_names()), 20, "node series")
    drawn = {n for c in win.timeline.charts for n in drive.curve_names(win, c.spec.title)}
    assert any(n.startswith("node.heap") for n in drawn), sorted(drawn)


def test_saved_and_reopened_offline(live: Live) -> None:
    win = live.win
    live_charts = drive.charts_with_curves(win)
    drive.click_stop(win)
    fresh = drive.save_and_reopen(win, live.tmp / "node.wbs", live.tmp / "fresh.ini")
    try:
        assert drive.charts_with_curves(fresh) == live_charts
        drive.timeline_covers_data(fresh)
        drive.show_profile(fresh, lambda k: k.startswith("inspector:") and k.endswith(":cpu"))
        drive.flame_has_boxes(fresh)
    finally:
        drive.close_window(fresh)

"""Journey d: a Node service picked by PID, its inspector opened with consent; then the CPU
flame graph, memory curves and the session saved and reopened offline (journey f); then the
leak watch on a leaking Node service, its containers named in the Leaks tab."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.journeys import drive
from tests.leaks.scenario import NODE_SRC, WARMUP_S
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


def test_leak_watch_names_the_containers(live: Live) -> None:
    """Watch for leaks on a second Node PID (tests/leaks/node/leaksvc.js): the Leaks tab names
    the growing containers from heap-snapshot retainer paths (`sockets Map`, `history array`)
    with the filling functions as where; the Socket objects the Map holds are part of its row;
    selecting a row shows the filling stack, the filler first among the service's frames."""
    win = live.win
    if win.capture.running:
        drive.click_stop(win)
    env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
    proc = subprocess.Popen([shutil.which("node") or "node", "--inspect=127.0.0.1:0", str(NODE_SRC)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("ready")
        drive.pick_pid(win, proc.pid)
        time.sleep(WARMUP_S)
        QTest.mouseClick(win.watch_leaks_btn, Qt.MouseButton.LeftButton)
        want = {"sockets Map": "addSubscriber (", "history array": "appendHistory ("}
        drive.wait_until(lambda: set(want) <= {name for _k, name, _w in drive.leak_rows(win)}, 75,
                         "the sockets Map and history array suspects in the Leaks tab", win=win)  # fmt: skip
        win.tabs.setCurrentWidget(win.leaks)
        drive.screenshot(win, live.art, "node-pid-leaks")
        rows = {name: where for _k, name, where in drive.leak_rows(win)}
        for name, filler in want.items():
            assert rows[name].startswith(filler), drive.leak_text(win)
        assert not any("Socket" in name for name in rows), drive.leak_text(win)
        details = drive.leak_details(win, "sockets Map")
        frames = [ln.split(None, 1)[1] for ln in details.splitlines() if ln.startswith(("  at ", "  from "))]
        user = [f for f in frames if "leaksvc.js:" in f]
        assert user and user[0].startswith("addSubscriber ("), details
        drive.screenshot(win, live.art, "node-pid-leak-stack")
    finally:
        win.tabs.setCurrentWidget(win.flame)
        if win.capture.running:
            drive.click_stop(win)
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()

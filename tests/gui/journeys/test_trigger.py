"""Journey g: a trigger rule typed into the capture panel fires on a busy Python process;
the triggered CPU profile appears in the profile list with boxes and its marker is drawn
on the timeline, inside the visible time range."""

from __future__ import annotations

import pytest
from PySide6.QtTest import QTest

from tests.gui.journeys import drive
from tests.helpers.targets import HOT, start_target, stop_target

pytestmark = pytest.mark.slow


def test_trigger_fires_and_is_drawn(qapp, tmp_path) -> None:
    art = drive.artefact_dir(tmp_path)
    proc = start_target(HOT)
    win = drive.new_window(tmp_path / "settings.ini")
    try:
        drive.pick_pid(win, proc.pid)
        drive.tick(win, ["procstats"])
        QTest.keyClicks(win.capture.trigger_edit, "process.cpu_percent>20 for 1s -> cpu 3s")
        drive.click_start(win)
        key = drive.show_profile(win, lambda k: k.startswith("trigger"), timeout=40)
        drive.wait_until(lambda: drive.flame_has_boxes(win), 30, f"boxes of {key}", win=win)
        assert drive.top_function(win.flame.canvas.profile) == "hot_function"
        drive.wait_until(lambda: any("trigger" in tip for _t, tip in drive.markers(win)), 10, "a trigger marker",
                         win=win)  # fmt: skip
        t = next(t for t, tip in drive.markers(win) if "trigger" in tip)
        assert drive.marker_in_view(win, t), "the trigger marker lies in the visible time range"
        drive.wait_for_span(win, 4)
        drive.timeline_covers_data(win)
        drive.screenshot(win, art, "trigger")
        drive.click_stop(win)
    finally:
        drive.close_window(win)
        stop_target(proc)

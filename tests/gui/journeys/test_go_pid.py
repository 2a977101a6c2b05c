"""Journey c: a Go service picked by PID. Its runtime decides the sources (issue 15.3): its
own pprof listener, found among its listening sockets, plus process stats; then the CPU
flame graph, CPU %, memory and goroutine curves on one time axis, saved and reopened (f)."""

from __future__ import annotations

import shutil

import pytest

from tests.gui.journeys import drive
from tests.helpers.gosvc import start_pprofsvc

pytestmark = [
    pytest.mark.slow,
    pytest.mark.go,
    pytest.mark.skipif(shutil.which("go") is None, reason="apt-get install golang-go"),
]


def test_go_pid_journey(qapp, pprofsvc_exe, tmp_path) -> None:
    art = drive.artefact_dir(tmp_path)
    svc = start_pprofsvc(pprofsvc_exe)
    win = drive.new_window(tmp_path / "settings.ini")
    try:
        svc.get("/burn?ms=40000")
        drive.pick_pid(win, svc.pid)
        assert drive.runtime_shown(win, svc.pid).startswith("go")
        assert drive.ticked(win) == {"pprof", "procstats"}, f"a Go PID's default sources: {drive.ticked(win)}"
        drive.click_start(win)
        drive.show_profile(win, lambda k: k.startswith("pprof:") and k.endswith(":cpu"))
        drive.wait_until(lambda: drive.flame_has_boxes(win), 30, "CPU flame graph boxes", win=win)
        assert drive.top_function(win.flame.canvas.profile) == "main.hotspotBurn"
        want = {"CPU", "memory", "GC pauses", "threads / goroutines", "pool connections"}
        drive.wait_until(lambda: want <= drive.charts_with_curves(win), 30, f"charts {sorted(want)}", win=win)
        assert any(n.startswith("go.") for n in drive.curve_names(win, "threads / goroutines"))
        drive.wait_for_span(win, 4)
        drive.timeline_covers_data(win)
        drive.screenshot(win, art, "go-pid")
        drive.click_stop(win)
        fresh = drive.save_and_reopen(win, tmp_path / "go-pid.wbs", tmp_path / "fresh.ini")
        try:
            assert drive.charts_with_curves(fresh) >= want
            drive.timeline_covers_data(fresh)
            drive.show_profile(fresh, lambda k: k.endswith(":cpu"))
            drive.flame_has_boxes(fresh)
        finally:
            drive.close_window(fresh)
    finally:
        drive.close_window(win)
        svc.stop()

"""Journey e: two Go services attached one after the other by URL into one session. Beyond
tests/gui/test_two_services.py (series labelled apart in the session) this checks what is
drawn: each service's CPU flame graph, both services' curves on the charts, one time axis."""

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


def test_two_go_services_side_by_side(qapp, pprofsvc_exe, tmp_path) -> None:
    art = drive.artefact_dir(tmp_path)
    a, b = start_pprofsvc(pprofsvc_exe), start_pprofsvc(pprofsvc_exe)
    win = drive.new_window(tmp_path / "settings.ini")
    try:
        for svc in (a, b):
            svc.get("/burn?ms=30000")
            drive.pick_url(win, svc.url)
            drive.click_start(win)
            drive.show_profile(win, lambda k, u=svc.url: k.startswith(f"pprof:{u}") and k.endswith(":cpu"))
            drive.wait_until(lambda: drive.flame_has_boxes(win), 30, f"CPU boxes of {svc.url}", win=win)
            port = svc.url.rsplit(":", 1)[1]
            drive.wait_until(
                lambda p=port, first=svc is a: first or any(p in n for n in drive.curve_names(win, "threads / goroutines")),
                20, f"goroutine curve of {svc.url}", win=win,
            )  # fmt: skip
            drive.click_stop(win)
        goroutines = drive.curve_names(win, "threads / goroutines")
        assert "go.goroutines" in goroutines and len(goroutines) >= 2, goroutines
        drive.screenshot(win, art, "two-go-services")
        drive.timeline_covers_data(win)
    finally:
        drive.close_window(win)
        a.stop()
        b.stop()

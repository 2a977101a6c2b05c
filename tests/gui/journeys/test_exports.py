"""Journey h: every export format written from the window (File > Export) and read again:
the profile formats through workbench.formats and the window itself, the SVG by its
embedded data, the PNG by its pixels, the CSV by its series rows."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtGui import QImage

from tests.gui.journeys import drive
from tests.helpers.svg import embedded_data, parse_svg
from tests.helpers.targets import HOT, start_target, stop_target
from workbench.formats import read_profiles

pytestmark = pytest.mark.slow

PROFILE_EXTS = (".speedscope.json", ".pb.gz", ".collapsed")


def test_every_export_reads_back(qapp, tmp_path) -> None:
    art = drive.artefact_dir(tmp_path)
    proc = start_target(HOT)
    win = drive.new_window(tmp_path / "settings.ini")
    try:
        drive.pick_pid(win, proc.pid)
        drive.click_start(win)
        drive.show_profile(win, lambda k: k.startswith("pyspy:"))
        drive.wait_until(lambda: drive.flame_has_boxes(win) and win.flame.canvas.profile.totals()[0] > 200, 30,
                         "a few hundred samples", win=win)  # fmt: skip
        drive.wait_until(lambda: "CPU" in drive.charts_with_curves(win), 20, "CPU curve", win=win)
        drive.click_stop(win)
        drive.settle(500)
        shown = win.flame.canvas.profile
        top = drive.top_function(shown)
        assert top == "hot_function"
        jobs = []
        for ext in (*PROFILE_EXTS, ".svg", ".png", ".csv"):
            jobs.append(win.export(str(tmp_path / f"export{ext}")))
        for job in [j for j in jobs if j is not None]:
            drive.wait_until(lambda j=job: j.done, 30, "exports written")
            assert job.error is None, job.error
        assert not drive.banner_text(win), drive.banner_text(win)
        for ext in PROFILE_EXTS:
            (back,) = read_profiles(tmp_path / f"export{ext}")
            assert drive.top_function(back) == top, ext
        data = embedded_data(parse_svg(tmp_path / "export.svg"))
        assert top in str(data)
        img = QImage(str(tmp_path / "export.png"))
        assert not img.isNull() and drive.non_background_pixels(img) > 2000
        with open(tmp_path / "export.csv", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        assert any(r["series"] == "process.cpu_percent" for r in rows), rows[:3]
        # and the window opens its own exports again
        win.open_files([str(tmp_path / f"export{ext}") for ext in PROFILE_EXTS])
        for ext in PROFILE_EXTS:
            drive.show_profile(win, lambda k, e=ext: k == f"file:export{e}")
            drive.flame_has_boxes(win)
            assert drive.top_function(win.flame.canvas.profile) == top, ext
        drive.screenshot(win, art, "export-reopened")
    finally:
        drive.close_window(win)
        stop_target(proc)

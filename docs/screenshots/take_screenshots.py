"""Regenerate the README screenshots from the real app, offscreen, attached to the demo.

    QT_QPA_PLATFORM=offscreen .venv/bin/python docs/screenshots/take_screenshots.py

Starts the bundled demo service, captures it with py-spy + process stats through the
main window for ~25 s, then grabs: the flame graph (with a search), the timeline with a
range selected (flame graph cut to it), and a diff of that window against the one before.
Everything it starts is stopped before it exits.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from workbench.ui.app import DemoAttach, application  # noqa: E402
from workbench.ui.main_window import MainWindow  # noqa: E402

OUT = Path(__file__).resolve().parent
CAPTURE_S = float(os.environ.get("WB_SHOT_SECONDS", "25"))


def pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def zoom_to_hot_path(canvas) -> None:
    """Click-zoom (as a user would) two levels above the heaviest search match."""
    p = canvas.profile
    if p is None or canvas._node_match is None or not canvas._node_match.any():
        return
    matches = np.flatnonzero(canvas._node_match)
    node = int(matches[np.argmax(p.total_values()[matches, 0])])
    for _ in range(2):
        if p.parent[node] > 0:
            node = int(p.parent[node])
    canvas.zoom_to_node(node)


def main() -> int:
    app = application()
    tmp = tempfile.mkdtemp(prefix="wb-shots-")
    win = MainWindow(settings=QSettings(os.path.join(tmp, "s.ini"), QSettings.Format.IniFormat))
    win.resize(1600, 1000)
    win.show()
    attach = DemoAttach(win)
    try:
        win.picker.refresh()
        attach.start()
        deadline = time.monotonic() + 30
        while not win.capture.running and time.monotonic() < deadline:
            pump(app, 0.2)
        if not win.capture.running:
            print("capture did not start:", win.banner.text(), file=sys.stderr)
            return 1
        win.picker.refresh()  # again, now that the demo service runs: it is the row to see
        pump(app, CAPTURE_S)
        win.picker.filter.setText("python")
        keys = [k for k in win.session.profile_keys() if k.startswith("pyspy:")]
        if keys:
            win.profile_combo.setCurrentText(keys[0])
        win.refresh()
        pump(app, 1.0)
        win.flame.set_search_text("render_report|score_row")
        zoom_to_hot_path(win.flame.canvas)
        pump(app, 0.5)
        win.grab().save(str(OUT / "flamegraph.png"))
        win.flame.canvas.reset_zoom()
        t_range = win.session.time_range()
        if t_range is not None:
            t0, t1 = t_range
            mid = t0 + (t1 - t0) * 0.55
            win.flame.set_search_text("")
            win.timeline.set_range(mid, mid + (t1 - t0) * 0.3)
            pump(app, 1.5)
            win.timeline.show_cursor(mid + (t1 - t0) * 0.15)
            win.grab().save(str(OUT / "timeline.png"))
            win.diff_window_before()
            pump(app, 2.0)
            win.grab().save(str(OUT / "diff.png"))
        print("wrote", ", ".join(p.name for p in sorted(OUT.glob("*.png"))))
        return 0
    finally:
        win.close()
        attach.stop()
        app.processEvents()


if __name__ == "__main__":
    sys.exit(main())

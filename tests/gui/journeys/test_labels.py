"""Journey: slicing a Go CPU profile by pprof labels. The Go service tags /slow and /fast with
``pprof.Do(ctx, pprof.Labels("endpoint", path), ...)``; the user records its CPU profile over
the pprof URL, opens the session, picks "group by label: endpoint": the flame graph's roots are
the endpoints. A right-click on the /slow root and "Focus on endpoint=/slow" leaves only it;
"Show source" on a Go box (main.spinFor) lists its loop, the hottest line highlighted."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint

from tests.gui.journeys import drive
from tests.helpers.gosvc import SRC, GoService, gosvc, pprofsvc_exe  # noqa: F401 (fixtures)
from tests.helpers.labels import record_labelled
from tests.helpers.source_listing import line_of
from workbench.ui.flamegraph import ICICLE, ROW_H

pytestmark = [pytest.mark.slow, pytest.mark.go]


def spin_loop_lines() -> set[int]:
    src = SRC / "labels.go"
    return {line_of(src, "x = x*6364136223846793005"), line_of(src, "for i := 0; i < 10000; i++")}


def _root_children(canvas) -> dict[str, int]:
    p = canvas.profile
    assert p is not None
    return {p.frames[int(p.frame[n])].function: int(n) for n in p.children_of(0).tolist()}


def _box_center(canvas, node: int) -> QPoint:
    v = canvas.boxes()
    b = next(i for i, n in enumerate(v.node.tolist()) if n == node)
    x = (v.x[b] + v.w[b] / 2) * canvas.width()
    row = int(v.row[b])
    y = row * ROW_H + ROW_H / 2 if canvas.orientation == ICICLE else canvas.height() - row * ROW_H - ROW_H / 2
    return QPoint(int(x), int(y))


def test_group_by_label_and_focus(qapp, tmp_path, gosvc: GoService) -> None:  # noqa: F811
    art = drive.artefact_dir(tmp_path)
    wbs = record_labelled(gosvc, tmp_path / "labels.wbs")
    win = drive.new_window(tmp_path / "settings.ini")
    try:
        win.open_files([str(wbs)])
        drive.show_profile(win, lambda k: k.startswith("pprof:") and k.endswith(":cpu"))
        drive.wait_until(lambda: drive.flame_has_boxes(win), 30, "the flame graph", win=win)
        flame = win.flame
        assert not flame.labels.isHidden(), "a labelled profile offers the label controls"
        assert {"endpoint=/slow", "endpoint=/fast"} <= set(flame.labels.pairs())
        flame.labels.choose_group("endpoint")
        drive.wait_until(lambda: "endpoint=/slow" in _root_children(flame.canvas), 20, "endpoint roots", win=win)
        roots = _root_children(flame.canvas)
        assert {"endpoint=/slow", "endpoint=/fast"} <= set(roots)
        assert all(r.startswith("endpoint=") for r in roots), roots  # unlabelled runtime work: endpoint=(none)
        drive.flame_has_boxes(win)
        tot = flame.canvas.profile.total_values()[:, flame.sample_index]
        assert tot[roots["endpoint=/slow"]] > tot[roots["endpoint=/fast"]]
        drive.screenshot(win, art, "labels-group-by-endpoint")

        canvas = flame.canvas
        canvas.customContextMenuRequested.emit(_box_center(canvas, roots["endpoint=/slow"]))
        menu = flame.last_menu
        assert menu is not None
        (focus,) = [a for a in menu.actions() if a.text() == "Focus on endpoint=/slow"]
        menu.hide()
        focus.trigger()
        drive.wait_until(lambda: set(_root_children(flame.canvas)) == {"endpoint=/slow"}, 20, "only /slow", win=win)
        p = flame.canvas.profile
        assert "main.slowHandler" in {f.function for f in (p.frames[int(i)] for i in set(p.frame[1:].tolist()))}
        assert not any(p.frames[int(i)].function == "main.fastHandler" for i in set(p.frame[1:].tolist()))
        drive.screenshot(win, art, "labels-focus-slow")

        # Show source on the Go handler's hot function: the Source tab lists spinFor's loop
        spin = next(
            n
            for n in flame.canvas.boxes().node.tolist()
            if n > 0 and p.frames[int(p.frame[n])].function == "main.spinFor"
        )
        canvas.customContextMenuRequested.emit(_box_center(canvas, spin))
        (show,) = [a for a in flame.last_menu.actions() if a.text() == "Show source"]
        flame.last_menu.hide()
        show.trigger()
        sv = win.source_view
        assert win.tabs.currentWidget() is sv and sv.title.text().startswith("main.spinFor")
        assert sv.hottest_line in spin_loop_lines(), (sv.hottest_line, sv.rows())
        assert sv.highlighted_rows() == [sv.hottest_line]
    finally:
        drive.close_window(win)

"""Journey: per-line cost beside the code. The user records the Python pool service with real
py-spy (``workbench record --pid PID -d 3 -o cpu.wbs``), opens the session, right-clicks the
``compute_report`` box in the flame graph and picks "Show source": the Source tab lists the
function's lines with flat and cum, the hashing loop's line highlighted as the hottest. The
same from a Top functions row."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from tests.gui.journeys import drive
from tests.helpers.poolsvc import SCRIPT as POOLSVC
from tests.helpers.source_listing import hashing_loop_lines, record_poolsvc
from workbench.ui.flamegraph import ICICLE, ROW_H

pytestmark = pytest.mark.slow


def _box_center(canvas, node: int) -> QPoint:
    v = canvas.boxes()
    b = int(np.flatnonzero(v.node == node)[0])
    x = (v.x[b] + v.w[b] / 2) * canvas.width()
    row = int(v.row[b])
    y = row * ROW_H + ROW_H / 2 if canvas.orientation == ICICLE else canvas.height() - row * ROW_H - ROW_H / 2
    return QPoint(int(x), int(y))


def _widest_box_of(canvas, function: str) -> int:
    """The visible node of ``function`` with the widest box."""
    v, p = canvas.boxes(), canvas.profile
    assert v is not None and p is not None
    best, width = -1, 0.0
    for b, node in enumerate(v.node.tolist()):
        if node > 0 and p.frames[int(p.frame[node])].function == function and v.w[b] > width:
            best, width = node, float(v.w[b])
    assert best > 0, f"no {function} box on screen"
    return best


def _pick(menu, text: str) -> None:
    assert menu is not None, "no context menu opened"
    (action,) = [a for a in menu.actions() if a.text() == text]
    menu.hide()
    action.trigger()


def test_show_source_from_a_flame_box_and_a_top_row(qapp, tmp_path) -> None:
    art = drive.artefact_dir(tmp_path)
    wbs = record_poolsvc(tmp_path / "cpu.wbs")
    win = drive.new_window(tmp_path / "settings.ini")
    try:
        win.open_files([str(wbs)])
        drive.show_profile(win, lambda k: k.startswith("pyspy:") and k.endswith(":cpu"))
        drive.wait_until(lambda: drive.flame_has_boxes(win), 30, "the flame graph", win=win)
        canvas = win.flame.canvas
        node = _widest_box_of(canvas, "compute_report")
        pos = _box_center(canvas, node)
        assert canvas.node_at(QPointF(pos)) == node
        # a right-click on the box opens its context menu (Qt turns the press into a context-menu event)
        QTest.mouseClick(canvas, Qt.MouseButton.RightButton, pos=pos)
        if win.flame.last_menu is None:  # some platform plugins send no context-menu event for a synthetic click
            canvas.customContextMenuRequested.emit(pos)
        _pick(win.flame.last_menu, "Show source")

        sv = win.source_view
        assert win.tabs.currentWidget() is sv
        assert sv.title.text().startswith("compute_report") and str(POOLSVC) in sv.title.text()
        rows = {int(r[2]): r for r in sv.rows() if r[2].isdigit()}
        loop = hashing_loop_lines()
        assert loop <= set(rows), f"the loop lines are listed: {sorted(rows)}"
        assert "hashlib.sha256(" in rows[min(loop)][3]
        assert sv.hottest_line in loop, f"hottest {sv.hottest_line}, rows {rows}"
        assert sv.highlighted_rows() == [sv.hottest_line]
        assert rows[sv.hottest_line][1], "the hottest line shows its cum"
        drive.screenshot(win, art, "source-view")

        # the same from the Top functions table
        win.tabs.setCurrentWidget(win.top)
        drive.wait_until(lambda: win.top.model.rowCount() > 0, 10, "top rows", win=win)
        m = win.top.model
        row = next(r for r in range(m.rowCount()) if m.data(m.index(r, 0)) == "compute_report.<locals>.<genexpr>")
        rect = win.top.table.visualRect(m.index(row, 0))
        win.top.table.customContextMenuRequested.emit(rect.center())
        _pick(win.top.last_menu, "Show source")
        assert win.tabs.currentWidget() is sv
        assert sv.title.text().startswith("compute_report.<locals>.<genexpr>")
        assert sv.hottest_line == max(loop)  # the generator runs on the XOR line
        assert sv.highlighted_rows() == [max(loop)]
    finally:
        drive.close_window(win)

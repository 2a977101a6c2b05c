"""Journey: a profile with more functions than the Top functions table shows.

The user opens a collapsed file with 3,001 functions, switches to Top functions, sees the
2,000 heaviest and a note saying how many more there are, types the name of one of the
lightest into the filter, finds it, clicks it, and the flame graph outlines it.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.journeys import drive
from workbench.ui.top_table import MAX_ROWS

pytestmark = pytest.mark.slow

N = 3000


def test_top_table_caps_rows_and_the_filter_reaches_the_rest(qapp, tmp_path) -> None:
    art = drive.artefact_dir(tmp_path)
    path = tmp_path / "many.collapsed"
    path.write_text("".join(f"main;fn_{i:04d} {N - i}\n" for i in range(N)))
    win = drive.new_window(tmp_path / "settings.ini")
    try:
        win.open_files([str(path)])
        drive.show_profile(win, lambda k: k == "file:many.collapsed")
        # 3,000 leaves share one row: most are narrower than a pixel, so count boxes, not pixels
        drive.wait_until(
            lambda: drive.flame_has_boxes(win, min_boxes=1, min_pixels=500), 30, "the flame graph", win=win
        )
        win.tabs.setCurrentWidget(win.top)
        top = win.top
        drive.wait_until(lambda: top.model.rowCount() == MAX_ROWS, 10, "the capped top table", win=win)
        m = top.model
        assert [m.data(m.index(r, 0)) for r in range(3)] == ["fn_0000", "fn_0001", "fn_0002"]
        assert [m.data(m.index(0, c)) for c in (1, 3)] == ["3,000", "3,000"]
        assert not top.more.isHidden()
        assert top.more.text().startswith(f"{N + 1 - MAX_ROWS:,} more functions")
        drive.screenshot(win, art, "top-table-capped")

        QTest.keyClicks(top.filter, "FN_2999")  # the lightest function, far past the cap
        assert [m.data(m.index(r, 0)) for r in range(m.rowCount())] == ["fn_2999"]
        assert top.more.isHidden()
        rect = top.table.visualRect(m.index(0, 0))
        QTest.mouseClick(top.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        canvas = win.flame.canvas
        assert canvas.selected_frame is not None and canvas.selected_frame.function == "fn_2999"
        assert [m.data(i) for i in top.table.selectionModel().selectedRows()] == ["fn_2999"]
        drive.screenshot(win, art, "top-table-filtered-selected")
    finally:
        drive.close_window(win)

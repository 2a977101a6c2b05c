"""The Top functions table: sorted and filtered in its model, capped, updated in place."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.helpers.gui import small_profile, synthetic_profile
from workbench.analysis.top import top_functions
from workbench.model import SAMPLES, Frame, Profile, Runtime
from workbench.ui import top_table
from workbench.ui.top_table import TopFunctionsView


def _col(view: TopFunctionsView, c: int) -> list[str]:
    m = view.model
    return [m.data(m.index(r, c)) for r in range(m.rowCount())]


@pytest.fixture
def view(qtbot) -> TopFunctionsView:
    v = TopFunctionsView()
    qtbot.addWidget(v)
    v.resize(700, 400)
    v.show()
    return v


def test_rows_match_the_analysis_order_and_text(view) -> None:
    p = synthetic_profile(3000, seed=3)
    view.set_profile(p)
    rows = top_functions(p, 0)
    assert _col(view, 0) == [r.frame.function for r in rows][: top_table.MAX_ROWS]
    r0 = rows[0]
    pct = 100.0 / float(p.totals()[0])
    assert _col(view, 2)[0] == f"{float(r0.self_values[0]) * pct:.2f}"
    assert _col(view, 4)[0] == f"{float(r0.total_values[0]) * pct:.2f}"
    assert _col(view, 5)[0] == f"{r0.frame.file}:{r0.frame.line}"


def test_header_sorts_both_ways(view) -> None:
    p = small_profile()
    view.set_profile(p)
    assert _col(view, 0) == ["query", "render", "gc_collect", "main", "handle"]  # self, then total
    view.table.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    assert _col(view, 0) == ["main", "handle", "query", "render", "gc_collect"]
    view.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert _col(view, 0) == ["gc_collect", "handle", "main", "query", "render"]
    view.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert _col(view, 0) == ["handle", "main", "gc_collect", "render", "query"]


def test_cap_note_and_filter_reaches_past_the_cap(view, monkeypatch) -> None:
    monkeypatch.setattr(top_table, "MAX_ROWS", 2)
    p = small_profile()
    view.set_profile(p)
    assert _col(view, 0) == ["query", "render"]
    assert not view.more.isHidden() and view.more.text().startswith("3 more functions")
    view.filter.setText("HAND")  # case-insensitive, over every row, not only those shown
    assert _col(view, 0) == ["handle"] and view.more.isHidden()
    view.filter.setText("")
    assert view.model.rowCount() == 2


def test_live_update_in_place_keeps_the_selection(view, qtbot) -> None:
    p = small_profile()
    view.set_profile(p)
    m = view.model
    row = _col(view, 0).index("render")
    with qtbot.waitSignal(view.frameSelected) as sig:
        view.table.selectRow(row)
    assert sig.args[0].function == "render"
    resets: list[int] = []
    m.modelReset.connect(lambda: resets.append(1))
    emitted: list[object] = []
    view.frameSelected.connect(emitted.append)
    # render becomes the heaviest: its row moves, the selection follows it, nothing is echoed
    f = Frame("render", "/srv/app/render.py", 30, "app", Runtime.PYTHON)
    main = Frame("main", "/srv/app/main.py", 1, "app", Runtime.PYTHON)
    handle = Frame("handle", "/srv/app/handle.py", 10, "app", Runtime.PYTHON)
    p.add_stack([main, handle, f], [100])
    view.set_profile(p)
    assert _col(view, 0)[0] == "render"
    assert [m.data(i) for i in view.table.selectionModel().selectedRows()] == ["render"]
    # fewer rows (a filter): the current row is removed, the selection is not the user's
    view.filter.setText("ma")
    assert _col(view, 0) == ["main"] and view.table.selectionModel().selectedRows() == []
    assert view.selected is not None and view.selected.function == "render"
    view.filter.setText("")
    assert [m.data(i) for i in view.table.selectionModel().selectedRows()] == ["render"]
    assert resets == [] and emitted == []


def test_empty_and_none(view) -> None:
    view.set_profile(Profile([SAMPLES], name="empty"))
    assert view.model.rowCount() == 0 and view.more.isHidden()
    view.set_profile(small_profile())
    view.set_profile(None)
    assert view.model.rowCount() == 0
    assert np.asarray(view.model.ids).size == 0

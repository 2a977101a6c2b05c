"""The flame graph canvas and its tab, driven through real widgets (pytest-qt)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from tests.helpers.gui import small_profile, synthetic_profile
from workbench.analysis.layout import node_path, profile_layout, view_layout
from workbench.model import SAMPLES, Frame, Profile
from workbench.ui.flame_view import FlameGraphView
from workbench.ui.flamegraph import FLAME, ICICLE, ROW_H, FlameGraphWidget


def _node(p: Profile, *names: str) -> int:
    node = 0
    for n in names:
        fid = next(i for i, f in enumerate(p.frames) if f.function == n)
        nxt = p.child(node, fid)
        assert nxt is not None
        node = nxt
    return node


def _box_center(w: FlameGraphWidget, node: int) -> QPoint:
    v = w.boxes()
    assert v is not None
    b = int(np.flatnonzero(v.node == node)[0])
    x = (v.x[b] + v.w[b] / 2) * w.width()
    row = int(v.row[b])
    y = row * ROW_H + ROW_H / 2 if w.orientation == ICICLE else w.height() - row * ROW_H - ROW_H / 2
    return QPoint(int(x), int(y))


@pytest.fixture
def canvas(qtbot):
    w = FlameGraphWidget()
    qtbot.addWidget(w)
    w.resize(800, 300)
    w.set_profile(small_profile())
    w.show()
    qtbot.waitExposed(w)
    return w


def test_layout_name_order_and_widths() -> None:
    p = small_profile()
    lay = profile_layout(p)
    v = view_layout(lay, 0, width_px=1000)
    handle, gc = _node(p, "main", "handle"), _node(p, "main", "gc_collect")
    # siblings sorted by name: gc_collect before handle, like flamegraph.pl
    assert lay.x[gc] < lay.x[handle]
    assert lay.w[handle] == 85 and lay.w[0] == 100
    assert set(v.node.tolist()) == set(range(p.n_nodes))


def test_narrow_siblings_merge_into_more_box() -> None:
    p = Profile([SAMPLES])
    p.add_stack([Frame("main"), Frame("big")], [10_000])
    for i in range(50):
        p.add_stack([Frame("main"), Frame(f"tiny{i:02d}")], [1])
    v = view_layout(profile_layout(p), 0, width_px=500)
    merged = np.flatnonzero(v.node < 0)
    assert len(merged) == 1 and int(v.more[merged[0]]) == 50
    assert len(v) == 4  # all, main, big, (50 more)


def test_click_zooms_and_escape_resets(qtbot, canvas: FlameGraphWidget) -> None:
    p = canvas.profile
    handle = _node(p, "main", "handle")
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=_box_center(canvas, handle))
    assert canvas.zoom_root() == handle
    assert [label for _n, label in canvas.breadcrumb()] == ["all", "main", "handle"]
    v = canvas.boxes()
    query = _node(p, "main", "handle", "query")
    b = int(np.flatnonzero(v.node == query)[0])
    assert v.w[b] == pytest.approx(60 / 85)  # the zoom root now spans the full width
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.zoom_root() == 0


def test_back_restores_previous_zoom(qtbot, canvas: FlameGraphWidget) -> None:
    p = canvas.profile
    canvas.zoom_to_node(_node(p, "main"))
    canvas.zoom_to_node(_node(p, "main", "handle"))
    assert canvas.back()
    assert canvas.zoom_root() == _node(p, "main")


def test_wheel_zoom_keeps_point_under_cursor(canvas: FlameGraphWidget) -> None:
    canvas.zoom_view(4.0, 0.25)
    v0, v1 = canvas.view
    assert v1 - v0 == pytest.approx(0.25)
    assert v0 + 0.25 * (v1 - v0) == pytest.approx(0.25)
    canvas.pan_view(-0.5)
    assert canvas.view[0] > v0


def test_search_match_percent(qtbot) -> None:
    view = FlameGraphView()
    qtbot.addWidget(view)
    view.set_profile(small_profile())
    view.set_search_text("^(query|render)$")
    assert view.canvas.match_fraction == pytest.approx(0.85)
    assert view.match_label.text() == "matched: 85.0 %"
    # a nested match counts once: handle (85) contains query and render
    view.set_search_text("handle|query")
    assert view.match_label.text() == "matched: 85.0 %"
    view.set_search_text("(")
    assert view.match_label.text() == "matched: 85.0 %"  # bad regex keeps the last good search


def test_hover_text(qtbot, canvas: FlameGraphWidget) -> None:
    p = canvas.profile
    query = _node(p, "main", "handle", "query")
    with qtbot.waitSignal(canvas.hoverChanged) as sig:
        qtbot.mouseMove(canvas, _box_center(canvas, query))
    text = sig.args[0]
    assert text.splitlines()[0] == "query"
    assert "/srv/app/query.py:20" in text
    assert "self 60, total 60 (60.00 % of root, 70.59 % of parent)" in text
    assert canvas.hover_node == query
    assert canvas.hovered_stack_text().splitlines() == [
        "main (/srv/app/main.py:1)",
        "handle (/srv/app/handle.py:10)",
        "query (/srv/app/query.py:20)",
    ]


def test_live_update_keeps_zoom_and_order(canvas: FlameGraphWidget) -> None:
    p = canvas.profile
    handle = _node(p, "main", "handle")
    canvas.zoom_to_node(handle)
    grown = p.copy()
    # 'render' grows past 'query' and a new sibling appears: order stays by name
    grown.add_stack([Frame("main", "/srv/app/main.py", 1, "app", p.frames[0].runtime)], [1])
    grown.add_stack(p.stack_frames(_node(p, "main", "handle", "render")), [500])
    canvas.set_profile(grown)
    assert canvas.zoom_root() == handle
    lay = canvas.absolute()
    assert lay.x[_node(grown, "main", "handle", "query")] < lay.x[_node(grown, "main", "handle", "render")]


def test_orientations_paint(qtbot, canvas: FlameGraphWidget) -> None:
    for o in (FLAME, ICICLE):
        canvas.set_orientation(o)
        img = canvas.grab().toImage()
        assert not img.isNull()
        main = _node(canvas.profile, "main")
        c = _box_center(canvas, main)
        assert canvas.node_at(QPointF(c)) == main


def test_zoom_path_survives_transform_free_copy() -> None:
    p = synthetic_profile(2000, seed=3)
    node = int(np.argmax(p.depth))
    q = p.copy()
    from workbench.analysis.layout import resolve_path

    assert resolve_path(q, node_path(p, node)) == node


def test_sample_type_switch_changes_widths(qtbot) -> None:
    from workbench.model import CPU_NS

    p = Profile([SAMPLES, CPU_NS])
    p.add_stack([Frame("main"), Frame("a")], [10, 1e6])
    p.add_stack([Frame("main"), Frame("b")], [10, 9e6])
    view = FlameGraphView()
    qtbot.addWidget(view)
    view.set_profile(p)
    assert view.sample_type.count() == 2
    b = _node(p, "main", "b")
    lay = view.canvas.absolute()
    assert lay.w[b] == 10
    view.sample_type.setCurrentIndex(1)
    assert view.canvas.absolute().w[b] == 9e6
    text = view.canvas.hover_text(b)
    assert "samples: self 10" in text and "cpu: self 9 ms" in text


def test_colour_modes_paint(qtbot, canvas: FlameGraphWidget) -> None:
    for mode in ("runtime", "package"):
        canvas.set_color_mode(mode)
        assert not canvas.grab().toImage().isNull()
    idx, brushes = canvas._palette_index(canvas.boxes().node)
    assert len(idx) == len(canvas.boxes()) and len(brushes) > 3


def test_deep_stack_lays_out_without_recursion(qtbot) -> None:
    p = Profile([SAMPLES])
    p.add_stack([Frame(f"f{i}") for i in range(5000)], [1])  # beyond the 4096-frame depth cap
    lay = profile_layout(p)
    v = view_layout(lay, 0, width_px=800)
    assert v.rows == 4097 and len(v) == 4097
    assert p.frames[int(p.frame[int(v.node[-1])])].function == "[stack truncated]"
    w = FlameGraphWidget()
    qtbot.addWidget(w)
    w.resize(800, 400)
    w.set_profile(p)
    assert not w.grab().toImage().isNull()


def test_name_ranks_stay_sorted_as_the_table_grows() -> None:
    from workbench.analysis.layout import NameRankCache, name_ranks

    p = synthetic_profile(500, seed=9, n_frames=300)
    cache = NameRankCache()
    assert (cache.get(p.frames) == name_ranks(p.frames)).all()
    for i in range(40):  # a live capture adding a few frames per batch
        p.frames.intern(Frame(f"zz{i % 7}.late_{i}", "/srv/late.py", i))
        p.frames.intern(Frame(f"aa.early_{i}", "/srv/early.py", i))
        assert (cache.get(p.frames) == name_ranks(p.frames)).all()


def test_search_follows_live_growth(qtbot) -> None:
    view = FlameGraphView()
    qtbot.addWidget(view)
    p = small_profile()
    view.set_profile(p)
    view.set_search_text("^query$|^fresh$")
    assert view.canvas.match_fraction == pytest.approx(0.60)
    grown = p.copy()
    grown.add_stack([*p.stack_frames(_node(p, "main")), Frame("fresh", "/srv/app/fresh.py", 1)], [100])
    view.set_profile(grown)
    assert view.canvas.match_fraction == pytest.approx(160 / 200)
    assert view.match_label.text() == "matched: 80.0 %"


def test_zoom_follows_frames_into_a_profile_with_another_frame_table(canvas: FlameGraphWidget) -> None:
    p = canvas.profile
    canvas.zoom_to_node(_node(p, "main", "handle"))
    other = Profile([SAMPLES])  # its own frame table, other ids (like a diff's union tree)
    other.add_stack([Frame("unrelated")], [1])
    for f in reversed(p.stack_frames(_node(p, "main", "handle", "render"))):
        other.frames.intern(f)
    other.add_stack(p.stack_frames(_node(p, "main", "handle", "render")), [5])
    canvas.set_profile(other)
    assert [label for _n, label in canvas.breadcrumb()] == ["all", "main", "handle"]
    canvas.set_profile(small_profile().empty_like())
    assert canvas.zoom_root() == 0


def test_wheel_event_zooms_around_cursor(qtbot, canvas: FlameGraphWidget) -> None:
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    pos = QPointF(canvas.width() * 0.75, canvas.height() / 2)
    ev = QWheelEvent(
        pos,
        canvas.mapToGlobal(pos),
        P(0, 0),
        P(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(canvas, ev)
    v0, v1 = canvas.view
    assert v1 - v0 == pytest.approx(1 / 1.25**2)
    assert v0 + 0.75 * (v1 - v0) == pytest.approx(0.75)

"""The flame graph tab: transforms (invert, sandwich, focus/ignore), keyboard, hostile names, jobs."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from tests.helpers.gui import small_profile, synthetic_profile
from workbench.model import SAMPLES, Frame, Profile
from workbench.ui import flame_view
from workbench.ui.flame_view import FlameGraphView
from workbench.ui.text import plain_tooltip


def _view(qtbot, profile: Profile | None = None) -> FlameGraphView:
    v = FlameGraphView()
    qtbot.addWidget(v)
    v.resize(900, 500)
    v.set_profile(profile or small_profile())
    return v


def _roots(p: Profile) -> set[str]:
    return {p.frames[int(p.frame[n])].function for n in p.children_of(0)}


def test_invert_shows_leaf_functions_as_roots(qtbot) -> None:
    v = _view(qtbot)
    v.invert_box.setChecked(True)
    assert _roots(v.canvas.profile) == {"query", "render", "gc_collect", "main"}
    assert float(v.canvas.profile.totals()[0]) == 100
    v.invert_box.setChecked(False)
    assert _roots(v.canvas.profile) == {"main"}


def test_focus_and_ignore(qtbot) -> None:
    v = _view(qtbot)
    v.focus_edit.setText("render")
    v.focus_edit.editingFinished.emit()
    assert float(v.canvas.profile.totals()[0]) == 25
    v.focus_edit.setText("")
    v.ignore_edit.setText("handle")
    v.ignore_edit.editingFinished.emit()
    assert float(v.canvas.profile.totals()[0]) == 15


def test_sandwich_callers_and_callees(qtbot) -> None:
    v = _view(qtbot)
    p = v.canvas.profile
    handle = p.child(p.child(0, 0), 1)  # main -> handle (frame ids in insertion order)
    v.canvas.nodeClicked.emit(handle)
    v.sandwich_btn.setChecked(True)
    assert not v.callee_area.isHidden()
    callers, callees = v.canvas.profile, v.callee_canvas.profile
    assert _roots(callers) == {"handle"} and _roots(callees) == {"handle"}
    caller_names = {callers.frames[int(callers.frame[n])].function for n in range(1, callers.n_nodes)}
    callee_names = {callees.frames[int(callees.frame[n])].function for n in range(1, callees.n_nodes)}
    assert caller_names == {"handle", "main"}
    assert callee_names == {"handle", "query", "render"}
    v.sandwich_btn.setChecked(False)
    assert v.callee_area.isHidden()


def test_sandwich_without_selection_is_a_banner_error(qtbot) -> None:
    v = _view(qtbot)
    with qtbot.waitSignal(v.error) as sig:
        v.sandwich_btn.setChecked(True)
    assert "click a box" in sig.args[0].fix
    assert not v.sandwich_btn.isChecked()


def test_ctrl_c_copies_hovered_stack(qtbot) -> None:
    v = _view(qtbot)
    c = v.canvas
    v.show()
    qtbot.waitExposed(v)
    boxes = c.boxes()
    b = int(np.flatnonzero(boxes.row == 3)[0])
    pt = QPoint(int((boxes.x[b] + boxes.w[b] / 2) * c.width()), int(c.height() - 3.5 * 18))
    qtbot.mouseMove(c, pt)
    assert c.hover_node > 0
    qtbot.keyClick(c, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0].startswith("main (") and len(lines) == 3


def test_hostile_names_are_not_markup(qtbot) -> None:
    p = Profile([SAMPLES])
    evil = "<img src=x onerror=alert(1)><b>bold</b>&amp;"
    p.add_stack([Frame(evil, "<script>.py", 1)], [5])
    v = _view(qtbot, p)
    text = v.canvas.hover_text(1)
    assert text.splitlines()[0] == evil
    tip = plain_tooltip(text)
    assert "<img" not in tip and "&lt;img" in tip and "<b>" not in tip
    crumbs = v.canvas.breadcrumb()
    v.canvas.zoom_to_node(1)
    assert [label for _n, label in v.canvas.breadcrumb()] == ["all", evil]
    assert crumbs[0][1] == "all"
    assert not v.canvas.grab().toImage().isNull()


def test_big_profile_transform_runs_in_a_job_and_drops_stale(qtbot, monkeypatch) -> None:
    monkeypatch.setattr(flame_view, "SYNC_LIMIT", 100)
    p = synthetic_profile(3000, seed=4)
    v = _view(qtbot, p)
    v.invert_box.setChecked(True)  # job 1
    v.invert_box.setChecked(False)  # no transform: shown inline, job 1 now stale
    v.focus_edit.setText("handler_")
    v.focus_edit.editingFinished.emit()  # job 2
    qtbot.waitUntil(lambda: v.canvas.profile is not p, timeout=20_000)
    shown = v.canvas.profile
    qtbot.wait(200)
    assert v.canvas.profile is shown  # the stale invert result never replaced it
    assert _roots(shown) == _roots(p)  # focused, not inverted
    assert not v.invert_box.isChecked()


def test_a_live_profile_growing_taller_keeps_its_root_in_view(qtbot) -> None:
    """Deeper stacks arriving live make the flame graph taller than the view: a view that showed
    the root (the bottom row) still shows it, instead of drifting to the empty top."""

    def deep(depth: int) -> Profile:
        p = Profile((SAMPLES,))
        p.add_stack([Frame("main"), Frame("serve")], (10.0,))
        p.add_stack([Frame(f"f{i}") for i in range(depth)], (5.0,))
        return p

    v = _view(qtbot, deep(3))
    v.show()
    qtbot.waitExposed(v)
    bar = v.main_area.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() == bar.maximum())
    v.set_profile(deep(300))  # a live update: same sample types, zoom kept
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=3000)

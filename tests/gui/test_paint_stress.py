"""Regression guard: tens of thousands of boxes painted again and again must not crash.

PySide6 on Python 3.11 leaked references to None in QPainter calls and aborted with
"deallocating None" after a few thousand paints; this drives well past that point.
"""

from __future__ import annotations

import sys

import numpy as np
from PySide6.QtGui import QImage

from workbench.model import SAMPLES, Frame, Profile, StackSet
from workbench.ui.flamegraph import FlameGraphWidget


def _wide_profile(n_children: int, chain: int) -> Profile:
    """``n_children`` equal towers of ``chain`` frames: n_children * chain boxes at 2 px each."""
    p = Profile([SAMPLES])
    ids = [p.frames.intern(Frame(f"f{i}")) for i in range(n_children * chain)]
    flat = np.asarray(ids, dtype=np.int64)
    offsets = np.arange(0, n_children * chain + 1, chain, dtype=np.int64)
    p.add_stackset(StackSet(p.frames, flat, offsets, np.ones((n_children, 1))))
    return p


def test_many_boxes_painted_repeatedly(qtbot) -> None:
    w = FlameGraphWidget()
    qtbot.addWidget(w)
    w.resize(4000, 40 * 18)
    w.set_profile(_wide_profile(2000, 28))
    w.show()
    qtbot.waitExposed(w)
    assert len(w.boxes()) >= 50_000
    before = w.boxes_drawn
    img = QImage(w.size(), QImage.Format.Format_ARGB32_Premultiplied)
    for _ in range(8):
        w.render(img)  # a real paintEvent into an image: independent of window exposure
    assert w.boxes_drawn - before >= 8 * 50_000


def test_thousands_of_paint_events(qtbot) -> None:
    w = FlameGraphWidget()
    qtbot.addWidget(w)
    w.resize(300, 120)  # small boxes: thousands of paint events, each a few drawRects calls
    w.set_profile(_wide_profile(30, 5))
    w.show()
    qtbot.waitExposed(w)
    img = QImage(w.size(), QImage.Format.Format_ARGB32_Premultiplied)
    refs = sys.getrefcount(None)
    start = w.paint_count
    for i in range(6000):
        w.view = (0.0, 1.0) if i % 2 else (0.1, 0.9)  # a fresh layout every other paint
        w.render(img)
    assert w.paint_count - start >= 6000
    # on a leaking binding None's refcount falls steadily; immortal on 3.12+, so stable
    assert sys.getrefcount(None) >= refs - 100

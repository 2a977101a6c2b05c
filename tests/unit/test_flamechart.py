"""The flame chart layout (analysis.flamechart): time order from a profile's time slices."""

from __future__ import annotations

import numpy as np

from workbench.analysis.flamechart import FILL_DENSITY, FILL_FULL, chart_layout, peak_density, time_span
from workbench.analysis.layout import name_ranks
from workbench.model import CPU_NS, WALL_NS, Frame, Profile, Runtime, stackset_from_lists
from workbench.model.profile import ProfileLimits


def _f(name: str) -> Frame:
    return Frame(name, f"/srv/{name}.py", 1, "app", Runtime.PYTHON)


def _phases(st=WALL_NS, t_base: float = 1000.0) -> Profile:
    """main -> a for 5 s, then main -> b for 5 s, one 1-second slice each."""
    p = Profile([st])
    for i in range(10):
        leaf = "a" if i < 5 else "b"
        p.add_stack([_f("main"), _f(leaf)], [1e9], t_base + i, t_base + i + 1)
    return p


def _box(lay, p: Profile, name: str) -> list[tuple[float, float, int]]:
    out = []
    for i in range(len(lay)):
        if p.frames[int(p.frame[lay.node[i]])].function == name:
            out.append((float(lay.t0[i]), float(lay.t1[i]), int(lay.row[i])))
    return out


def test_phases_in_time_order() -> None:
    p = _phases()
    assert time_span(p) == (1000.0, 1010.0)
    lay = chart_layout(p, 0, (1000.0, 1010.0), 1000.0, ranks=name_ranks(p.frames))
    assert lay.fill == FILL_FULL
    (main,) = _box(lay, p, "main")
    assert main[2] == 0 and abs(main[0] - 1000) < 1e-6 and abs(main[1] - 1010) < 1e-6, main
    (a,) = _box(lay, p, "a")
    (b,) = _box(lay, p, "b")
    assert a[2] == b[2] == 1
    assert abs(a[0] - 1000) < 1e-6 and abs(a[1] - 1005) < 1e-6, a
    assert abs(b[0] - 1005) < 1e-6 and abs(b[1] - 1010) < 1e-6, b
    assert lay.rows == 2
    assert lay.hit(1002.0, 1) >= 0 and int(lay.node[lay.hit(1002.0, 1)]) == p.child(p.child(0, 0) or 0, 1)


def test_view_cuts_the_range() -> None:
    p = _phases()
    lay = chart_layout(p, 0, (1006.0, 1008.0), 800.0)
    assert not _box(lay, p, "a"), "only what is in the view"
    assert _box(lay, p, "b")


def test_density_fill_shows_idle_as_gap() -> None:
    p = Profile([CPU_NS])
    p.add_stack([_f("main"), _f("work")], [1e9], 0.0, 1.0)  # busy second
    p.add_stack([_f("main"), _f("work")], [0.25e9], 1.0, 2.0)  # mostly idle second
    assert peak_density(p, 0) == 1e9
    lay = chart_layout(p, 0, (0.0, 2.0), 400.0, fill=FILL_DENSITY)
    assert lay.fill == FILL_DENSITY
    boxes = sorted(_box(lay, p, "work"))
    assert len(boxes) == 1, "the busy second and the start of the next touch: one bar"
    assert abs(boxes[0][0]) < 1e-9 and abs(boxes[0][1] - 1.25) < 1e-6, boxes
    full = chart_layout(p, 0, (0.0, 2.0), 400.0)
    assert full.fill == FILL_FULL and sorted(_box(full, p, "work")) == [(0.0, 2.0, 1)], (
        "by default every column is full"
    )


def test_within_a_column_siblings_share_it_by_value() -> None:
    p = Profile([WALL_NS])
    p.add_stack([_f("main"), _f("a")], [3e9], 0.0, 1.0)
    p.add_stack([_f("main"), _f("b")], [1e9], 0.0, 1.0)
    lay = chart_layout(p, 0, (0.0, 1.0), 1000.0, ranks=name_ranks(p.frames))
    (a,) = _box(lay, p, "a")
    (b,) = _box(lay, p, "b")
    assert abs((a[1] - a[0]) - 0.75) < 1e-9 and abs((b[1] - b[0]) - 0.25) < 1e-9
    assert a[1] <= b[0] + 1e-9, "siblings by name: a before b"


def test_narrow_boxes_are_dropped_and_the_rest_bounded() -> None:
    """An hour of 1-second slices with many distinct leaves on a 1000 px chart: columns are
    aggregated to >= 2 px and no box is narrower than a pixel."""
    rng = np.random.default_rng(3)
    p = Profile([WALL_NS], limits=ProfileLimits(max_slices=4096, max_slice_entries=1 << 20))
    main = p.frames.intern(_f("main"))
    phase = [p.frames.intern(_f(f"h{k}")) for k in range(6)]
    leaf = [p.frames.intern(_f(f"leaf{k}")) for k in range(400)]
    for i in range(3600):
        stacks = [[main, phase[i // 600], leaf[j]] for j in rng.integers(0, 400, 20).tolist()]
        p.add_stackset(stackset_from_lists(p.frames, stacks, [[1e7]] * 20), float(i), i + 1.0)
    lay = chart_layout(p, 0, (0.0, 3600.0), 1000.0)
    assert len(lay.columns) <= 500
    px = (lay.t1 - lay.t0) * 1000.0 / 3600.0
    assert px.min() >= 1.0 - 1e-9
    # the six phases (h0..h5) read as six long bars on row 1
    hs = [b for b in (_box(lay, p, f"h{k}") for k in range(6))]
    assert all(len(h) == 1 for h in hs), hs
    assert all(abs((h[0][1] - h[0][0]) - 600.0) < 10.0 for h in hs), hs

"""Long sessions stay bounded: time slices of a live profile, series rings, the session's caps."""

from __future__ import annotations

import numpy as np

from workbench.model import SAMPLES, Frame, FrameTable, Profile, SeriesBatch, SeriesPoint, Session, stackset_from_lists
from workbench.model.profile import ProfileLimits


def test_slice_entries_stay_under_the_cap_and_totals_stay_exact() -> None:
    rng = np.random.default_rng(1)
    prof = Profile([SAMPLES], name="live", limits=ProfileLimits(max_slices=64, max_slice_entries=5_000))
    table = FrameTable()
    leaves = [[table.intern(Frame("main")), table.intern(Frame(f"leaf{i}"))] for i in range(1500)]
    total = 0.0
    for s in range(600):  # ten minutes of one batch a second, 100 distinct leaves each
        chosen = rng.choice(len(leaves), 100, replace=False)
        stacks = stackset_from_lists(table, [leaves[i] for i in chosen], [[1.0]] * 100)
        prof.add_stackset(stacks, float(s), float(s + 1))
        total += 100
        assert sum(len(sl.nodes) for sl in prof.slices) <= 5_000 + 100
        assert len(prof.slices) <= 64 + 1
    assert prof.totals()[0] == total
    assert prof.cut(0.0, 600.0).totals()[0] == total  # coarser past, nothing lost
    recent = prof.cut(599.0, 600.0).totals()[0]
    assert recent == 100  # the newest second keeps full resolution


def test_series_stay_bounded_over_a_long_feed() -> None:
    s = Session(series_capacity=64)
    for t in range(10_000):
        s.put(SeriesBatch([SeriesPoint("process.rss_bytes", float(t), float(t % 100), "bytes")]))
    ring = s.series["process.rss_bytes"]
    assert len(ring) <= 64 and ring.total_points == 10_000
    assert float(ring.maxs.max()) == 99.0  # spikes survive downsampling

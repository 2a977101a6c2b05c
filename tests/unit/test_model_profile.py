import numpy as np

from workbench.model import SAMPLES, Frame, Profile, ProfileLimits, RingSeries, SeriesBatch, SeriesPoint, Session


def test_tree_totals_and_stacks():
    p = Profile([SAMPLES])
    a, b, c = Frame("a"), Frame("b"), Frame("c")
    p.add_stack([a, b], [3], t0=1, t1=2)
    p.add_stack([a, c], [2], t0=2, t1=3)
    p.add_stack([a], [1], t0=3, t1=4)
    assert p.n_nodes == 4
    assert p.total_values()[0, 0] == 6
    ss = p.to_stackset()
    got = sorted((tuple(p.frames[int(f)].function for f in ss.stack(i)), ss.values[i, 0]) for i in range(len(ss)))
    assert got == [(("a",), 1.0), (("a", "b"), 3.0), (("a", "c"), 2.0)]


def test_window_cut_is_half_open():
    p = Profile([SAMPLES])
    p.add_stack([Frame("a"), Frame("b")], [3], t0=1, t1=2)
    p.add_stack([Frame("a"), Frame("c")], [2], t0=2, t1=3)
    assert p.cut(2, 3).totals()[0] == 2
    assert p.cut(0, 10).totals()[0] == 5


def test_depth_cap_marks_truncation_without_recursion():
    p = Profile([SAMPLES], limits=ProfileLimits(max_depth=100))
    p.add_stack([Frame(f"f{i}") for i in range(10_000)], [1])
    leaf = p.n_nodes - 1
    frames = p.stack_frames(leaf)
    assert len(frames) == 100
    assert frames[-1].function == "[stack truncated]"
    assert p.truncated_stacks == 1


def test_node_budget_folds_into_marker():
    p = Profile([SAMPLES], limits=ProfileLimits(max_nodes=5))
    for i in range(10):
        p.add_stack([Frame("a"), Frame(str(i))], [1])
    assert p.totals()[0] == 10
    names = {p.frames[int(f)].function for f in p.frame[1:]}
    assert "[node budget exceeded]" in names


def test_ring_series_is_bounded_and_keeps_extremes():
    s = RingSeries("x", "", capacity=64)
    for i in range(100_000):
        s.append(float(i), float(i % 1000))
    assert len(s) <= 64
    assert s.maxs.max() == 999
    assert s.counts.sum() == 100_000


def test_session_applies_series():
    sess = Session()
    sess.put(SeriesBatch([SeriesPoint("process.rss_bytes", 1.0, 10.0, "bytes")]))
    assert sess.series["process.rss_bytes"].last() == 10.0
    assert np.isclose(sess.version, 1)

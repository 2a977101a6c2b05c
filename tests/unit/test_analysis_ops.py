"""Analysis operations on hand-built profiles whose answers are known."""

import numpy as np
import pytest

from workbench.analysis.diff import diff
from workbench.analysis.filters import filter_profile, focus, hide, ignore, show
from workbench.analysis.invert import invert
from workbench.analysis.prune import prune
from workbench.analysis.sandwich import callees, callers
from workbench.analysis.top import top_functions
from workbench.analysis.treeops import AnalysisError
from workbench.analysis.window import cut, now_vs_ago
from workbench.errors import WorkbenchError
from workbench.model import CPU_NS, SAMPLES, Frame, Profile, ProfileLimits, stackset_from_lists


def make(stacks, types=(SAMPLES,), t=None, limits=None):
    """Profile from {"a;b;c": value or (v1, v2)}; frames named by function."""
    p = Profile(list(types), name="t", limits=limits)
    for i, (text, v) in enumerate(stacks.items()):
        frames = [Frame(f, file=f"{f}.py") for f in text.split(";")] if text else []
        vals = list(v) if isinstance(v, tuple) else [v]
        if t is None:
            p.add_stack(frames, vals)
        else:
            p.add_stack(frames, vals, t0=t[i], t1=t[i] + 1)
    return p


def stacks_of(p, si=0):
    ss = p.to_stackset()
    out = {}
    for i in range(len(ss)):
        key = ";".join(p.frames[int(f)].function for f in ss.stack(i))
        out[key] = out.get(key, 0) + float(ss.values[i, si])
    return out


def fid(p, name):
    return next(i for i, f in enumerate(p.frames) if f.function == name)


RECURSIVE = {"main;a;b": 3, "main;a;a;a;c": 2, "main;b;a": 1, "main": 4}


def test_top_self_total_and_recursion_counted_once():
    p = make(RECURSIVE)
    rows = {r.frame.function: r for r in top_functions(p)}
    assert rows["main"].self_values[0] == 4 and rows["main"].total_values[0] == 10
    # a recurs 3 times in one stack: that stack counts once in a's total
    assert rows["a"].total_values[0] == 3 + 2 + 1
    assert rows["a"].self_values[0] == 1
    assert rows["b"].self_values[0] == 3 and rows["b"].total_values[0] == 4
    assert rows["c"].total_values[0] == 2
    for r in rows.values():
        assert r.total_values[0] <= p.totals()[0]
    by_self = [r.frame.function for r in top_functions(p)]
    assert by_self == ["main", "b", "c", "a"]
    by_total = [r.frame.function for r in top_functions(p, sort_by="total", limit=2)]
    assert by_total == ["main", "a"]


def test_top_sorts_by_any_sample_type():
    p = make({"x": (1, 100), "y": (5, 10)}, types=(SAMPLES, CPU_NS))
    assert [r.frame.function for r in top_functions(p, sample_index=0)] == ["y", "x"]
    assert [r.frame.function for r in top_functions(p, sample_index="cpu")] == ["x", "y"]
    assert top_functions(p, sample_index="cpu")[0].self_values.tolist() == [1, 100]
    with pytest.raises(WorkbenchError):
        top_functions(p, sample_index="alloc_space")


def test_top_function_granularity_merges_lines():
    p = Profile([SAMPLES])
    p.add_stack([Frame("f", "m.py", 1), Frame("g", "m.py", 5)], [2])
    p.add_stack([Frame("f", "m.py", 2), Frame("g", "m.py", 6)], [3])
    assert len(top_functions(p)) == 4
    rows = {r.frame.function: r for r in top_functions(p, granularity="function")}
    assert rows["g"].self_values[0] == 5 and rows["f"].total_values[0] == 5


def test_empty_profile_everywhere():
    p = Profile([SAMPLES])
    assert top_functions(p) == []
    for q in (invert(p), focus(p, "x"), ignore(p, "x"), hide(p, "x"), show(p, "x"), prune(p, 5), callees(p, 0)):
        assert q.totals()[0] == 0
    d = diff(p, p)
    assert d.delta_total.shape == (1, 1)


def test_focus_ignore_hide_show_pprof_semantics():
    p = make({"main;a;b": 3, "main;c": 2, "main;a;d": 1})
    assert stacks_of(focus(p, "^b$")) == {"main;a;b": 3}
    assert stacks_of(focus(p, "^a")) == {"main;a;b": 3, "main;a;d": 1}
    assert stacks_of(ignore(p, "^a$")) == {"main;c": 2}
    assert stacks_of(hide(p, "^a$")) == {"main;b": 3, "main;c": 2, "main;d": 1}
    assert stacks_of(show(p, "^(main|b)$")) == {"main;b": 3, "main": 3}
    # ignore wins over focus
    r = filter_profile(p, focus="main", ignore="^d$")
    assert stacks_of(r.profile) == {"main;a;b": 3, "main;c": 2}
    assert r.warnings == []
    # the file name matches too, as in pprof
    assert stacks_of(focus(p, r"c\.py")) == {"main;c": 2}


def test_filter_warns_when_nothing_matched():
    p = make({"main;a": 1})
    r = filter_profile(p, focus="zzz", hide="a")
    assert r.matched == {"focus": False, "hide": True}
    assert r.warnings == ["no matches found for focus regexp: zzz"]
    assert r.profile.totals()[0] == 0
    assert "zzz" in focus(p, "zzz").meta["filter_warnings"]
    assert "filter_warnings" not in focus(hide(p, "zzz"), "a").meta
    with pytest.raises(WorkbenchError, match="not a valid regular expression"):
        focus(p, "(")


def test_invert_bottom_up():
    p = make({"main;a;b": 3, "main;c;b": 2, "main;c": 1})
    inv = invert(p)
    assert stacks_of(inv) == {"b;a;main": 3, "b;c;main": 2, "c;main": 1}
    roots = {inv.frames[int(inv.frame[n])].function: inv.total_values()[n, 0] for n in inv.children_of(0)}
    assert roots == {"b": 5, "c": 1}


def test_sandwich_callers_and_callees_count_recursion_once():
    p = make(RECURSIVE)
    a = fid(p, "a")
    ce = callees(p, a)
    assert stacks_of(ce) == {"a;b": 3, "a;a;a;c": 2, "a": 1}
    assert ce.totals()[0] == 6 == {r.frame.function: r for r in top_functions(p)}["a"].total_values[0]
    cr = callers(p, a)
    assert stacks_of(cr) == {"a;main": 3, "a;a;a;main": 2, "a;b;main": 1}
    assert [cr.frames[int(cr.frame[n])].function for n in cr.children_of(0)] == ["a"]


def test_diff_union_tree_new_minus_base():
    base = make({"main;a": 6, "main;gone": 2})
    new = make({"main;a": 3, "main;born": 1})
    d = diff(base, new, normalize=False)
    q = d.profile
    names = {q.frames[int(q.frame[n])].function: n for n in range(1, q.n_nodes)}
    assert set(names) == {"main", "a", "gone", "born"}
    assert d.delta_total[names["a"], 0] == -3
    assert d.delta_total[names["gone"], 0] == -2
    assert d.delta_total[names["born"], 0] == 1
    assert d.delta_total[names["main"], 0] == 4 - 8
    assert d.base_total[0, 0] == 8 and d.new_total[0, 0] == 4
    # every node of the union stays visible
    assert np.all(q.total_values()[1:, 0] > 0)
    dn = diff(base, new, normalize=True)
    assert dn.scale[0] == 2.0
    assert dn.new_total[0, 0] == 8
    assert dn.delta_total[names["a"], 0] == 0
    with pytest.raises(WorkbenchError, match="different sample types"):
        diff(base, make({"x": 1}, types=(CPU_NS,)))


def test_prune_keeps_heaviest_and_marks_the_rest():
    stacks = {f"main;f{i}": float(100 - i) for i in range(50)}
    p = make(stacks)
    q = prune(p, 11)
    assert q.totals()[0] == p.totals()[0]
    got = stacks_of(q)
    for i in range(10):
        assert got[f"main;f{i}"] == 100 - i
    markers = [k for k in got if "more" in k]
    rest = sum(100 - i for i in range(10, 50))
    assert markers == [f"main;(40 more, {100 * rest / p.totals()[0]:.1f}%)"]
    assert got[markers[0]] == rest
    # the source's frame table does not grow with marker labels
    assert not any("more" in f.function for f in p.frames)


def test_prune_nested_drops_fold_into_the_frontier():
    p = make({"main;a;x;y": 5, "main;a;z": 1, "main;b": 10})
    q = prune(p, 3)
    got = stacks_of(q)
    assert sum(got.values()) == 16
    assert got["main;b"] == 10
    assert got["main;a;(2 more, 37.5%)"] == 6


def test_deep_10k_frame_stacks_without_recursion():
    lim = ProfileLimits(max_depth=20_000)
    deep = [f"f{i}" for i in range(10_000)]
    rec = ";".join(["main", *["r"] * 10_000])
    p = make({";".join(deep): 2, rec: 3, "main;leaf": 1}, limits=lim)
    assert max(len(k.split(";")) for k in stacks_of(p)) == 10_001
    rows = {r.frame.function: r for r in top_functions(p)}
    assert rows["r"].total_values[0] == 3 and rows["r"].self_values[0] == 3
    assert rows["f0"].total_values[0] == 2
    inv = invert(p)
    assert inv.depth.max() == 10_001 and inv.totals()[0] == 6
    assert focus(p, "^f9999$").totals()[0] == 2
    assert hide(p, "^r$").totals()[0] == 6
    assert callees(p, fid(p, "r")).totals()[0] == 3
    assert callers(p, fid(p, "r")).depth.max() == 10_001
    q = prune(p, 100)
    assert q.totals()[0] == 6
    assert diff(p, p).delta_total.max() == 0


def test_transforms_keep_time_slices_for_window_cuts():
    p = make({"main;a": 1, "main;b": 2, "main;a;c": 4}, t=[10, 20, 30])
    assert cut(p, 20, 31).totals()[0] == 6
    inv = invert(p)
    assert inv.cut(25, 40).totals()[0] == 4
    assert focus(p, "^a$").cut(0, 15).totals()[0] == 1  # most samples kept: zeroed copy
    assert focus(p, "^a$").cut(15, 25).totals()[0] == 0
    assert focus(p, "^c$").cut(25, 40).totals()[0] == 4  # few kept: rebuilt tree
    assert ignore(p, "^c$").cut(0, 100).totals()[0] == 3
    q = prune(p, 2)
    assert q.cut(29, 31).totals()[0] == 4
    then, now = now_vs_ago(p, minutes_ago=0.25, width_s=10)
    assert now.totals()[0] == 4 and then.totals()[0] == 1
    with pytest.raises(AnalysisError):
        now_vs_ago(make({"a": 1}), 1)


def test_prune_handles_many_stacks_vectorised():
    rng = np.random.default_rng(1)
    p = Profile([SAMPLES])
    ids = [p.frames.intern(Frame(f"fn{i}")) for i in range(200)]
    stacks = [[ids[j] for j in rng.integers(0, 200, size=rng.integers(1, 12))] for _ in range(3000)]
    p.add_stackset(stackset_from_lists(p.frames, stacks, rng.integers(1, 10, size=3000).astype(float)))
    q = prune(p, 500)
    assert q.n_nodes <= 501 + 500
    assert q.totals()[0] == p.totals()[0]
    assert np.isclose(sum(r.self_values[0] for r in top_functions(q)), p.totals()[0])


def test_prune_ignores_nodes_a_filter_left_empty():
    p = make({**{f"main;keep{i}": 10.0 + i for i in range(6)}, "main;x;gone": 1, "main;y;gone": 1})
    f = ignore(p, "gone")  # most samples kept: empty nodes stay in the tree
    assert f.totals()[0] == p.totals()[0] - 2
    got = stacks_of(prune(f, 5))
    assert sum(got.values()) == f.totals()[0]
    (marker,) = [k for k in got if "more" in k]
    assert marker.startswith("main;(2 more,")  # the two emptied branches are not counted
    assert stacks_of(prune(f, 7)) == stacks_of(f)


def test_diff_frame_tables():
    p = make({"main;a": 1, "main;b": 2}, t=[1, 2])
    d = diff(p.cut(0, 1.5), p.cut(1.5, 3))
    assert d.profile.frames is p.frames  # windows of one profile: no re-interning
    other = make({"main;a": 5})
    for i in range(1000):
        other.frames.intern(Frame(f"unused{i}"))
    d = diff(other, p)
    assert len(d.profile.frames) == 3 and len(p.frames) == 3
    names = {d.profile.frames[int(d.profile.frame[n])].function: n for n in range(1, d.profile.n_nodes)}
    assert d.scale[0] == 5 / 3  # new scaled to the base's total, as pprof -normalize
    assert np.isclose(d.delta_total[names["a"], 0], 5 / 3 - 5)
    assert np.isclose(d.delta_total[names["b"], 0], 2 * 5 / 3)

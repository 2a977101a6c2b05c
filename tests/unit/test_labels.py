"""Sample labels: kept through the model (copies, merges, caps), .wbs (streamed batches and
snapshots, compaction included), pprof write/read, and the tag filters and grouping."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.analysis.labels import group_by_label, label_values, parse_tag_filter, tag_filter
from workbench.analysis.treeops import AnalysisError
from workbench.formats.pprof import read_pprof, write_pprof
from workbench.formats.wbs import SessionStore, load_session, save_session
from workbench.model import SAMPLES, Frame, FrameTable, Profile, ProfileBatch, Session, merge_profiles
from workbench.model.labels import OVERFLOW_SET, LabelStore, LabelTable, make_set
from workbench.model.profile import StackSet, stackset_from_lists


def _labelled(values: list[tuple[list[str], float, dict[str, str] | None]]) -> StackSet:
    table = FrameTable()
    labels = LabelTable()
    stacks = [[table.intern(Frame(n)) for n in names] for names, _v, _l in values]
    ss = stackset_from_lists(table, stacks, [[v] for _n, v, _l in values])
    ids = np.array([labels.intern(make_set(lab.items())) if lab else -1 for _n, _v, lab in values], dtype=np.int64)
    return StackSet(ss.table, ss.frames, ss.offsets, ss.values, ids, labels)


DATA = [
    (["main", "slow"], 9.0, {"endpoint": "/slow", "tenant": "a"}),
    (["main", "fast"], 1.0, {"endpoint": "/fast"}),
    (["main", "slow"], 2.0, {"endpoint": "/slow", "tenant": "b"}),
    (["gc"], 4.0, None),
]


def _profile() -> Profile:
    p = Profile([SAMPLES])
    p.add_stackset(_labelled(DATA), 10.0, 11.0)
    return p


def _by_label(p: Profile) -> dict[tuple[tuple[str, str], ...], float]:
    assert p.labels is not None
    out: dict[tuple[tuple[str, str], ...], float] = {}
    for lid, v in zip(p.labels.ids.tolist(), p.labels.values[:, 0].tolist(), strict=True):
        out[p.labels.table[lid]] = out.get(p.labels.table[lid], 0.0) + v
    return out


def test_model_keeps_labels_through_copy_merge_and_stackset() -> None:
    p = _profile()
    want = {
        (("endpoint", "/slow"), ("tenant", "a")): 9.0,
        (("endpoint", "/fast"),): 1.0,
        (("endpoint", "/slow"), ("tenant", "b")): 2.0,
    }
    assert _by_label(p) == want
    assert _by_label(p.copy()) == want
    assert _by_label(merge_profiles([p, p])) == {k: 2 * v for k, v in want.items()}
    ss = p.to_stackset(labels=True)
    assert float(ss.values.sum()) == 16.0 and int((ss.label_ids < 0).sum()) == 1
    assert label_values(p, "endpoint") == ["/slow", "/fast"]
    assert p.cut(10.0, 11.0).labels is not None and p.cut(10.2, 10.5).labels is None


def test_caps() -> None:
    t = LabelTable(max_sets=2)
    assert [t.intern(make_set([("k", str(i))])) for i in range(4)] == [0, 1, 2, 2]
    assert t[2] == OVERFLOW_SET and t.overflowed == 2
    assert len(make_set([("k" * 1000, "v" * 1000)])[0][0]) == 256
    st = LabelStore(table=t, max_entries=3)
    st.add(np.arange(5, dtype=np.int64), np.zeros(5, dtype=np.int64), np.ones((5, 1)))
    assert len(st) == 3 and st.dropped == 2
    st.add(np.array([0]), np.array([0]), np.ones((1, 1)))  # an existing entry still adds
    assert float(st.values.sum()) == 4.0


def test_filters_and_grouping() -> None:
    p = _profile()
    assert float(tag_filter(p, ["endpoint=/slow"]).totals()[0]) == 11.0
    assert float(tag_filter(p, ["endpoint=/slow,/fast"]).totals()[0]) == 12.0  # comma = or
    assert float(tag_filter(p, ["endpoint=/slow", "tenant=b"]).totals()[0]) == 2.0  # repeat = and
    assert float(tag_filter(p, ["^a$"]).totals()[0]) == 9.0  # bare regex: any label value
    assert float(tag_filter(p, ["a"]).totals()[0]) == 10.0  # searched, not anchored: /fast has an a
    assert float(tag_filter(p, None, ["endpoint=/slow"]).totals()[0]) == 5.0  # unlabelled kept by ignore
    g = group_by_label(p, "endpoint")
    roots = {g.frames[int(g.frame[n])].function: float(g.total_values()[n, 0]) for n in g.children_of(0).tolist()}
    assert roots == {"endpoint=/slow": 11.0, "endpoint=/fast": 1.0, "endpoint=(none)": 4.0}
    for bad in ("=x", "k=", "k=(", ""):
        with pytest.raises(AnalysisError):
            parse_tag_filter(bad)


def test_pprof_round_trip() -> None:
    back = read_pprof(write_pprof(_profile()))
    assert _by_label(back) == _by_label(_profile())
    assert float(back.totals()[0]) == 16.0


def test_wbs_snapshot_stream_and_compaction(tmp_path) -> None:
    s = Session()
    s.profiles["pprof:x:cpu"] = _profile()
    save_session(s, tmp_path / "snap.wbs")
    back = load_session(tmp_path / "snap.wbs").profiles["pprof:x:cpu"]
    assert _by_label(back) == _by_label(_profile()) and float(back.totals()[0]) == 16.0
    assert back.slices, "the time slices stay"

    live = Session()
    store = SessionStore(tmp_path / "live.wbs", commit_interval_s=0.05, compact_batches=4)
    store.attach(live)
    for i in range(10):
        live.put(ProfileBatch("pprof:x:cpu", (SAMPLES,), _labelled(DATA), 100.0 + i, 101.0 + i))
    store.close()
    got = load_session(tmp_path / "live.wbs").profiles["pprof:x:cpu"]
    assert float(got.totals()[0]) == 160.0
    assert _by_label(got) == {k: 10 * v for k, v in _by_label(_profile()).items()}

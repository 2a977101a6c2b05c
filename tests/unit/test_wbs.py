"""The .wbs session file: round trips, incremental writes, migration and bad files."""

import json
import sqlite3
import zlib

import numpy as np
import pytest

from workbench.errors import FormatError
from workbench.formats.collapsed import read_collapsed, write_collapsed
from workbench.formats.wbs import SCHEMA_VERSION, SessionStore, load_session, save_session
from workbench.model import (
    CPU_NS,
    SAMPLES,
    EventBatch,
    Finding,
    FindingsBatch,
    Frame,
    Profile,
    ProfileBatch,
    Runtime,
    SeriesBatch,
    SeriesPoint,
    Session,
    stackset_from_lists,
)

COLLAPSED = b"""main;serve;handle;db.query 120
main;serve;handle;json.dumps 30
main;serve;handle 7
main;gc 3
worker;loop;sleep 1000000000000
main;<script>alert(1)</script>;x\xc3\xa9 5
"""


def collapsed_lines(text):
    return sorted(line for line in text.splitlines() if line.strip())


def test_collapsed_round_trip_keeps_every_stack_and_total(tmp_path):
    prof = read_collapsed(COLLAPSED, name="in.collapsed")
    s = Session()
    s.profiles["in"] = prof
    path = tmp_path / "s.wbs"
    save_session(s, path)
    back = load_session(path).profiles["in"]
    assert collapsed_lines(write_collapsed(back)) == collapsed_lines(write_collapsed(prof))
    assert back.totals().tolist() == prof.totals().tolist()
    assert back.sample_types == prof.sample_types
    assert not list(tmp_path.glob("*.tmp*"))


def _frames(names):
    return [Frame(n, f"{n}.py", i + 1, "m", Runtime.PYTHON) for i, n in enumerate(names)]


def _batch(key, names, value, t0, *, types=(SAMPLES,), replace=False, meta=None):
    p = Profile(list(types))
    ids = [p.frames.intern(f) for f in _frames(names)]
    ss = stackset_from_lists(p.frames, [ids], [[value] * len(types)])
    return ProfileBatch(key, tuple(types), ss, t0, t0 + 1, source="test", meta=meta or {}, replace=replace)


def _full_session():
    s = Session()
    s.info.title = "demo"
    s.info.targets = ["pid:1"]
    for i in range(20):
        s.put(_batch("pyspy:1:cpu", ["main", f"f{i % 3}"], 1.0 + i, 100.0 + i, meta={"rate": "100"}))
        s.put(SeriesBatch([SeriesPoint("process.rss_bytes", 100.0 + i, 1e6 * i, "bytes")]))
    s.put(_batch("pprof:x:heap", ["a", "b"], 5, 100, types=(CPU_NS, SAMPLES)))
    s.put(_batch("pprof:x:heap", ["a", "c"], 7, 110, types=(CPU_NS, SAMPLES), replace=True))
    f = Finding("map", "Hub.clients", "hub.go:12", 120.5, "entries/min", 0.9, "grew 20 of 20 steps", target="x")
    s.put(FindingsBatch([f]))
    s.put(EventBatch(105.0, "capture", "started <b>", "pid:1"))
    return s


def _assert_same(a, b):
    assert a.info.title == b.info.title and a.info.targets == b.info.targets
    assert sorted(a.profiles) == sorted(b.profiles)
    for k, pa in a.profiles.items():
        pb = b.profiles[k]
        assert collapsed_lines(write_collapsed(pa)) == collapsed_lines(write_collapsed(pb))
        for i in range(len(pa.sample_types)):
            assert collapsed_lines(write_collapsed(pa, i)) == collapsed_lines(write_collapsed(pb, i))
        assert pa.meta == pb.meta and pa.source == pb.source and pa.sample_types == pb.sample_types
        assert (pa.time_start, pa.time_end) == (pb.time_start, pb.time_end)
        assert pa.cut(105, 110).totals().tolist() == pb.cut(105, 110).totals().tolist()
    assert sorted(a.series) == sorted(b.series)
    for name, sa in a.series.items():
        sb = b.series[name]
        assert sa.unit == sb.unit
        np.testing.assert_array_equal(sa.buckets(), sb.buckets())
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]
    assert a.events == b.events


def test_save_and_load_whole_session(tmp_path):
    s = _full_session()
    save_session(s, tmp_path / "a.wbs")
    back = load_session(tmp_path / "a.wbs")
    _assert_same(s, back)
    heap = back.profiles["pprof:x:heap"]
    assert heap.totals().tolist() == [7, 7]  # replaced, not added
    # a reopened session still cuts by time
    assert back.profiles["pyspy:1:cpu"].cut(100, 102).totals()[0] == 1 + 2


def test_store_attached_live_matches_session(tmp_path):
    s = Session()
    s.put(_batch("pyspy:1:cpu", ["main", "early"], 3, 90))  # before attach
    s.put(SeriesBatch([SeriesPoint("go.goroutines", 90.0, 4.0, "count")]))
    path = tmp_path / "live.wbs"
    store = SessionStore(path, commit_interval_s=0.05)
    store.attach(s)
    for i in range(20):
        s.put(_batch("pyspy:1:cpu", ["main", f"f{i % 3}"], 1.0 + i, 100.0 + i))
        s.put(SeriesBatch([SeriesPoint("go.goroutines", 100.0 + i, float(i), "count")]))
    s.put(_batch("pprof:x:heap", ["a", "b"], 5, 100, types=(CPU_NS, SAMPLES)))
    s.put(_batch("pprof:x:heap", ["a", "c"], 7, 110, types=(CPU_NS, SAMPLES), replace=True))
    s.put(FindingsBatch([Finding("buffer", "buf", "w.py:1", 1, "items/min", 0.5, "e", target="t")]))
    s.put(FindingsBatch([Finding("list", "l2", "w.py:2", 2, "items/min", 0.6, "e", target="t")], replace_target="t"))
    s.profiles["pyspy:1:cpu"].period = 10_000_000.0
    assert store.flush()
    mid = load_session(path)  # readable while the writer is open
    assert mid.profiles["pyspy:1:cpu"].totals()[0] == s.profiles["pyspy:1:cpu"].totals()[0]
    assert mid.series["go.goroutines"].total_points == 21
    store.close()
    back = load_session(path)
    _assert_same(s, back)
    assert [f.name for f in back.findings] == ["l2"]
    assert back.profiles["pyspy:1:cpu"].period == 10_000_000.0
    with sqlite3.connect(path) as conn:  # compact storage: one row per batch, not per sample
        assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] == 21 + 1
        assert conn.execute("SELECT count(*) FROM series_chunks").fetchone()[0] == 0  # folded at close


def test_series_survive_downsampling(tmp_path):
    s = Session(series_capacity=16)
    for i in range(100):
        s.put(SeriesBatch([SeriesPoint("process.cpu_percent", float(i), float(i % 7), "percent")]))
    save_session(s, tmp_path / "s.wbs")
    back = load_session(tmp_path / "s.wbs").series["process.cpu_percent"]
    orig = s.series["process.cpu_percent"]
    np.testing.assert_array_equal(back.buckets(), orig.buckets())
    assert back.total_points == 100 and back.last() == orig.last() and back.capacity == 16


def _make_v0(path):
    """A session as the pre-release v0 schema wrote it (no events, fewer profile columns)."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE frames (id INTEGER PRIMARY KEY, function TEXT NOT NULL, file TEXT NOT NULL,
            line INTEGER NOT NULL, module TEXT NOT NULL, runtime TEXT NOT NULL);
        CREATE TABLE profiles (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
            source TEXT NOT NULL, sample_types TEXT NOT NULL, period REAL NOT NULL DEFAULT 0, period_type TEXT,
            duration_ns INTEGER NOT NULL DEFAULT 0, meta TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE batches (id INTEGER PRIMARY KEY, profile_id INTEGER NOT NULL, t0 REAL, t1 REAL,
            n_stacks INTEGER NOT NULL, n_frames INTEGER NOT NULL,
            lengths BLOB NOT NULL, frames BLOB NOT NULL, vals BLOB NOT NULL);
        CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, unit TEXT NOT NULL,
            capacity INTEGER NOT NULL, n_buckets INTEGER NOT NULL DEFAULT 0, buckets BLOB);
        CREATE TABLE series_chunks (id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL, n INTEGER NOT NULL,
            t BLOB NOT NULL, v BLOB NOT NULL);
        CREATE TABLE findings (id INTEGER PRIMARY KEY, target TEXT NOT NULL, data TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '0'), ('title', 'old');
        INSERT INTO frames VALUES (0, 'main', 'm.py', 1, '', 'python'), (1, 'work', 'm.py', 9, '', 'python');
        INSERT INTO profiles (id, key, name, source, sample_types) VALUES (1, 'p', 'p', 'old', '[["samples","count"]]');
        """
    )

    def z(a, dt):
        return zlib.compress(np.asarray(a, dtype=dt).tobytes())

    conn.execute(
        "INSERT INTO batches (profile_id, t0, t1, n_stacks, n_frames, lengths, frames, vals)"
        " VALUES (1, 5, 6, 2, 3, ?, ?, ?)",
        (z([1, 2], "<u4"), z([0, 0, 1], "<u4"), z([4, 6], "<f8")),
    )
    conn.execute("INSERT INTO series (name, unit, capacity) VALUES ('x', 'count', 64)")
    conn.execute(
        "INSERT INTO series_chunks (series_id, n, t, v) VALUES (1, 2, ?, ?)", (z([1, 2], "<f8"), z([3, 4], "<f8"))
    )
    conn.execute(
        "INSERT INTO findings (target, data) VALUES ('', ?)",
        (json.dumps(Finding("set", "s", "w", 1, "u", 0.1, "e").to_dict()),),
    )
    conn.commit()
    conn.close()


def test_migration_v0_to_v1(tmp_path):
    path = tmp_path / "old.wbs"
    _make_v0(path)
    s = load_session(path)
    p = s.profiles["p"]
    stacks = sorted(
        (tuple(f.function for f in p.stack_frames(int(n))), p.self_values[n, 0]) for n in range(1, p.n_nodes)
    )
    assert stacks == [(("main",), 4.0), (("main", "work"), 6.0)]
    assert p.default_sample_type == 0 and p.cut(5, 6).totals()[0] == 10
    assert s.series["x"].values.tolist() == [3, 4]
    assert s.findings[0].name == "s" and s.events == [] and s.info.title == "old"
    with sqlite3.connect(path) as conn:  # the user's file is not rewritten by opening it
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "0"


def test_bad_files_give_format_errors_with_a_fix(tmp_path):
    cases = {}
    cases["text.wbs"] = b"main;a 1\n"
    cases["empty.wbs"] = b""
    cases["truncated.wbs"] = b"SQLite format 3\x00" + b"\x00" * 50
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    other = tmp_path / "other.wbs"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    newer = tmp_path / "newer.wbs"
    save_session(_full_session(), newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    corrupt = tmp_path / "corrupt.wbs"
    save_session(_full_session(), corrupt)
    with sqlite3.connect(corrupt) as conn:
        conn.execute("UPDATE batches SET vals = ?", (zlib.compress(b"\x00" * 10**6),))
    badframe = tmp_path / "badframe.wbs"
    save_session(_full_session(), badframe)
    with sqlite3.connect(badframe) as conn:
        conn.execute("UPDATE batches SET frames = ?", (zlib.compress(np.full(2, 10**6, "<u4").tobytes()),))
    half = tmp_path / "half.wbs"
    half.write_bytes(newer.read_bytes()[:3000])
    paths = [*(tmp_path / n for n in cases), other, newer, corrupt, badframe, half, tmp_path / "missing.wbs"]
    for path in paths:
        with pytest.raises(FormatError) as err:
            load_session(path)
        text = str(err.value)
        assert "fix:" in text and "\n" not in text, text
        if path == newer:
            assert "newer workbench" in text


def test_store_refuses_unwritable_target(tmp_path):
    with pytest.raises(FormatError, match="cannot create session file"):
        SessionStore(tmp_path / "no" / "such" / "dir.wbs")
    with pytest.raises(FormatError, match="directory"):
        SessionStore(tmp_path)


def test_compaction_bounds_rows_and_keeps_content(tmp_path):
    s = Session(series_capacity=32)
    path = tmp_path / "long.wbs"
    store = SessionStore(path, commit_interval_s=0.05, compact_batches=16, compact_chunks=8)
    store.attach(s)
    for i in range(200):
        s.put(_batch("pyspy:1:cpu", ["main", f"f{i % 5}"], 1.0, float(i)))
        s.put(SeriesBatch([SeriesPoint("process.threads", float(i), float(i % 9), "count")]))
    assert store.flush()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM batches").fetchone()[0] < 200 + 16
        assert conn.execute("SELECT count(*) FROM series_chunks").fetchone()[0] < 8
    mid = load_session(path)  # a crash now would reopen to exactly this
    _assert_same(s, mid)
    store.close()
    _assert_same(s, load_session(path))


def test_names_with_lone_surrogates_survive(tmp_path):
    odd = "caf\udcff\ud800"  # undecodable bytes from a file name or a target's memory
    s = Session()
    p = Profile([SAMPLES], name=odd, source=odd)
    p.add_stack([Frame(odd, odd, 1, odd), Frame("ok")], [2], t0=1, t1=2)
    s.profiles[odd] = p
    s.info.title = odd
    s.put(SeriesBatch([SeriesPoint(f"pool.{odd}.open", 1.0, 3.0, odd)]))
    s.put(EventBatch(1.0, odd, odd, odd))
    s.put(FindingsBatch([Finding("map", odd, odd, 1.0, odd, 0.5, odd, target=odd)], replace_target=odd))
    save_session(s, tmp_path / "odd.wbs")
    back = load_session(tmp_path / "odd.wbs")
    _assert_same(s, back)
    assert back.profiles[odd].stack_frames(2)[0] == Frame(odd, odd, 1, odd)


def test_writer_failure_surfaces_at_close_without_breaking_capture(tmp_path):
    s = Session()
    store = SessionStore(tmp_path / "f.wbs", max_queue=4)
    store.attach(s)
    p = Profile([SAMPLES])
    fid = p.frames.intern(Frame("a", line=2**70))  # fine in memory, too big for an SQLite integer
    s.put(ProfileBatch("k", (SAMPLES,), stackset_from_lists(p.frames, [[fid]], [[1.0]]), 0.0, 1.0))
    for i in range(50):  # more than the queue holds: capture must not block on a dead writer
        s.put(_batch("k", ["a"], 1, float(i)))
    assert not store.flush()
    with pytest.raises(FormatError, match="cannot write session file") as err:
        store.close()
    assert "fix:" in str(err.value)
    store.close()  # idempotent


def test_live_batches_keep_attributes_of_the_attach_snapshot(tmp_path):
    s = Session()
    s.put(_batch("src:1:k", ["a"], 1, 0.0))
    s.profiles["src:1:k"].period = 1e7
    store = SessionStore(tmp_path / "m.wbs", compact_batches=10)
    store.attach(s)
    s.put(_batch("src:1:k", ["a"], 1, 1.0, meta={"rate": "100"}))
    s.put(_batch("src:1:k", ["b"], 1, 2.0, meta={"rate": "200"}))  # the session keeps the latest meta
    assert store.flush()
    mid = load_session(tmp_path / "m.wbs").profiles["src:1:k"]  # as a crash would leave it
    assert mid.period == 1e7 and mid.meta == {"rate": "200"} and mid.totals()[0] == 3
    store.close()

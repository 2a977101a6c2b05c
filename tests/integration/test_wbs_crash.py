"""Crash safety of the .wbs store: a writer killed with SIGKILL mid-stream keeps every committed batch."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from workbench.formats.wbs import load_session

CHILD = textwrap.dedent(
    """
    import sys, time
    from workbench.formats.wbs import SessionStore
    from workbench.model import SAMPLES, Frame, FrameTable, ProfileBatch, SeriesBatch, SeriesPoint, Session
    from workbench.model import stackset_from_lists

    s = Session()
    store = SessionStore(sys.argv[1], compact_batches=97, compact_chunks=50)  # compaction mid-stream too
    store.attach(s)
    table = FrameTable()
    main = table.intern(Frame("main"))
    i = 0
    while True:
        f = table.intern(Frame(f"f{i}"))
        ss = stackset_from_lists(table, [[main, f]], [[1.0]])
        s.put(ProfileBatch("pyspy:1:cpu", (SAMPLES,), ss, float(i), float(i) + 1, source="pyspy"))
        s.put(SeriesBatch([SeriesPoint("process.rss_bytes", float(i), float(i), "bytes")]))
        i += 1
        if i % 150 == 0:
            store.flush()  # returns once everything put so far is committed
            print(f"committed {i}", flush=True)
        time.sleep(0.0005)
    """
)


def test_sigkill_mid_stream_keeps_every_committed_batch(tmp_path):
    path = tmp_path / "crash.wbs"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    committed = 0
    try:
        while committed < 450:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read()}"
            committed = int(line.split()[1])
        os.kill(proc.pid, signal.SIGKILL)  # while it keeps writing
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    s = load_session(path)
    prof = s.profiles["pyspy:1:cpu"]
    got = sorted(
        int(prof.frames[int(prof.frame[n])].function[1:]) for n in range(1, prof.n_nodes) if prof.depth[n] == 2
    )
    n = len(got)
    # everything committed is there, and what is there is a gap-free prefix (no half batch)
    assert n >= committed
    assert got == list(range(n))
    assert prof.totals()[0] == n
    assert prof.cut(0, committed).totals()[0] == committed
    series = s.series["process.rss_bytes"]
    assert series.total_points in (n - 1, n)
    assert series.values.tolist() == [float(i) for i in range(series.total_points)]

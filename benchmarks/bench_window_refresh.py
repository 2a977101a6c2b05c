"""The window's whole live refresh: ``MainWindow.refresh`` on a session growing live, as % of a core.

The real ``MainWindow`` (offscreen, shown) watches a session fed the way a capture feeds
it: a 10k-node CPU profile gets a 200-sample batch at 4 Hz, 40 series (process.*,
python.gc.*, pool.*) get a point each per second, with a heap profile whose in-use grows
so the leak judge has something to judge. The window's own timer is stopped; ``refresh``
is called at its real rate (``REFRESH_MS``) with its back-off rules, so one tick does
everything the timer tick does: profile list, findings and leak judging, timeline, the
flame graph (snapshot copy, layout, paint) and, in the second pass, the top table.
CPU time of the whole process (jobs in worker threads included) over the wall time,
less the time spent building and merging the batches (a capture's cost, not the window's).

Budget (README): under 10 % of one core.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_window_refresh.py [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import budget
import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from tests.helpers.gui import synthetic_profile
from workbench.model import (
    INUSE_SPACE,
    SAMPLES,
    ProfileBatch,
    ProfileKey,
    SeriesBatch,
    SeriesPoint,
    Session,
    stackset_from_lists,
)
from workbench.ui import main_window

HZ = 4.0
BUDGET_PCT = 10.0
SERIES = [f"process.{n}" for n in ("cpu_percent", "rss_bytes", "uss_bytes", "threads", "fds")]
SERIES += [f"python.gc.gen{g}.collections" for g in range(3)] + [f"pool.db{i}.wait_count" for i in range(32)]


def one_pass(seconds: float, top_tab: bool) -> float:
    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="bench-refresh-")) / "s.ini"), QSettings.Format.IniFormat)
    session = Session()
    win = main_window.MainWindow(session=session, settings=settings)
    for timer in win.findChildren(main_window.QTimer):
        timer.stop()  # refresh is called below at the timer's rate; nothing else may call it
    win.show()
    if top_tab:
        win.tabs.setCurrentWidget(win.top)
    base = synthetic_profile(10_000, seed=5)
    leaves = np.flatnonzero(base.self_values[:, 0] > 0)
    rng = np.random.default_rng(2)
    cpu_key = ProfileKey.parse("pyspy:4242:cpu")
    heap_key = ProfileKey.parse("memray:4242:inuse")
    heap_stacks = [[base.frames.intern(base.frames[i]) for i in range(3)], [base.frames.intern(base.frames[3])]]
    t_start = time.time()
    next_refresh = next_batch = next_series = time.monotonic()
    end = next_batch + seconds
    feed = 0.0  # building and merging the batches: the capture's cost, not the window's
    c0 = time.process_time()
    w0 = time.monotonic()
    tick = 0
    while (now := time.monotonic()) < end:
        t = t_start + (now - w0)
        f0 = time.thread_time()
        if now >= next_batch:
            pick = rng.choice(leaves, 200)
            paths = base.paths(pick.astype(np.int64))
            ss = stackset_from_lists(
                base.frames, [paths.stack(i).tolist() for i in range(len(paths))], np.ones((200, 1))
            )
            session.put(ProfileBatch(cpu_key, (SAMPLES,), ss, t, t + 1 / HZ, source="pyspy", runtime="python"))
            next_batch += 1 / HZ
        if now >= next_series:
            tick += 1
            session.put(SeriesBatch([SeriesPoint(n, t, float(tick * (i + 1))) for i, n in enumerate(SERIES)]))
            grow = np.array([[1e6 * tick], [1e5]])  # one site keeps growing: a leak to judge
            hs = stackset_from_lists(base.frames, heap_stacks, grow)
            session.put(
                ProfileBatch(heap_key, (INUSE_SPACE,), hs, t, t, source="memray", replace=True, runtime="python")
            )
            next_series += 1.0
        feed += time.thread_time() - f0
        if now >= next_refresh:
            win.refresh()
            next_refresh += main_window.REFRESH_MS / 1000
        app.processEvents()
        time.sleep(0.005)
    cpu = time.process_time() - c0 - feed
    wall = time.monotonic() - w0
    win.close()
    win.deleteLater()
    app.processEvents()
    return 100.0 * cpu / wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="passes per tab (median reported)")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of one pass")
    args = ap.parse_args()
    for top_tab in (False, True):
        tab = "top table" if top_tab else "flame graph"
        pcts = [one_pass(args.seconds, top_tab) for _ in range(args.runs)]
        pct = statistics.median(pcts)
        runs = ", ".join(f"{p:.1f}" for p in pcts)
        print(f"window refresh, {tab} tab, 10k-node profile at {HZ:.0f} Hz + 40 series: {pct:.1f} % of a core ({runs})")
        budget.check(f"live window refresh ({tab} tab), % of one core", pct, BUDGET_PCT, unit=" %")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return budget.exit_code()


if __name__ == "__main__":
    sys.exit(main())

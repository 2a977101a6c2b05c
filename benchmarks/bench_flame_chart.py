"""Flame chart (time order) on an hour-long session: layout + paint.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_flame_chart.py [--runs N] [--threads 20]

Builds what a one-hour py-spy capture leaves in a session: 3600 one-second batches of a
service at 100 Hz whose request handlers change over the hour (a few thousand distinct
stacks, depth ~25), added through ``Session.put`` with the default profile limits (so
the old slices are coarsened and the slice entries capped as in a live session). Then it
times, best of N (ms, wall / cpu), on a 1600 px wide chart:
  - layout of the whole hour, and of a 5-minute and a 10-second brush,
  - paint of each (QPainter into an image, the widget's own paintEvent),
  - the window's zoom path: layout + paint after a wheel step.
Budget: a wheel step on the whole hour (layout + paint) within 100 ms of CPU: the chart
follows the mouse wheel without a visible stall (a flame graph re-layout of a new
profile, the nearest anchor, is ~100 ms at 100k nodes in bench_flamegraph.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import budget
import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from workbench.analysis.flamechart import chart_layout
from workbench.analysis.layout import name_ranks
from workbench.model import CPU_NS, Frame, FrameTable, ProfileBatch, ProfileKey, Runtime, Session, stackset_from_lists
from workbench.ui.flame_chart import FlameChartWidget

W, H = 1600, 900
HOUR = 3600
BUDGET_MS = 100.0


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append((time.perf_counter() - t0) * 1e3)
        cpus.append((time.process_time() - c0) * 1e3)
    return min(walls), min(cpus)


def hour_session(seed: int = 7, per_second: int = 100) -> tuple[Session, str, float]:
    """One hour of 1-second py-spy-like batches; returns (session, profile key, start time)."""
    rng = np.random.default_rng(seed)
    table = FrameTable()

    def fid(name: str, mod: str) -> int:
        return table.intern(Frame(name, f"/srv/app/{mod}.py", 10 + len(name), mod, Runtime.PYTHON))

    trunk = [fid(n, "server") for n in ("<module>", "serve_forever", "_handle_request", "process_request", "dispatch")]
    handlers = [fid(f"handler_{i}", f"views{i % 7}") for i in range(40)]
    inner = [fid(f"step_{i}", f"lib{i % 13}") for i in range(600)]
    # each handler has a few fixed deep paths (a service's stacks repeat)
    paths: list[list[list[int]]] = []
    for h in handlers:
        ps = []
        for _ in range(60):
            depth = int(rng.integers(8, 20))
            ps.append([*trunk, h, *rng.choice(inner, depth).tolist()])
        paths.append(ps)
    key = ProfileKey("pyspy", "4242", "cpu")
    s = Session()
    start = 1_700_000_000.0
    hot = rng.choice(40, 4, replace=False)
    for sec in range(HOUR):
        if sec % 300 == 0:  # the hot handlers change every 5 minutes: what happened when is visible
            hot = rng.choice(40, 4, replace=False)
        picks = rng.choice(hot, per_second)
        stacks = [paths[int(h)][int(rng.integers(0, 60))] for h in picks]
        busy = 0.2 + 0.8 * (0.5 + 0.5 * np.sin(sec / 300.0))
        vals = np.full((per_second, 1), 1e7 * busy)
        ss = stackset_from_lists(table, stacks, vals)
        s.put(ProfileBatch(key, (CPU_NS,), ss, start + sec, start + sec + 1.0, source="pyspy"))
    return s, key.text, start


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7, help="runs per timing (best of)")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    t = time.perf_counter()
    session, key, start = hour_session()
    p = session.snapshot_profile(key)
    assert p is not None
    entries = sum(len(sl.nodes) for sl in p.slices)
    print(f"flame chart benchmark, {W}x{H} px, best of {args.runs} (ms: wall / cpu)")
    print(
        f"hour-long session built in {time.perf_counter() - t:.1f} s: {p.n_nodes:,} nodes, "
        f"{len(p.slices)} time slices holding {entries:,} (node, value) entries"
    )
    ranks = name_ranks(p.frames)
    views = {
        "whole hour": (start, start + HOUR),
        "5-minute brush": (start + 1800, start + 2100),
        "10-second brush": (start + 1800, start + 1810),
    }
    w = FlameChartWidget()
    w.resize(W, H)
    w.set_profile(p)
    img = QImage(W, H, QImage.Format.Format_ARGB32_Premultiplied)
    for name, view in views.items():
        lay = chart_layout(p, 0, view, float(W), ranks=ranks)
        t_lay = best(lambda v=view: chart_layout(p, 0, v, float(W), ranks=ranks), args.runs)
        w.set_view(view)
        w.render(img)  # layout cached from here on: time the paint alone

        def paint() -> None:
            w.render(img)

        t_paint = best(paint, args.runs)
        print(
            f"  {name:16s} layout {t_lay[0]:7.1f} / {t_lay[1]:7.1f}   paint {t_paint[0]:7.1f} / {t_paint[1]:7.1f}"
            f"   {len(lay):6d} boxes, {len(lay.columns)} columns, {lay.rows} rows"
        )
    # the zoom path: a wheel step re-lays out and paints (nothing cached for the new range)
    w.set_view(views["whole hour"])
    w.render(img)
    steps = [0]

    def wheel() -> None:
        steps[0] += 1
        f = 1.25 if steps[0] % 2 else 0.8  # in and out, so the range stays about an hour
        w.zoom(f, 0.37)
        w.render(img)

    t_zoom = best(wheel, args.runs)
    print(f"  wheel step on the whole hour (layout + paint) {t_zoom[0]:7.1f} / {t_zoom[1]:7.1f}")
    budget.check("flame chart wheel step on an hour of samples (cpu)", t_zoom[1], BUDGET_MS, unit=" ms")
    w.deleteLater()
    del app
    return budget.exit_code()


if __name__ == "__main__":
    sys.exit(main())

"""Opening a big profile in the GUI: time to the first painted flame graph, against ``go tool pprof -top``.

The real ``MainWindow`` (offscreen, shown) opens each file with ``open_files`` as File >
Open does: the reading runs in a worker job while the status bar's busy bar shows; the
clock stops when the flame graph widget has painted the opened profile (a ``grab()``
after it is set). The anchor is ``go tool pprof -top FILE`` as a whole command on the
same data: for the pprof file that file itself; for the collapsed file (pprof cannot read
collapsed stacks) the same stacks converted to ``.pb.gz`` by ``workbench convert``.

Files: the Go heap profile of ``bench_pprof_decode.py`` (``--stacks`` call paths, made by
benchmarks/go/bigpprof) and the 9 MB long-names collapsed shape of ``gen_shapes.py``.
Budget (README): first flame graph no later than ``go tool pprof -top`` prints; the busy
bar is visible while the file is read. Medians of ``--runs``.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui_open.py [--runs 3] [--stacks 200000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import budget  # noqa: E402
import gen_shapes  # noqa: E402
from bench_pprof_decode import make_profile  # noqa: E402


def go_top_seconds(src: Path, runs: int, home: Path) -> float:
    go = shutil.which("go")
    if go is None:
        sys.exit("bench_gui_open: needs the go toolchain (apt-get install golang-go)")
    env = {**os.environ, "HOME": str(home)}
    walls = []
    for i in range(runs + 1):
        t = time.perf_counter()
        subprocess.run([go, "tool", "pprof", "-top", str(src)], env=env, check=True, capture_output=True)
        if i:  # the first run builds go's tool cache
            walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def open_in_window(path: Path) -> tuple[float, bool, int]:
    """(seconds to the first painted flame graph, busy bar seen while reading, nodes shown)."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from workbench.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="bench-gui-")) / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    win.show()
    app.processEvents()
    t0 = time.perf_counter()
    win.open_files([str(path)])
    busy_seen = False
    deadline = t0 + 300
    while win.flame.profile is None and time.perf_counter() < deadline:
        busy_seen = busy_seen or not win.busy_bar.isHidden()
        app.processEvents()
        time.sleep(0.002)
    if win.flame.profile is None:
        sys.exit(f"bench_gui_open: {path.name} did not open in 300 s")
    win.flame.grab()  # the first paint of the opened profile
    elapsed = time.perf_counter() - t0
    nodes = win.flame.profile.n_nodes
    win.close()
    win.deleteLater()
    app.processEvents()
    return elapsed, busy_seen, nodes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="opens per file (median reported)")
    ap.add_argument("--stacks", type=int, default=200_000, help="call paths in the generated Go heap profile")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gui-open-") as tmp_s:
        tmp = Path(tmp_s)
        heap = make_profile(args.stacks, "heap")
        collapsed = gen_shapes.ensure("long-names")
        as_pprof = tmp / "long-names.pb.gz"
        wb = str(Path(sys.executable).with_name("workbench"))
        subprocess.run([wb, "convert", str(collapsed), str(as_pprof)], check=True, capture_output=True)
        print(f"{'file':<34} {'MB':>5} {'nodes':>9} {'first flame s':>13} {'go tool pprof -top s':>20}  busy bar")
        for path, anchor in ((heap, heap), (collapsed, as_pprof)):
            go_s = go_top_seconds(anchor, args.runs, tmp)
            opens = [open_in_window(path) for _ in range(args.runs)]
            gui_s = statistics.median(o[0] for o in opens)
            busy = all(o[1] for o in opens)
            mb = path.stat().st_size / 1e6
            print(f"{path.name:<34} {mb:>5.1f} {opens[0][2]:>9,} {gui_s:>13.2f} {go_s:>20.2f}  {busy}")
            budget.check(f"gui open {path.name}: first flame graph vs go tool pprof -top", gui_s, go_s, unit=" s")
            if busy:
                print(f"BUDGET gui open {path.name} busy bar: PASS shown while reading")
            else:
                budget.fail(f"gui open {path.name} busy bar", "not shown while reading")
        load = os.getloadavg()
        print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; medians of {args.runs}")
    return budget.exit_code()


if __name__ == "__main__":
    sys.exit(main())

"""Node inspector and DevTools import: numbers printed, nothing asserted.

1. Attach: seconds from ``plugin.start`` to the first CPU window in the session.
2. Target overhead: the test service's CPU seconds over 10 s, alone and under capture
   (CPU sampling at 1 kHz, heap sampling at 32 KiB, heap polls at 1 Hz); the workbench's
   own CPU seconds over the same window.
3. Heap snapshot summary: a snapshot of a Node process holding N objects in a Map, read
   by our streaming summary and by the naive way (``json.load`` of the whole file), each
   in a fresh interpreter: wall seconds and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench_builtins.inspector import plugin  # noqa: E402

from tests.node.nodesvc import node_exe, start_service  # noqa: E402
from workbench.capture.api import Target  # noqa: E402
from workbench.model import Session  # noqa: E402

WINDOW_S = 10.0


def _cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def attach_and_overhead() -> None:
    svc = start_service("--inspect=127.0.0.1:0")
    try:
        time.sleep(2.0)  # past start-up and first optimisation
        c0 = _cpu_s(svc.pid)
        time.sleep(WINDOW_S)
        alone = _cpu_s(svc.pid) - c0
        session = Session()
        t0 = time.perf_counter()
        handle = plugin.start(Target.from_pid(svc.pid), {"window": 1.0}, session)
        attach_s = time.perf_counter() - t0
        key = f"inspector:{svc.pid}:cpu"
        while key not in session.profiles and time.perf_counter() - t0 < 10:
            time.sleep(0.01)
        first_s = time.perf_counter() - t0
        c0, w0 = _cpu_s(svc.pid), time.process_time()
        time.sleep(WINDOW_S)
        under = _cpu_s(svc.pid) - c0
        ours = time.process_time() - w0
        handle.stop()
        print(f"attach (start returned): {attach_s:.3f} s; first CPU window in the session: {first_s:.3f} s")
        print(
            f"target CPU over {WINDOW_S:.0f} s: alone {alone:.2f} s, under capture {under:.2f} s "
            f"(+{(under - alone) / WINDOW_S * 100:.1f}% of a core); workbench {ours:.2f} s "
            f"({ours / WINDOW_S * 100:.1f}% of a core)"
        )
    finally:
        svc.stop()


_READ_OURS = """
import resource, sys, time
from workbench.formats.devtools import summarize_heapsnapshot
t = time.perf_counter(); rows = summarize_heapsnapshot(sys.argv[1]); dt = time.perf_counter() - t
top = dict((n, c) for n, _, c in rows)
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, top.get("Client", 0))
"""
_READ_PATHS = """
import resource, sys, time
from workbench.formats.devtools import scan_heapsnapshot
t = time.perf_counter(); rows, paths = scan_heapsnapshot(sys.argv[1], retainers=20); dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "|".join(paths.get("Client", [])).replace(" ", "_"))
"""
_READ_NAIVE = """
import json, resource, sys, time
t = time.perf_counter()
with open(sys.argv[1], "rb") as fh: doc = json.load(fh)
dt = time.perf_counter() - t
print(dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(doc["nodes"]))
"""


def snapshot_summary(n_objects: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        snap = Path(d) / "big.heapsnapshot"
        script = (
            "class Client { constructor(i) { this.id = i; this.name = 'c' + i; } }\n"
            f"const m = new Map(); for (let i = 0; i < {n_objects}; i++) m.set(i, new Client(i));\n"
            f"require('v8').writeHeapSnapshot({json.dumps(str(snap))});\n"
        )
        subprocess.run([node_exe(), "-e", script], check=True, timeout=600)
        size_mb = snap.stat().st_size / 1e6
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        runs = (
            ("streaming summary", _READ_OURS),
            ("summary + retainer paths of the top 20 (what info/convert/GUI do)", _READ_PATHS),
            ("json.load (naive)", _READ_NAIVE),
        )
        for label, code in runs:
            out = subprocess.run(
                [sys.executable, "-c", code, str(snap)],
                capture_output=True,
                text=True,
                env=env,
                timeout=900,
                check=True,
            ).stdout.split()
            dt, rss_kb, extra = float(out[0]), int(out[1]), out[2]
            print(f"{size_mb:.0f} MB snapshot, {label}: {dt:.2f} s, peak RSS {rss_kb / 1024:.0f} MiB ({extra})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=1, help="attach + overhead measurements")
    ap.add_argument("--snapshot-only", action="store_true")
    args = ap.parse_args()
    for _ in range(0 if args.snapshot_only else args.runs):
        attach_and_overhead()
    snapshot_summary(int(os.environ.get("WB_BENCH_SNAPSHOT_OBJECTS", "1000000")))


if __name__ == "__main__":
    main()

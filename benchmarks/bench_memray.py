"""memray live capture: attach time, snapshot latency against heap size, target slowdown.

Prints numbers and ratios and checks the README budget (attach to first snapshot under
2 s, median of ``--runs``). Run: ``.venv/bin/python benchmarks/bench_memray.py [--runs 10]``
(``--quick`` for fewer sizes). The reference for slowdown is memray's own overhead:
the same workload under ``memray run -o FILE`` (file mode, memray's usual use).
memray's payload is injected by whichever debugger the workbench picks (gdb, or lldb
where gdb cannot call into processes: ``workbench_builtins.debugger``; ``WB_DEBUGGER``
forces one); the run prints which.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import budget
from workbench_builtins import debugger

from workbench.capture import Target, default_registry
from workbench.model import Session

PY = sys.executable
MEMRAY = str(Path(PY).with_name("memray"))

# Holds N live allocations (520 B each: above pymalloc's 512 B, so memray sees every one) spread over S distinct stacks (S generated functions), on command.
HEAP_TARGET = """
import select, sys
held = []
funcs = []
for i in range({sites}):
    ns = {{}}
    exec(f"def site_{{i}}(out, n):\\n    for _ in range(n):\\n        out.append(bytearray(520))\\n", ns)
    funcs.append(ns[f"site_{{i}}"])
print("ready", flush=True)
while True:
    # poll, never block in read(): gdb can only attach while Python code runs
    if not select.select([sys.stdin], [], [], 0.05)[0]:
        continue
    line = sys.stdin.readline()
    if not line:
        break
    n = int(line)
    held.clear()
    per = max(1, n // len(funcs))
    for f in funcs:
        f(held, per)
    print("held", len(held), flush=True)
"""

# A mixed workload (small objects through pymalloc, 1-4 kB buffers through malloc);
# prints iterations per CPU-second of the whole process (all threads: memray's writer
# thread counts too), which a loaded machine does not distort the way wall time would.
WORKLOAD = """
import time
def work():
    keep = []
    for i in range(400):
        keep.append({"i": i, "v": [i, i + 1]})
        keep.append(bytearray(1024 + (i % 4) * 1024))
    return len(keep)
print("ready", flush=True)
while True:
    c = time.process_time(); n = 0
    while time.process_time() - c < 0.5:
        work(); n += 1
    print(f"{time.time():.3f} {round(n / (time.process_time() - c))}", flush=True)
"""


def start(cmd: list[str], stdin: bool = False) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.strip() == "ready", line
    return p


def stop(p: subprocess.Popen[str]) -> None:
    p.kill()
    p.communicate()


def wait_samples(handle, n: int, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while handle.status().samples < n and handle.status().running and time.monotonic() < end:
        time.sleep(0.02)
    st = handle.status()
    if st.samples < n:  # a failed attach must not be timed as a fast one
        raise SystemExit(f"bench_memray: no snapshot ({st.error or 'timed out'})")


def bench_attach(repeats: int) -> float:
    plugin = default_registry().load("memray")
    print("== attach (preflight + debugger injection + reader connected + first snapshot)")
    rows = []
    details: list[dict[str, float]] = []
    for _ in range(repeats):
        p = start([PY, "-c", WORKLOAD])
        try:
            t0 = time.perf_counter()
            plugin.preflight(Target.from_pid(p.pid))
            t_pre = time.perf_counter() - t0
            s = Session()
            h = plugin.start(Target.from_pid(p.pid), {"interval": 0.1}, s)
            wait_samples(h, 1)
            t_first = time.perf_counter() - t0
            extra = h.status().extra
            attach_s = float(extra.get("attach_s", float("nan")))
            parts = dict(extra.get("attach_timings", {}))
            parts["helper_start"] = float(extra.get("helper_start_s", float("nan")))
            t1 = time.perf_counter()
            h.stop()
            t_stop = time.perf_counter() - t1
            rows.append((t_pre, attach_s, t_first, t_stop))
            details.append(parts)
        finally:
            stop(p)
    for name, i in (("preflight", 0), ("inject+connect (helper)", 1), ("to first snapshot", 2), ("stop+detach", 3)):
        vals = [r[i] for r in rows]
        print(f"  {name:26s} median {statistics.median(vals):6.2f} s   min {min(vals):6.2f}   max {max(vals):6.2f}")
    # inside the helper: its start-up, the debugger (the helper calls it gdb_s whichever it is;
    # memray imported meanwhile: overlap), the target's side-channel connection, memray
    # starting in the target (listen), the reader connecting
    for key in ("helper_start", "overlap_s", "gdb_s", "accept_s", "listen_s", "connect_s"):
        vals = [float(d[key]) for d in details if key in d]
        if vals:
            name = "  " + ("debugger" if key == "gdb_s" else key.removesuffix("_s"))
            print(f"  {name:26s} median {statistics.median(vals):6.2f} s   min {min(vals):6.2f}   max {max(vals):6.2f}")
    print(f"  budget: attach to first view < 2 s; load average now {os.getloadavg()[0]:.1f}")
    return statistics.median(r[2] for r in rows)


def bench_snapshot(sizes: list[int], sites: list[int]) -> None:
    plugin = default_registry().load("memray")
    print("== snapshot latency vs heap (helper: aggregate in the child; batch: decode + session, in the workbench)")
    print(
        f"  {'sites':>6s} {'live allocs':>12s} {'heap MB':>8s} {'nodes':>8s} {'helper ms':>10s} {'batch ms':>10s} {'batch kB':>9s}"
    )
    for n_sites in sites:
        p = start([PY, "-c", HEAP_TARGET.format(sites=n_sites)], stdin=True)
        assert p.stdin is not None and p.stdout is not None
        s = Session()
        h = plugin.start(Target.from_pid(p.pid), {"interval": 0.5}, s)
        try:
            wait_samples(h, 1)
            for n in sizes:
                p.stdin.write(f"{n}\n")
                p.stdin.flush()
                p.stdout.readline()
                base = h.status().samples
                wait_samples(h, base + 2)  # one full interval after the heap was built
                st = h.status()
                key = f"memray:{p.pid}:heap"
                prof = s.snapshot_profile(key)
                heap = float(st.extra.get("heap_bytes", 0))
                lat = float(st.extra.get("snapshot_latency_s", 0)) * 1e3
                # workbench side: JSON decode, batch build and the session's tree rebuild
                decode = float(st.extra.get("batch_s", 0)) * 1e3
                kb = float(st.extra.get("batch_bytes", 0)) / 1e3
                recs = prof.n_nodes if prof is not None else 0
                print(f"  {n_sites:6d} {n:12d} {heap / 1e6:8.1f} {recs:8d} {lat:10.1f} {decode:10.1f} {kb:9.1f}")
        finally:
            h.stop()
            stop(p)


def rate(p: subprocess.Popen[str], seconds: int) -> float:
    """Median rate over windows that started after now (older lines wait in the pipe)."""
    assert p.stdout is not None
    since = time.time() + 0.1
    vals: list[int] = []
    while len(vals) < 2 * seconds:
        ts, value = p.stdout.readline().split()
        if float(ts) - 0.5 >= since:  # the window began after `since`
            vals.append(int(value))
    return statistics.median(vals)


def bench_slowdown(seconds: int) -> None:
    plugin = default_registry().load("memray")
    print("== target slowdown (workload iterations per CPU-second of the target, median of 0.5 s windows)")
    p = start([PY, "-c", WORKLOAD])
    base = rate(p, seconds)
    s = Session()
    h = plugin.start(Target.from_pid(p.pid), {"interval": 1.0}, s)
    wait_samples(h, 1)
    live = rate(p, seconds)
    h.stop()
    time.sleep(2.0)  # memray's deactivation frees its tracker state just after detach
    after = rate(p, seconds)
    stop(p)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "w.py"
        src.write_text(WORKLOAD)
        p = start([MEMRAY, "run", "-q", "-f", "-o", str(Path(tmp) / "w.bin"), str(src)])
        ref = rate(p, seconds)
        stop(p)
    print(f"  unprofiled               {base:8.0f} it/cpu-s")
    print(f"  workbench memray live    {live:8.0f} it/cpu-s   slowdown x{base / live:.2f}")
    print(f"  after detach             {after:8.0f} it/cpu-s   x{base / after:.2f} (should be ~1)")
    print(f"  memray run -o (reference){ref:8.0f} it/cpu-s   slowdown x{base / ref:.2f}")
    print(f"  workbench vs memray's own overhead: x{ref / live:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=10, help="attaches timed (median reported)")
    args = ap.parse_args()
    print(f"memray benchmark; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    choice = debugger.choose()
    if not choice.ok:  # the budget cannot be checked: a miss, not a pass
        budget.fail("memray attach to first snapshot", f"no debugger can inject here: {choice.reason}; {choice.fix}")
        return budget.exit_code()
    print(f"injecting with {choice.name}: {choice.reason}")
    first = bench_attach(args.runs)
    if args.quick:
        bench_snapshot([10_000, 100_000], [10, 1000])
    else:
        bench_snapshot([10_000, 50_000, 150_000], [10, 1000, 10_000])
    bench_slowdown(3 if args.quick else 5)
    budget.check(f"memray attach to first snapshot (median of {args.runs})", first, 2.0, unit=" s")
    return budget.exit_code()


if __name__ == "__main__":
    sys.exit(main())

"""Live py-spy capture costs on real child processes (prints numbers, asserts nothing).

1. Attach to first flame graph: ``start()`` to the first ProfileBatch in the session
   (budget: under 2 s); and for ``--demo``, starting the demo service to its first batch.
2. Coverage at 100 Hz on a busy single-thread target and on a 50-thread target:
   sampling ticks received / expected over the capture (the workbench's rolling chunks),
   plus the share of wall time inside some py-spy recording, py-spy's own error count,
   and batches dropped by the session.
3. Target slowdown: a fixed amount of work timed inside the target, unprofiled, under one
   continuous ``py-spy record`` (the backend's own overhead, the anchor), and under the
   workbench's live capture, blocking and ``--nonblocking``.
4. The workbench's own CPU while live: this process (controller + parsing threads) and
   the py-spy processes it ran, as % of one core.

Run: ``.venv/bin/python benchmarks/bench_live_pyspy.py [--seconds 10]``
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import budget  # noqa: E402  (sibling script: BUDGET lines and the exit code)
from workbench_builtins.pyspy.binary import find_pyspy  # noqa: E402

from tests.helpers.targets import HOT, start_target, stop_target  # noqa: E402
from workbench.capture import Target, default_registry  # noqa: E402
from workbench.model import ProfileBatch, Session  # noqa: E402

WORK = r"""
import sys, time

def unit():
    x = 0
    for i in range(20_000):
        x += i * i % 7
    return x

print("TARGET_READY", flush=True)
sys.stdin.readline()
t = time.perf_counter()
for _ in range(int(sys.argv[1])):
    unit()
print(f"ELAPSED {time.perf_counter() - t:.6f} {time.process_time():.6f}", flush=True)
sys.stdin.readline()
"""

MANY_THREADS = r"""
import threading

def busy(n):
    x = 0
    while True:
        for i in range(2_000):
            x += i % (n + 1)

for n in range(50):
    threading.Thread(target=busy, args=(n,), name=f"worker-{n}", daemon=True).start()
print("TARGET_READY", flush=True)
threading.Event().wait()
"""


def _note_profile_batch(seen: list[float], batch: object) -> None:
    if isinstance(batch, ProfileBatch):
        seen.append(time.perf_counter())


def first_batch_latency(repeats: int) -> list[float]:
    plugin = default_registry().load("pyspy")
    out = []
    for _ in range(repeats):
        proc = start_target(HOT)
        try:
            session = Session()
            seen: list[float] = []
            session.add_listener(functools.partial(_note_profile_batch, seen))
            t0 = time.perf_counter()
            h = plugin.start(Target.from_pid(proc.pid), {}, session)
            while not seen and h.status().running:
                time.sleep(0.005)
            h.stop()
            out.append(seen[0] - t0 if seen else float("nan"))
        finally:
            stop_target(proc)
    return out


def demo_to_first_batch(repeats: int) -> list[tuple[float, float]]:
    """(start_demo() seconds, start_demo() -> first py-spy batch seconds): the non-GUI part of --demo."""
    from workbench.demo.launch import start_demo

    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        demo = start_demo()
        t1 = time.perf_counter()
        session = Session()
        seen: list[float] = []
        session.add_listener(functools.partial(_note_profile_batch, seen))
        handle = default_registry().load("pyspy").start(Target.from_pid(demo.pid), {}, session)
        try:
            while not seen and handle.status().running:
                time.sleep(0.005)
        finally:
            handle.stop()
            demo.stop()
        out.append((t1 - t0, (seen[0] if seen else float("nan")) - t0))
    return out


def coverage_run(source: str, seconds: float, options: dict[str, object]) -> dict[str, float]:
    plugin = default_registry().load("pyspy")
    proc = start_target(source)
    try:
        session = Session()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        h = plugin.start(Target.from_pid(proc.pid), {"rate": 100, **options}, session)
        time.sleep(seconds)
        h.stop()
        wall = time.perf_counter() - wall0
        cpu_self = time.process_time() - cpu0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_children = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        st = h.status()
        return {
            "coverage": st.coverage or 0.0,
            "busiest": st.extra.get("busiest_thread_coverage") or 0.0,
            "window_coverage": st.extra.get("window_coverage") or 0.0,
            "samples": st.samples,
            "batches": st.batches,
            "chunks": st.extra.get("chunks", 0),
            "pyspy_errors": st.extra.get("pyspy_errors", 0),
            "dropped": sum(session.dropped.values()),
            "self_cpu_pct": 100 * cpu_self / wall,
            "pyspy_cpu_pct": 100 * cpu_children / wall,
        }
    finally:
        stop_target(proc)


def timed_work(units: int, mode: str, pyspy: Path) -> float:
    """Seconds the target needs for ``units`` of work under ``mode``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORK, str(units)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    spy: subprocess.Popen[bytes] | None = None
    handle = None
    stack = contextlib.ExitStack()
    try:
        assert "TARGET_READY" in proc.stdout.readline()
        if mode == "py-spy record":
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            spy = subprocess.Popen(
                [str(pyspy), "record", "--pid", str(proc.pid), "-f", "raw", "-r", "100", "-o", f"{tmp}/o.txt"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            assert spy.stdout is not None
            spy.stdout.readline()  # "Sampling process ..."
        elif mode.startswith("workbench"):
            opts = {"rate": 100, "nonblocking": mode.endswith("nonblocking")}
            session = Session()
            handle = default_registry().load("pyspy").start(Target.from_pid(proc.pid), opts, session)
            while not handle.status().extra.get("attach_s"):
                time.sleep(0.01)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        return float(line.split()[1])  # wall: includes the pauses of blocking sampling
    finally:
        if handle is not None:
            handle.stop()
        if spy is not None:
            spy.send_signal(2)
            spy.wait(10)
            if spy.stdout is not None:
                spy.stdout.close()
        proc.kill()
        proc.wait()
        stack.close()


def soak(seconds: float) -> None:
    """The workbench's own RSS while py-spy + procstats stay attached to the demo service."""
    import psutil

    from workbench.demo.launch import start_demo

    me = psutil.Process()
    demo = start_demo()
    session = Session()
    handles = [default_registry().load(n).start(Target.from_pid(demo.pid), {}, session) for n in ("pyspy", "procstats")]
    try:
        t0 = time.perf_counter()
        marks = []
        while (elapsed := time.perf_counter() - t0) < seconds:
            time.sleep(min(10.0, seconds - elapsed))
            prof = session.profiles.get(f"pyspy:{demo.pid}:cpu")
            marks.append((time.perf_counter() - t0, me.memory_info().rss, len(prof.slices) if prof else 0))
    finally:
        for h in handles:
            h.stop()
        demo.stop()
    for t, rss, slices in marks:
        print(f"soak t={t:5.0f} s: workbench RSS {rss / 2**20:.1f} MiB, time slices {slices}")
    st = handles[0].status()
    print(f"soak: {st.samples} samples, coverage {st.coverage or 0:.1%}, {st.batches} batches")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", "--repeats", dest="repeats", type=int, default=3, help="attaches timed (median)")
    ap.add_argument("--units", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=8, help="interleaved rounds of the slowdown measurement")
    ap.add_argument("--only-slowdown", action="store_true")
    ap.add_argument("--soak", type=float, default=0.0, help="also run a soak of this many seconds on the demo")
    args = ap.parse_args()
    pyspy = find_pyspy()
    if args.soak:
        soak(args.soak)
    if args.only_slowdown:
        slowdown(args, pyspy)
        sys.exit(budget.exit_code())

    lat = first_batch_latency(args.repeats)
    print(
        f"attach -> first flame graph batch: median {statistics.median(lat):.3f} s  (runs: "
        + ", ".join(f"{x:.3f}" for x in lat)
        + ")  budget 2 s"
    )
    budget.check("py-spy attach to first flame graph batch (median)", statistics.median(lat), 2.0, unit=" s")

    demo = demo_to_first_batch(args.repeats)
    start_s = statistics.median(d[0] for d in demo)
    first_s = statistics.median(d[1] for d in demo)
    print(f"demo: start_demo() median {start_s:.3f} s, start_demo() -> first flame graph batch median {first_s:.3f} s")

    for label, src, opts in (
        ("1 busy thread, blocking", HOT, {}),
        ("1 busy thread, --nonblocking", HOT, {"nonblocking": True}),
        ("50 busy threads, blocking", MANY_THREADS, {}),
        ("50 busy threads, --nonblocking", MANY_THREADS, {"nonblocking": True}),
    ):
        r = coverage_run(src, args.seconds, opts)
        print(
            f"coverage @100 Hz, {label}: {r['coverage']:.1%} (busiest thread seen in {r['busiest']:.1%} of intervals), "
            f"wall time inside a recording {r['window_coverage']:.1%}, "
            f"{r['samples']} traces, {r['batches']} batches / {r['chunks']} py-spy runs, "
            f"py-spy sample errors {r['pyspy_errors']}, batches dropped {r['dropped']}; "
            f"workbench CPU {r['self_cpu_pct']:.1f}% of a core (+ py-spy {r['pyspy_cpu_pct']:.1f}%)"
        )
        if label.startswith("50"):
            budget.check(f"py-spy 100 Hz, {label}: batches dropped", r["dropped"], 0)

    slowdown(args, pyspy)
    sys.exit(budget.exit_code())


def slowdown(args: argparse.Namespace, pyspy: Path) -> None:
    modes = ["unprofiled", "py-spy record", "workbench blocking", "workbench nonblocking"]
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for m in modes:  # interleaved, so load drift on a shared machine hits every mode alike
            times[m].append(timed_work(args.units, m, pyspy))
    for m in modes:
        # per-round ratio to the unprofiled run of the same round, then the median
        ratios = [t / b for t, b in zip(times[m], times["unprofiled"], strict=True)]
        print(
            f"target work time, {m}: median {statistics.median(times[m]):.3f} s, "
            f"median ratio to unprofiled {statistics.median(ratios):.2f}x "
            f"(rounds: {min(ratios):.2f}x..{max(ratios):.2f}x)"
        )
    # overhead no higher than the backend's own: the live chain against one py-spy record,
    # 10 % slack for round-to-round noise on a shared machine
    ref = statistics.median(t / b for t, b in zip(times["py-spy record"], times["unprofiled"], strict=True))
    for m in ("workbench blocking", "workbench nonblocking"):
        ours = statistics.median(t / b for t, b in zip(times[m], times["unprofiled"], strict=True))
        budget.check(f"target slowdown, {m} vs py-spy record", ours, ref * 1.10, unit="x")


if __name__ == "__main__":
    main()

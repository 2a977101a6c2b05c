"""Long-session soak: does the workbench's own memory stay flat? (prints numbers, asserts nothing)

Two modes, both sampling this process's RSS (psutil) as the session grows:

* ``synthetic`` (default): an hour (``--hours``) of live capture compressed into a
  short run by feeding batches as fast as the session and the ``.wbs`` store take
  them: every simulated second one CPU ProfileBatch (``--stacks`` stacks drawn from a
  bounded set of call paths, like a service's steady state), points for ``--series``
  series (process.*, python.gc.*, pool.*), and a findings/event batch a minute. The
  session store writes all of it to a real ``.wbs`` file (compaction included).
* ``live``: real py-spy at ``--rate`` Hz plus procstats at 20 Hz on a busy target for
  ``--seconds`` of wall time, into a Session with the ``.wbs`` store attached.

Growth is measured from the end of the warm-up (``--warmup`` of the run: caches,
numpy pools, SQLite page cache and the series rings filling up) to the end. Budget:
under 5%. The series ring buffers (downsampled, fixed capacity) and the per-profile
caps (nodes, frames, coarsened time slices) are what keep it flat.

Run: ``.venv/bin/python benchmarks/bench_soak.py [--hours 2 --warmup 0.5] [--mode live --seconds 120]`` (budget: RSS growth after warm-up < 5 %)
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import budget  # noqa: E402  (sibling script: BUDGET lines and the exit code)

from workbench.formats.wbs import SessionStore, load_session  # noqa: E402
from workbench.model import (  # noqa: E402
    SAMPLES,
    EventBatch,
    Frame,
    FrameTable,
    ProfileBatch,
    SeriesBatch,
    SeriesPoint,
    Session,
    stackset_from_lists,
)

MiB = 1024 * 1024


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def series_names(n: int) -> list[str]:
    base = ["process.cpu_percent", "process.rss_bytes", "process.threads", "process.fds", "python.gc.pause_s"]
    base += [f"python.gc.gen{g}.collections" for g in range(3)]
    pools = [f"pool.db{i}.{m}" for i in range(n) for m in ("open", "in_use", "idle", "wait_count", "wait_s")]
    return (base + pools)[:n]


def call_paths(rng: random.Random, n_paths: int, n_funcs: int) -> list[list[Frame]]:
    funcs = [Frame(f"handler_{i}", f"svc/mod{i % 40}.py", 10 + i % 300) for i in range(n_funcs)]
    paths = []
    for _ in range(n_paths):
        depth = rng.randint(5, 40)
        paths.append([funcs[0], *rng.sample(funcs[1:], depth)])
    return paths


def synthetic(args: argparse.Namespace, out: Path) -> list[tuple[float, int]]:
    rng = random.Random(1)
    names = series_names(args.series)
    paths = call_paths(rng, 3000, 2000)
    session = Session()
    store = SessionStore(str(out)) if not args.no_store else None
    if store is not None:
        store.attach(session)
    seconds = int(args.hours * 3600)
    t0 = time.time()
    samples: list[tuple[float, int]] = [(0.0, rss())]
    every = max(1, seconds // 60)  # 60 readings over the run
    for s in range(seconds):
        t = t0 + s
        table = FrameTable()
        chosen = [paths[rng.randrange(len(paths))] for _ in range(args.stacks)]
        stacks = stackset_from_lists(
            table, [[table.intern(f) for f in p] for p in chosen], [[float(rng.randint(1, 5))] for _ in chosen]
        )
        session.put(ProfileBatch("pyspy:1:cpu", (SAMPLES,), stacks, t, t + 1.0, source="pyspy"))
        session.put(SeriesBatch([SeriesPoint(n, t, rng.random() * 100, "") for n in names]))
        if s % 60 == 0:
            session.put(EventBatch(t, "note", f"minute {s // 60}"))
        if (s + 1) % every == 0:
            if store is not None:
                store.flush()
            samples.append(((s + 1) / seconds, rss()))
    if store is not None:
        store.close()
    else:
        from workbench.formats.wbs import save_session

        save_session(session, str(out))
    return samples


def live(args: argparse.Namespace, out: Path) -> list[tuple[float, int]]:
    from tests.helpers.targets import TWO_THREADS, start_target, stop_target
    from workbench.capture import Target, default_registry, resolve_options

    proc = start_target(TWO_THREADS)
    registry = default_registry()
    session = Session()
    store = SessionStore(str(out))
    store.attach(session)
    handles = []
    try:
        for name, opts in (("pyspy", {"rate": args.rate}), ("procstats", {"interval": 0.05})):
            plugin = registry.load(name)
            handles.append(plugin.start(Target.from_pid(proc.pid), resolve_options(plugin, opts), session))
        samples: list[tuple[float, int]] = [(0.0, rss())]
        start = time.monotonic()
        step = args.seconds / 60
        for i in range(1, 61):
            time.sleep(max(0.0, start + i * step - time.monotonic()))
            samples.append((i / 60, rss()))
    finally:
        for h in handles:
            h.stop()
        store.close()
        stop_target(proc)
    return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["synthetic", "live"], default="synthetic")
    ap.add_argument("--hours", type=float, default=2.0, help="simulated hours (synthetic)")
    ap.add_argument("--stacks", type=int, default=200, help="stacks per simulated second (synthetic)")
    ap.add_argument("--series", type=int, default=40, help="series fed every simulated second (synthetic)")
    ap.add_argument("--no-store", action="store_true", help="no .wbs store while feeding (synthetic)")
    ap.add_argument("--seconds", type=float, default=120.0, help="wall seconds (live)")
    ap.add_argument("--rate", type=int, default=1000, help="py-spy Hz (live)")
    ap.add_argument("--warmup", type=float, default=0.5, help="share of the run counted as warm-up")
    ap.add_argument("--runs", type=int, default=1, help="whole soaks run, one after the other")
    args = ap.parse_args()
    for _ in range(args.runs):
        soak_once(args)
    return budget.exit_code()


def soak_once(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "soak.wbs"
        wall = time.monotonic()
        samples = synthetic(args, out) if args.mode == "synthetic" else live(args, out)
        wall = time.monotonic() - wall
        size = out.stat().st_size
        reopened = load_session(str(out))
        profiles = {k: reopened.profiles[k].n_nodes for k in reopened.profile_keys()}
    after = [r for f, r in samples if f >= args.warmup]
    warm, end, peak = after[0], samples[-1][1], max(after)
    growth = (end - warm) / warm * 100
    print(
        f"soak ({args.mode}): {wall:.1f} s wall, {len(samples)} RSS readings; .wbs {size / MiB:.1f} MiB; nodes {profiles}"
    )
    print(f"  RSS start {samples[0][1] / MiB:.1f} MiB, after warm-up {warm / MiB:.1f} MiB, ", end="")
    print(f"end {end / MiB:.1f} MiB, peak after warm-up {peak / MiB:.1f} MiB")
    print(f"  growth after warm-up: {growth:+.2f}% (peak {(peak - warm) / warm * 100:+.2f}%; budget < 5%)")
    budget.check(f"soak ({args.mode}) RSS growth after warm-up", growth, 5.0, unit=" %")
    print(
        "  readings (share of run: MiB): "
        + ", ".join(f"{f:.2f}:{r / MiB:.0f}" for f, r in samples[:: max(1, len(samples) // 12)])
    )


if __name__ == "__main__":
    sys.exit(main())

"""Run every benchmarks/bench_*.py and check every README budget (``make bench``).

Each script prints its figures and one ``BUDGET <name>: PASS|FAIL ...`` line per README
budget it measures (``budget.py``), and exits non-zero on a miss. This runner runs them
one at a time (so they do not skew each other), collects the BUDGET lines into a summary,
and exits non-zero if any script failed or missed a budget.

  --runs N            passed to every script (each takes its run count as ``--runs``)
  --only NAME         only the scripts whose file name contains NAME (repeatable)
  --budget-scale X    every budget X times stricter (``--budget-scale 1000`` must fail)

    .venv/bin/python benchmarks/run_all.py [--runs N] [--only NAME] [--budget-scale X]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", default=[], help="substring of the script names to run")
    ap.add_argument("--runs", type=int, default=None, help="run count passed to every script")
    ap.add_argument("--budget-scale", type=float, default=None, help="make every budget this many times stricter")
    args = ap.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(o in s.name for o in args.only)]
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    if args.budget_scale is not None:
        env["WORKBENCH_BENCH_BUDGET_SCALE"] = str(args.budget_scale)
    failed: list[str] = []
    budgets: list[str] = []
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at start", flush=True)
    for script in scripts:
        print(f"==> {script.name}", flush=True)
        cmd = [sys.executable, str(script)] + (["--runs", str(args.runs)] if args.runs else [])
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=HERE.parent, env=env, stdout=subprocess.PIPE, text=True, bufsize=1)
        assert proc.stdout is not None
        for line in proc.stdout:  # echo live, keep the verdicts
            print(line, end="", flush=True)
            if line.startswith("BUDGET "):
                budgets.append(f"{script.name}: {line.strip().removeprefix('BUDGET ')}")
        rc = proc.wait()
        print(f"<== {script.name}: exit {rc} in {time.perf_counter() - t:.1f} s\n", flush=True)
        if rc != 0:
            failed.append(script.name)
    print("budgets:")
    for b in budgets:
        print(f"  {b}")
    missed = [b for b in budgets if ": FAIL" in b]
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    if failed or missed:
        print(f"failed: {', '.join(failed)} ({len(missed)} budget(s) missed)", file=sys.stderr)
        return 1
    print(f"all {len(scripts)} benchmarks ran; {len(budgets)} budgets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())

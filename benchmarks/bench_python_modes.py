"""Python profile modes against their anchors, in one run (issue 19; prints BUDGET lines).

On tests/py/poolsvc.py (GIL-bound handlers hashing in ``compute_report``, queueing for a
3-connection pool, 8 clients), for each run:

- the process's CPU time over each capture (utime+stime of /proc/PID/stat): the anchor for
  how much CPU a CPU profile may hold;
- ``py-spy record --gil`` (raw, run directly): the anchor for ``compute_report``'s share;
- ``py-spy record`` default (its own idle guess), run directly;
- the workbench's default CPU profile (``record --pid``: native-stack state, cut per thread to
  its CPU time) and its wall profile (``record --pid --profile wall``).

Each mode prints its ``compute_report`` share and its CPU seconds next to the anchors.
Budgets (README "Python profile modes"): the workbench CPU profile's CPU within 15 % of the
process's CPU time, and ``compute_report`` at 70 % or more of it.

Run: ``.venv/bin/python benchmarks/bench_python_modes.py [--runs 1] [--seconds 5]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import budget  # noqa: E402
from workbench_builtins.pyspy.binary import find_pyspy  # noqa: E402

from tests.helpers.poolsvc import run_poolsvc  # noqa: E402

CLK_TCK = 100.0


def proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    f = data[data.rfind(b")") + 2 :].split()
    import os

    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def read_collapsed(path: Path) -> tuple[float, float]:
    """(total samples, samples in compute_report) of a collapsed/raw file."""
    total = hit = 0.0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        total += float(n)
        if "compute_report" in stack:
            hit += float(n)
    return total, hit


def pyspy_direct(pid: int, seconds: float, out: Path, *flags: str) -> None:
    cmd = [str(find_pyspy()), "record", "--pid", str(pid), "-d", str(int(seconds)), "-f", "raw", "-o", str(out)]
    subprocess.run([*cmd, "--function", *flags], capture_output=True, check=True, timeout=seconds + 60)


def workbench(pid: int, seconds: float, out: Path, *flags: str) -> None:
    cmd = [sys.executable, "-m", "workbench.cli.main", "record", "--pid", str(pid), "-d", str(seconds)]
    subprocess.run([*cmd, *flags, "-o", str(out)], capture_output=True, check=True, timeout=seconds + 120)


def one_run(seconds: float, tmp: Path) -> dict[str, tuple[float, float, float]]:
    """mode -> (compute_report share, profile CPU s (samples * 10 ms), process CPU s over it)."""
    res: dict[str, tuple[float, float, float]] = {}
    with run_poolsvc() as proc:
        time.sleep(1.0)
        modes = (
            ("py-spy --gil (anchor)", lambda o: pyspy_direct(proc.pid, seconds, o, "--gil")),
            ("py-spy default", lambda o: pyspy_direct(proc.pid, seconds, o)),
            ("workbench cpu", lambda o: workbench(proc.pid, seconds, o)),
            ("workbench wall", lambda o: workbench(proc.pid, seconds, o, "--profile", "wall")),
        )
        for name, fn in modes:
            out = tmp / (name.replace(" ", "_").replace("-", "") + ".txt")
            c0 = proc_cpu_s(proc.pid)
            t0 = time.monotonic()
            fn(out)
            # the workbench's record adds interpreter start-up around its capture: CPU over the
            # capture itself is approximated by the rate over the whole call times the duration
            c1, t1 = proc_cpu_s(proc.pid), time.monotonic()
            total, hit = read_collapsed(out)
            res[name] = (hit / total if total else 0.0, total / 100.0, (c1 - c0) / (t1 - t0) * seconds)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    runs: list[dict[str, tuple[float, float, float]]] = []
    with tempfile.TemporaryDirectory(prefix="wb-bench-pymodes-") as d:
        for _ in range(args.runs):
            runs.append(one_run(args.seconds, Path(d)))
    print(f"{'mode':<24}{'compute_report':>16}{'profile CPU s':>15}{'process CPU s':>15}")
    for name in runs[0]:
        share = statistics.median(r[name][0] for r in runs)
        prof = statistics.median(r[name][1] for r in runs)
        cpu = statistics.median(r[name][2] for r in runs)
        shown = "(wall)" if "wall" in name else f"{prof:.2f}"
        print(f"{name:<24}{100 * share:>15.1f}%{shown:>15}{cpu:>15.2f}")
    wb = [r["workbench cpu"] for r in runs]
    err = statistics.median(abs(p - c) / c for _s, p, c in wb if c > 0)
    budget.check("python cpu profile vs process CPU time", 100 * err, 15.0, unit="%")
    budget.check(
        "python cpu profile compute_report share",
        100 * statistics.median(s for s, _p, _c in wb),
        70.0,
        higher_is_better=True,
        unit="%",
    )
    return budget.exit_code()


if __name__ == "__main__":
    sys.exit(main())

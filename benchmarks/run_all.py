"""Run every benchmarks/bench_*.py in turn and print its output (``make bench``).

Each script prints its own numbers and ratios; this runner only sequences them (one at
a time, so they do not skew each other), reports failures and exits non-zero if any
script failed. ``--only NAME`` runs the scripts whose file name contains NAME.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", action="append", default=[], help="substring of the script names to run")
    args = ap.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.only:
        scripts = [s for s in scripts if any(o in s.name for o in args.only)]
    failed: list[str] = []
    for script in scripts:
        print(f"==> {script.name}", flush=True)
        t = time.perf_counter()
        rc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False).returncode
        print(f"<== {script.name}: exit {rc} in {time.perf_counter() - t:.1f} s\n", flush=True)
        if rc != 0:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(scripts)} benchmarks ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Leak engine on the labelled scenario services: precision, recall and time to first verdict.

Runs the Go suite (pprof heap + goroutine profiles), the Python suite (runtime agent
container census) and the Node suite (inspector heap sampling, containers named from heap
snapshot retainer paths) live, judging every 3 s, and prints one table row per labelled
container. Target: precision and recall 1.0, every leak flagged in under 60 s.
The agent is injected by whichever debugger the workbench picks (gdb, or lldb where gdb
cannot call into processes: ``workbench_builtins.debugger``; ``WB_DEBUGGER`` forces one).

    .venv/bin/python benchmarks/bench_leaks.py [DURATION] [--runs 1]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))
import budget
from workbench_builtins import debugger

from tests.leaks.scenario import (
    GO_LABELS,
    NODE_LABELS,
    PY_LABELS,
    build_go_leaksvc,
    run_go_suite,
    run_node_suite,
    run_py_suite,
)


def table(res, labels) -> None:  # type: ignore[no-untyped-def]
    p, r = res.scores(labels)
    budget.check(f"leaks {res.suite} precision", p, 1.0, higher_is_better=True)
    budget.check(f"leaks {res.suite} recall", r, 1.0, higher_is_better=True)
    print(f"\n{res.suite} suite: precision {p:.2f}  recall {r:.2f}  ({res.duration_s:.0f} s watched)")
    print(f"  {'scenario':34s} {'truth':6s} {'flagged':8s} first verdict")
    for lab, (_, leak) in labels.items():
        flagged = bool(res.flagged.get(lab))
        first = res.first_flag_s.get(lab)
        ok = "" if flagged == leak else "  <- wrong"
        print(f"  {lab:34s} {'leak' if leak else 'decoy':6s} {flagged!s:8s} "
              f"{f'{first:.0f} s' if first is not None else '-'}{ok}")  # fmt: skip
    if res.unlabelled_suspects:
        print(f"  other suspects: {', '.join(res.unlabelled_suspects)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("duration", nargs="?", type=float, default=60.0, help="seconds each suite is watched")
    ap.add_argument("--runs", type=int, default=1, help="times each suite is run (every run is judged)")
    args = ap.parse_args()
    for _ in range(args.runs):
        run_suites(args.duration)
    return budget.exit_code()


def run_suites(duration: float) -> None:
    if shutil.which("go"):
        with tempfile.TemporaryDirectory() as d:
            table(run_go_suite(build_go_leaksvc(Path(d)), duration_s=duration), GO_LABELS)
    else:
        budget.fail("leaks go precision", "go is not installed (apt-get install golang-go)")
    choice = debugger.choose()
    if choice.ok:
        print(f"python suite: the agent is injected with {choice.name} ({choice.reason})")
        table(run_py_suite(duration_s=duration), PY_LABELS)
    else:  # a budget this run cannot check is a miss, not a pass
        budget.fail("leaks python precision", f"no debugger can inject the agent here: {choice.reason}; {choice.fix}")
    if shutil.which("node"):
        table(run_node_suite(duration_s=duration), NODE_LABELS)
    else:
        budget.fail("leaks node precision", "node is not installed (apt-get install nodejs)")


if __name__ == "__main__":
    sys.exit(main())

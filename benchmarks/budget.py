"""Budget checks shared by the benchmarks: one ``BUDGET`` line per README budget, and the exit code.

Each benchmark calls ``check(name, measured, limit, ...)`` for every budget it measures;
the line it prints (``BUDGET <name>: PASS|FAIL measured ... limit ...``) is what
``run_all.py`` collects, and ``exit_code()`` is non-zero if any check failed.

``WORKBENCH_BENCH_BUDGET_SCALE`` (``run_all.py --budget-scale``) makes every limit
stricter by that factor (ratios must be that many times higher, times that many times
lower), so ``--budget-scale 1000`` shows that a broken budget fails the run.
"""

from __future__ import annotations

import os
import sys

_failed: list[str] = []


def scale() -> float:
    return float(os.environ.get("WORKBENCH_BENCH_BUDGET_SCALE", "1") or 1)


def check(name: str, measured: float, limit: float, *, higher_is_better: bool = False, unit: str = "") -> bool:
    """Print one BUDGET line; ``limit`` is the README's (scaled here); True if within it."""
    s = scale()
    lim = limit * s if higher_is_better else limit / s
    ok = measured >= lim if higher_is_better else measured <= lim
    rel = ">=" if higher_is_better else "<="
    verdict = "PASS" if ok else "FAIL"
    scaled = f" (README {limit:g}{unit}, scaled x{s:g})" if s != 1 else ""
    print(f"BUDGET {name}: {verdict} measured {measured:.3g}{unit}, budget {rel} {lim:.3g}{unit}{scaled}", flush=True)
    if not ok:
        _failed.append(name)
    return ok


def fail(name: str, why: str) -> None:
    """A budget that is a condition, not a number (e.g. a progress bar shown)."""
    print(f"BUDGET {name}: FAIL {why}", flush=True)
    _failed.append(name)


def exit_code() -> int:
    if _failed:
        print(f"budgets missed: {', '.join(_failed)}", file=sys.stderr)
        return 1
    return 0

"""The pool-saturation finding: a pool pinned at its max while callers queue for it.

Per pool we keep the last few observations (a bounded deque). A pool is saturated
when, over at least ``min_polls`` consecutive polls spanning ``min_span_s``, every
observation has all ``max_open`` connections in use and the wait count rose from the
first to the last. Idle connections at max, or a max of 0 (unlimited), never qualify.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from workbench.model import Finding

from .pools import PoolSample

FIX_TEXT = "pool saturated: raise SetMaxOpenConns or cut hold time"
MAX_POOLS_WATCHED = 256
_HISTORY = 32


@dataclass(frozen=True, slots=True)
class _Obs:
    t: float
    in_use: float
    open: float
    max_open: float
    wait_count: float
    wait_s: float | None


def _at_max(o: _Obs) -> bool:
    return o.max_open > 0 and (o.in_use >= o.max_open or (o.open >= o.max_open and o.in_use >= o.open))


class SaturationWatch:
    def __init__(self, target: str, min_polls: int = 3, min_span_s: float = 1.5, reemit_s: float = 10.0) -> None:
        self.target = target
        self.min_polls = min_polls
        self.min_span_s = min_span_s
        self.reemit_s = reemit_s
        self._hist: dict[str, deque[_Obs]] = {}
        self._last_emit: dict[str, float] = {}

    def finding_target(self, pool: str) -> str:
        """Each pool's finding has its own target id, so a re-emit replaces exactly it."""
        return f"{self.target}#pool:{pool}"

    def update(self, s: PoolSample, t: float) -> Finding | None:
        """Record one observation; a Finding when the pool is (still) saturated and one is due."""
        if s.in_use is None or s.max_open is None or s.wait_count is None:
            return None
        hist = self._hist.get(s.name)
        if hist is None:
            if len(self._hist) >= MAX_POOLS_WATCHED:
                return None
            hist = self._hist[s.name] = deque(maxlen=_HISTORY)
        hist.append(_Obs(t, s.in_use, s.open if s.open is not None else s.in_use, s.max_open, s.wait_count, s.wait_s))
        run: list[_Obs] = []
        for o in reversed(hist):  # the newest consecutive saturated stretch
            if not _at_max(o):
                break
            run.append(o)
        run.reverse()
        if len(run) < self.min_polls:
            return None
        first, last = run[0], run[-1]
        span = last.t - first.t
        waits = last.wait_count - first.wait_count
        if span < self.min_span_s or waits <= 0:
            return None
        prev = self._last_emit.get(s.name)
        if prev is not None and t - prev < self.reemit_s:
            return None
        self._last_emit[s.name] = t
        per_min = waits / span * 60.0
        waited = ""
        if first.wait_s is not None and last.wait_s is not None:
            dw = last.wait_s - first.wait_s
            waited = f"; callers waited {dw:.2f} s in total ({dw / span:.2f} s per second)"
        evidence = (
            f"{last.in_use:.0f} of {last.max_open:.0f} connections in use for {len(run)} polls over {span:.1f} s;"
            f" wait count rose by {waits:.0f} ({per_min:.0f}/min){waited}. {FIX_TEXT}"
        )
        # more polls at max and a steeper wait rate make the verdict firmer
        confidence = min(0.95, 0.6 + 0.05 * (len(run) - self.min_polls) + min(0.2, waits / 100.0))
        return Finding(
            kind="pool",
            name=s.name,
            where=f"{self.target} {s.where}".strip(),
            growth_per_min=per_min,
            unit="waits",
            confidence=round(confidence, 2),
            evidence=evidence,
            target=self.finding_target(s.name),
            t=t,
            sparkline=[o.in_use for o in hist],
        )

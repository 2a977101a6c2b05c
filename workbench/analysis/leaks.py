"""Leak heuristics: judge whether a container, allocation site or goroutine count grows
without bound, and say so with a name, a rate and a confidence.

A candidate is a time series of one thing's size. It is flagged only when growth is
sustained (robust Theil-Sen slope well above zero), mostly monotone (share of rising
steps), never given back (small drawdown from the running maximum) and still going at
the end of the window (no plateau). That rejects the usual decoys: a bounded cache that
filled and stopped (plateau), a buffer flushed periodically (sawtooth = large drawdown),
a one-off warm-up (flat after the start) and noise around a level (low rising share).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..model.findings import Finding
from ..model.units import format_percent, format_quantity, format_rate, format_seconds

FloatArray = npt.NDArray[np.float64]

# Theil-Sen is O(n^2) in pairs; longer series are resampled to this many points first.
_MAX_POINTS = 160


@dataclass(frozen=True, slots=True)
class LeakPolicy:
    min_points: int = 6
    min_span_s: float = 15.0
    # growth over the window must be at least this share of the final size...
    min_rel_growth: float = 0.10
    # ...and at least this much in absolute units (1 element, 64 KiB, 1 goroutine)
    min_abs_growth: float = 1.0
    min_rising_share: float = 0.55
    max_drawdown: float = 0.20
    # the last ``tail_share`` of the window must still grow at >= ``tail_min_ratio`` of the overall rate
    tail_share: float = 0.35
    tail_min_ratio: float = 0.25
    # ...and at that tail rate, the window must gain this share of the final size: the growth
    # bar above scaled to the tail's share (a level cache whose count reads 500, then 501)
    tail_min_rel_growth: float = 0.035
    flag_confidence: float = 0.5


@dataclass(slots=True)
class Candidate:
    """One thing whose size we watch. ``values`` are sizes (elements, bytes, goroutines)."""

    kind: str
    name: str
    where: str
    unit: str
    times: FloatArray
    values: FloatArray
    target: str = ""
    stack: list[str] = field(default_factory=list)
    min_abs_growth: float | None = None
    note: str = ""  # appended to the evidence (what holds it, which sites were folded in)


@dataclass(frozen=True, slots=True)
class Trend:
    slope_per_s: float
    rising_share: float
    drawdown: float
    tail_ratio: float
    rel_growth: float
    abs_growth: float
    span_s: float
    points: int
    tail_slope_per_s: float
    rises: int  # steps that went up by a large share (a fifth) of the window's range
    flat_tail_s: float  # time since the last rise
    max_rise_gap_s: float  # longest flat stretch between two earlier rises


def theil_sen(t: FloatArray, v: FloatArray) -> float:
    """Median of pairwise slopes: robust to outliers and GC-induced dips."""
    n = len(t)
    if n < 2:
        return 0.0
    i, j = np.triu_indices(n, k=1)
    dt = t[j] - t[i]
    ok = dt > 0
    if not ok.any():
        return 0.0
    return float(np.median((v[j] - v[i])[ok] / dt[ok]))


def _resample(t: FloatArray, v: FloatArray, n: int) -> tuple[FloatArray, FloatArray]:
    if len(t) <= n:
        return t, v
    idx = np.linspace(0, len(t) - 1, n).round().astype(np.int64)
    return t[idx], v[idx]


def _median3(v: FloatArray) -> FloatArray:
    if len(v) < 3:
        return v
    mid = np.median(np.stack([v[:-2], v[1:-1], v[2:]]), axis=0)
    return np.concatenate([v[:1], mid, v[-1:]])


def _recurring_falls(v: FloatArray, share: float = 0.2, min_falls: int = 3, min_step_share: float = 0.2) -> bool:
    """True when the series falls by more than ``share`` of its running maximum in at least
    ``min_falls`` steps that are also ``min_step_share`` of all steps: a clear that comes every
    few samples (what a 3-point median hides), not one odd sample, nor the few moments a
    doubling buffer's old and new arrays were both in use over a long watch."""
    if len(v) < 2:
        return False
    run_max = np.maximum.accumulate(v)[:-1]
    falls = int((np.diff(v) < -share * run_max).sum())
    return falls >= min_falls and falls >= min_step_share * (len(v) - 1)


def trend_of(times: FloatArray, values: FloatArray, tail_share: float = 0.35) -> Trend:
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    rt, rv = _resample(t, v, _MAX_POINTS)
    slope = theil_sen(rt, rv)
    # steps smaller than a quarter of the average step of steady growth over this window are
    # noise around a level (a sync.Pool refilled, a few cache entries churned), not a rise
    # or a fall: they must not hide a doubling buffer's steps nor fake a cache's growth
    steps = np.diff(v)
    eps = 0.25 * float(v.max() - v.min()) / max(1, len(v) - 1) if len(v) else 0.0
    steps = np.where(np.abs(steps) > eps, steps, 0.0)
    moving = steps[steps != 0]
    rising_share = float((moving > 0).mean()) if len(moving) else 0.0
    # drawdown on a 3-point running median: one outlying snapshot (a sampling profile's noise,
    # a GC that ran late) is neither a peak nor a flush; a buffer flushed stays down for more.
    # But a container cleared every two or three samples is all "outliers" to that median,
    # which flattens it into a slow rise: falls that recur are read unsmoothed
    vm = v if _recurring_falls(v) else _median3(v)
    run_max = np.maximum.accumulate(vm) if len(vm) else vm
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(run_max > 0, (run_max - vm) / run_max, 0.0)
    drawdown = float(dd.max()) if len(dd) else 0.0
    span = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    tail_start = t[-1] - span * tail_share if len(t) else 0.0
    tail = t >= tail_start
    tail_slope = theil_sen(*_resample(t[tail], v[tail], _MAX_POINTS)) if tail.sum() >= 3 else 0.0
    tail_ratio = tail_slope / slope if slope > 0 else 0.0
    last = float(v[-1]) if len(v) else 0.0
    abs_growth = float(v[-1] - v[0]) if len(v) else 0.0
    rel = abs_growth / last if last > 0 else 0.0
    # a doubling container's steps are each a large share of its growth; small rises (a
    # cache's churn after it filled) are not steps and must not make its plateau look stepped
    big = 0.2 * float(v.max() - v.min()) if len(v) else 0.0
    rise_t = t[1:][steps > big] if len(t) > 1 else t[:0]
    flat_tail = float(t[-1] - rise_t[-1]) if len(rise_t) else span
    gaps = np.diff(rise_t)
    max_gap = float(gaps.max()) if len(gaps) else 0.0
    return Trend(
        slope,
        rising_share,
        drawdown,
        tail_ratio,
        rel,
        abs_growth,
        span,
        len(v),
        tail_slope,
        len(rise_t),
        flat_tail,
        max_gap,
    )


def still_stepping(tr: Trend, factor: float = 2.5) -> bool:
    """A container that grows by doubling (bytes.Buffer, list over-allocation) is flat
    between ever longer steps (two may be all a short window sees). Its flat tail is then
    not a plateau as long as it is no longer than ``factor`` times the longest earlier gap
    between rises."""
    return tr.rises >= 2 and tr.max_rise_gap_s > 0 and tr.flat_tail_s <= factor * tr.max_rise_gap_s


def judge(c: Candidate, policy: LeakPolicy | None = None) -> Finding | None:
    """A Finding (suspect or judged bounded), or None when there is not enough data yet."""
    p = policy or LeakPolicy()
    if len(c.values) < p.min_points:
        return None
    tr = trend_of(c.times, c.values, p.tail_share)
    if tr.span_s < p.min_span_s:
        return None
    min_abs = p.min_abs_growth if c.min_abs_growth is None else c.min_abs_growth
    reasons: list[str] = []
    if tr.slope_per_s <= 0 or tr.abs_growth < min_abs or tr.rel_growth < p.min_rel_growth:
        reasons.append("no sustained growth")
    if tr.drawdown > p.max_drawdown:
        reasons.append(f"shrinks back ({tr.drawdown:.0%} below its peak: flushed or cleared)")
    if tr.slope_per_s > 0 and tr.tail_ratio < p.tail_min_ratio and not reasons and not still_stepping(tr):
        reasons.append("plateaued (stopped growing: bounded or warm-up)")
    # the last stretch must grow by what counts as growth, too: a cache that filled early and
    # sat level for most of the window has a small median slope, and a last creep (a Go map's
    # buckets after churn, a count reading 500 then 501) passes for a steady tail against it;
    # at its own rate over the whole window it must still clear the smallest growth that counts
    # (256 KiB for a Go heap site) and a share of its size
    tail_gain = tr.tail_slope_per_s * tr.span_s
    last = float(c.values[-1])
    if not reasons and not still_stepping(tr) and (tail_gain < min_abs or tail_gain < p.tail_min_rel_growth * last):
        reasons.append(
            f"plateaued (its last {format_percent(p.tail_share, 0)} grows at "
            f"{format_rate(tr.tail_slope_per_s * 60.0, c.unit)}, under the smallest growth that counts)"
        )
    if tr.rising_share < p.min_rising_share and not reasons:
        reasons.append(f"mostly flat or noisy ({tr.rising_share:.0%} of steps rise)")
    # confidence grows with the evidence: monotone steps, span, points, a steady tail
    span_w = min(1.0, tr.span_s / 60.0)
    pts_w = min(1.0, tr.points / 20.0)
    tail_w = 1.0 if still_stepping(tr) else min(1.0, max(0.0, tr.tail_ratio))
    confidence = tr.rising_share * (0.5 + 0.5 * span_w) * (0.6 + 0.4 * pts_w) * (0.7 + 0.3 * tail_w)
    confidence *= max(0.0, 1.0 - tr.drawdown / max(p.max_drawdown, 1e-9) * 0.5)
    suspect = not reasons and confidence >= p.flag_confidence
    if not reasons and not suspect:
        reasons.append(f"confidence {confidence:.2f} below {p.flag_confidence:.2f}")
    per_min = tr.slope_per_s * 60.0
    evidence = (
        f"{format_quantity(c.values[0], c.unit)} -> {format_quantity(last, c.unit)} over {format_seconds(tr.span_s)} "
        f"({format_rate(per_min, c.unit)}, {format_percent(tr.rising_share, 0)} of steps rise, "
        f"max drop {format_percent(tr.drawdown, 0)}, tail rate {format_percent(tr.tail_ratio, 0)} of overall)"
    )
    if reasons:
        evidence = "bounded: " + "; ".join(reasons) + ". " + evidence
    if c.note:
        evidence += ". " + c.note
    spark = _resample(np.asarray(c.times, np.float64), np.asarray(c.values, np.float64), 32)[1]
    return Finding(
        kind=c.kind,
        name=c.name,
        where=c.where,
        growth_per_min=round(per_min, 3),
        unit=c.unit,
        confidence=round(min(1.0, confidence), 3),
        evidence=evidence,
        target=c.target,
        projected_1h=round(last + tr.slope_per_s * 3600.0, 1) if suspect else None,
        suspect=suspect,
        t=float(c.times[-1]),
        stack=list(c.stack),
        sparkline=[float(x) for x in spark],
    )


def suspect_rank(f: Finding) -> tuple[float, float]:
    """The order suspects are listed in: most confident first, then fastest growing."""
    return -f.confidence, -abs(f.growth_per_min)


def judge_all(cands: list[Candidate], policy: LeakPolicy | None = None) -> tuple[list[Finding], list[Finding]]:
    """(suspects, checked): suspects sorted by confidence then rate."""
    suspects: list[Finding] = []
    checked: list[Finding] = []
    for c in cands:
        f = judge(c, policy)
        if f is None:
            continue
        (suspects if f.suspect else checked).append(f)
    suspects.sort(key=suspect_rank)
    return suspects, checked

"""Latency quantiles from a service's own Prometheus histograms, as ``histogram_quantile`` does.

Each /metrics scrape gives cumulative bucket counts (``F_bucket{le=...}``) per label set of a
histogram family F. Quantiles of the *recent* requests come from the increase of each bucket
over a short window (the newest scrape minus the oldest one still inside the window): that is
``histogram_quantile(q, rate(F_bucket[W]))``, since rate's per-second scaling is the same for
every bucket and cancels out. Interpolation inside a bucket, the +Inf bucket and the first
bucket follow Prometheus' ``bucketQuantile`` so the numbers agree with the server's own.

Series (DESIGN.md): ``hist.F.p50|p90|p99`` over all label sets of F summed by ``le`` (what
``sum by (le)`` gives), ``hist.F.count`` (a counter, charted as the request rate), and the
same per label set (``hist.F{path="/r"}.p99``) when F has several. Everything is bounded:
families, label sets per family, and window history.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.model import SeriesPoint

QUANTILES = ((0.5, "p50"), (0.9, "p90"), (0.99, "p99"))
DEFAULT_WINDOW_S = 10.0
MAX_FAMILIES = 32
MAX_LABEL_SETS = 24  # per family; more label sets (a path label with ids in it) are dropped
MAX_HISTORY = 64  # scrapes kept per label set; a 10 s window at 1 s polls needs 11
MAX_LABEL_TEXT = 120
_UNSAFE = re.compile(r'["\\@{}\n\r]+')

LabelKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class HistSample:
    """One label set of one histogram family in one scrape: cumulative counts."""

    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), ascending, +Inf last
    count: float
    sum: float


@dataclass(slots=True)
class HistFamily:
    name: str
    unit: str  # F's unit: "s" for *_seconds
    sets: dict[LabelKey, HistSample] = field(default_factory=dict)


def family_unit(name: str, declared: str = "") -> str:
    if declared:
        return {"seconds": "s", "milliseconds": "ms", "bytes": "bytes"}.get(declared, declared)
    for suffix, unit in (("_seconds", "s"), ("_milliseconds", "ms"), ("_ms", "ms"), ("_bytes", "bytes")):
        if name.endswith(suffix):
            return unit
    return ""


class FamilyCollector:
    """Gathers the samples of histogram families while prom.py walks a scrape."""

    def __init__(self) -> None:
        self.families: dict[str, HistFamily] = {}
        self._buckets: dict[tuple[str, LabelKey], dict[float, float]] = {}
        self._count: dict[tuple[str, LabelKey], float] = {}
        self._sum: dict[tuple[str, LabelKey], float] = {}
        self._sets: dict[str, int] = {}  # label sets seen per family

    def add(self, family: str, unit: str, sample: str, labels: dict[str, str], value: float) -> None:
        if family not in self.families:
            if len(self.families) >= MAX_FAMILIES:
                return
            self.families[family] = HistFamily(family, family_unit(family, unit))
        key = (family, tuple(sorted((k, v) for k, v in labels.items() if k != "le")))
        if key not in self._buckets:
            if self._sets.get(family, 0) >= MAX_LABEL_SETS:
                return
            self._sets[family] = self._sets.get(family, 0) + 1
            self._buckets[key] = {}
        if sample.endswith("_bucket"):
            try:
                le = float(labels.get("le", "nan"))
            except ValueError:
                return
            if not math.isnan(le):
                self._buckets[key][le] = value
        elif sample.endswith("_count"):
            self._count[key] = value
        elif sample.endswith("_sum"):
            self._sum[key] = value

    def finish(self) -> dict[str, HistFamily]:
        for (family, lk), buckets in self._buckets.items():
            if math.inf not in buckets:
                continue  # no +Inf bucket: not a histogram histogram_quantile would read either
            ordered = tuple(sorted(buckets.items()))
            count = self._count.get((family, lk), buckets[math.inf])
            self.families[family].sets[lk] = HistSample(ordered, count, self._sum.get((family, lk), 0.0))
        return {n: f for n, f in self.families.items() if f.sets}


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' ``bucketQuantile`` on cumulative (upper bound, count) pairs, ascending.

    None where Prometheus answers NaN: no +Inf bucket, fewer than two buckets, no observations.
    """
    if not buckets or buckets[-1][0] != math.inf or len(buckets) < 2:
        return None
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    # counts must not decrease (Prometheus' ensureMonotonic): float noise in sums of rates
    mono: list[tuple[float, float]] = []
    top = 0.0
    for ub, c in buckets:
        top = max(top, c)
        mono.append((ub, top))
    observations = mono[-1][1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next(i for i, (_ub, c) in enumerate(mono) if c >= rank)
    if b == len(mono) - 1:
        return mono[-2][0]
    if b == 0 and mono[0][0] <= 0:
        return mono[0][0]
    start, end, count = 0.0, mono[b][0], mono[b][1]
    if b > 0:
        start = mono[b - 1][0]
        count -= mono[b - 1][1]
        rank -= mono[b - 1][1]
    return start + (end - start) * (rank / count) if count > 0 else end


def _delta(new: HistSample, old: HistSample) -> dict[float, float] | None:
    """Bucket increases between two scrapes; None on a counter reset (the service restarted)."""
    before = dict(old.buckets)
    out: dict[float, float] = {}
    for ub, c in new.buckets:
        d = c - before.get(ub, 0.0)
        if d < 0:
            return None
        out[ub] = d
    return out


def _label_text(lk: LabelKey) -> str:
    parts = [f'{k}="{_UNSAFE.sub("_", v)}"' for k, v in lk]
    return ("{" + ",".join(parts) + "}")[:MAX_LABEL_TEXT]


class HistogramWindow:
    """Turns successive scrapes into quantile and count points (see the module doc)."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S) -> None:
        self.window_s = window_s
        # (family, label set) -> recent (t, sample), oldest first; bounded by the caps above
        self._history: dict[tuple[str, LabelKey], deque[tuple[float, HistSample]]] = {}
        self._labelled: set[str] = set()  # families that ever had several label sets

    def update(self, t: float, families: dict[str, HistFamily], name: Callable[[str], str]) -> list[SeriesPoint]:
        pts: list[SeriesPoint] = []
        for fam in families.values():
            if len(fam.sets) > 1:
                self._labelled.add(fam.name)
            total: dict[float, float] = {}
            total_count = 0.0
            have_delta = False
            for lk, sample in fam.sets.items():
                delta = self._advance((fam.name, lk), t, sample)
                total_count += sample.count
                if delta is not None:
                    have_delta = True
                    for ub, d in delta.items():
                        total[ub] = total.get(ub, 0.0) + d
                if fam.name in self._labelled:
                    base = f"hist.{fam.name}{_label_text(lk)}"
                    pts += self._points(base, fam.unit, t, delta, count=sample.count, name=name)
            pts += self._points(
                f"hist.{fam.name}", fam.unit, t, total if have_delta else None, count=total_count, name=name
            )
        return pts

    def _advance(self, key: tuple[str, LabelKey], t: float, sample: HistSample) -> dict[float, float] | None:
        hist = self._history.get(key)
        if hist is None:
            if len(self._history) >= MAX_FAMILIES * MAX_LABEL_SETS:
                return None
            hist = self._history[key] = deque(maxlen=MAX_HISTORY)
        hist.append((t, sample))
        # keep the newest scrape at or before the window's start as the baseline
        while len(hist) > 2 and hist[1][0] <= t - self.window_s:
            hist.popleft()
        if len(hist) < 2:
            return None
        delta = _delta(sample, hist[0][1])
        if delta is None:
            hist.clear()
            hist.append((t, sample))
        return delta

    @staticmethod
    def _points(
        base: str, unit: str, t: float, delta: dict[float, float] | None, *, count: float, name: Callable[[str], str]
    ) -> list[SeriesPoint]:
        pts = [SeriesPoint(name(f"{base}.count"), t, count, "count")]
        if delta is None:
            return pts
        buckets = sorted(delta.items())
        for q, suffix in QUANTILES:
            v = bucket_quantile(q, buckets)
            if v is not None and math.isfinite(v):
                pts.append(SeriesPoint(name(f"{base}.{suffix}"), t, v, unit))
        return pts

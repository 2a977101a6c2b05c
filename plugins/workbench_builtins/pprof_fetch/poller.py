"""One metrics poll of a service: expvar, /metrics and the pprof text endpoints, merged.

Sources in order of preference, the first to provide a series wins for that poll:
``/debug/vars`` (memstats with the exact GC pause ring, DBStats pools), the
``# runtime.MemStats`` block of ``heap?debug=1`` (when expvar is absent; fetched at most
every ``heap_text_every_s`` because it carries the whole heap profile as text),
``/metrics`` (go_*, process_*, pool families, and every histogram family as latency
quantiles: ``histograms.py``), and the first line of
``goroutine?debug=1`` for the goroutine count.

The two text endpoints are also spaced by their own cost: after a request that took ``e``
seconds the source is skipped until ``e / COST_SHARE`` has passed (at most
``MAX_COST_GAP_S``), so on a big service (the goroutine profile stops the world; heap text
walks every stack) they take at most that share of wall time however short the poll
interval. expvar and /metrics are made for frequent scraping and follow the interval.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.errors import WorkbenchError
from workbench.model import Finding, SeriesPoint

from .client import TEXT_MAX_BYTES, HttpClient
from .discovery import Endpoints, decode_vars
from .errors import ProfileNotServed, ResponseTooLarge
from .histograms import DEFAULT_WINDOW_S, HistogramWindow
from .memstats import GcPauseTracker, MemStats, memstats_from_expvar, memstats_from_heap_debug, memstats_points
from .pools import PoolSample, find_dbstats
from .prom import parse_metrics
from .saturation import SaturationWatch

COST_SHARE = 0.05
MAX_COST_GAP_S = 30.0
_GOROUTINE_TOTAL = re.compile(rb"goroutine profile: total (\d+)")


@dataclass(slots=True)
class PollResult:
    points: list[SeriesPoint] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    pools: list[PoolSample] = field(default_factory=list)
    errors: list[WorkbenchError] = field(default_factory=list)
    requests: int = 0


class MetricsPoller:
    def __init__(
        self,
        client: HttpClient,
        endpoints: Endpoints,
        name: Callable[[str], str],
        *,
        target: str,
        heap_text_every_s: float = 5.0,
        hist_window_s: float = DEFAULT_WINDOW_S,
    ) -> None:
        self.client = client
        self.ep = endpoints
        self.name = name
        self.gc = GcPauseTracker()
        self.hist = HistogramWindow(hist_window_s)  # latency quantiles from /metrics histograms
        self.saturation = SaturationWatch(target)
        self.heap_text_every_s = heap_text_every_s
        self._next_due: dict[str, float] = {}
        # once a preferred source has proved it carries these, a poll that skips it (cost
        # spacing) must not fall back to the expensive text endpoints
        self._vars_memstats = False
        self._metrics_goroutines = False
        self._prev_cpu: tuple[float, float] | None = None  # (t, process_cpu_seconds_total)
        self._prev_gc: tuple[float, float] | None = None  # (count, pause sum s) from /metrics
        self._gone: set[str] = set()  # sources that answered 404: not asked again
        self.polls = 0

    def _usable(self, source: str, t: float) -> bool:
        return source not in self._gone and t >= self._next_due.get(source, 0.0)

    def _spent(self, source: str, t: float, elapsed_s: float, min_gap_s: float = 0.0) -> None:
        self._next_due[source] = t + max(min_gap_s, min(MAX_COST_GAP_S, elapsed_s / COST_SHARE))

    def _failed(self, res: PollResult, source: str, exc: WorkbenchError) -> None:
        # a 404 stays a 404, and a body over the cap (a huge heap?debug=1 text) stays huge:
        # asking again every poll would only load the service
        if isinstance(exc, (ProfileNotServed, ResponseTooLarge)):
            self._gone.add(source)
        res.errors.append(exc)

    def poll(self, t: float | None = None) -> PollResult:
        """One round of requests (sequential: never more than one in flight per poller)."""
        t = time.time() if t is None else t
        res = PollResult()
        name = self.name
        emitted: set[str] = set()
        pool_names: set[str] = set()
        memstats: MemStats | None = None

        def add(points: list[SeriesPoint]) -> None:
            for p in points:
                if p.name not in emitted or p.name == name("go.gc.pause_ns"):
                    res.points.append(p)
            emitted.update(p.name for p in points)

        def add_pool(pool: PoolSample) -> None:
            if pool.name in pool_names:
                return
            pool_names.add(pool.name)
            res.pools.append(pool)
            add(pool.points(t, name))
            finding = self.saturation.update(pool, t)
            if finding is not None:
                res.findings.append(finding)

        if self.ep.vars and self._usable("vars", t):
            try:
                res.requests += 1
                r = self.client.get("/debug/vars", max_bytes=TEXT_MAX_BYTES, what="expvar JSON")
                doc = decode_vars(r)
                memstats = memstats_from_expvar(doc.get("memstats", {}))
                self._vars_memstats = self._vars_memstats or memstats is not None
                for pool in find_dbstats(doc):
                    add_pool(pool)
            except WorkbenchError as exc:
                self._failed(res, "vars", exc)
        if memstats is None and not self._vars_memstats and self.ep.serves("heap") and self._usable("heap", t):
            try:
                res.requests += 1
                r = self.client.get("/debug/pprof/heap?debug=1", max_bytes=TEXT_MAX_BYTES, what="heap text")
                self._spent("heap", t, r.elapsed_s, self.heap_text_every_s)
                memstats = memstats_from_heap_debug(r.text())
            except WorkbenchError as exc:
                self._failed(res, "heap", exc)
        if memstats is not None:
            add(memstats_points(memstats, t, self.gc, name))
        if self.ep.metrics and self._usable("metrics", t):
            try:
                res.requests += 1
                r = self.client.get("/metrics", max_bytes=TEXT_MAX_BYTES, what="Prometheus metrics")
                snap = parse_metrics(r.text())
                self._metrics_goroutines = self._metrics_goroutines or "go.goroutines" in snap.runtime
                add([SeriesPoint(name(s), t, v, unit) for s, (v, unit) in snap.runtime.items()])
                if snap.cpu_seconds is not None:
                    if self._prev_cpu is not None and t > self._prev_cpu[0]:
                        pct = 100.0 * (snap.cpu_seconds - self._prev_cpu[1]) / (t - self._prev_cpu[0])
                        if pct >= 0:
                            add([SeriesPoint(name("process.cpu_percent"), t, pct, "%")])
                    self._prev_cpu = (t, snap.cpu_seconds)
                if snap.gc_count is not None and snap.gc_pause_sum_s is not None:
                    prev = self._prev_gc
                    self._prev_gc = (snap.gc_count, snap.gc_pause_sum_s)
                    # only when no pause ring was ever seen (it is exact; mixing both would count
                    # a GC twice): the mean pause of the GCs since the last poll
                    if self.gc.last_num_gc is None and prev is not None and snap.gc_count > prev[0]:
                        mean_s = (snap.gc_pause_sum_s - prev[1]) / (snap.gc_count - prev[0])
                        add([SeriesPoint(name("go.gc.pause_ns"), t, max(0.0, mean_s) * 1e9, "ns")])
                for pool in snap.pools:
                    add_pool(pool)
                add(self.hist.update(t, snap.histograms, name))
            except WorkbenchError as exc:
                self._failed(res, "metrics", exc)
        if (
            not self._metrics_goroutines
            and name("go.goroutines") not in emitted
            and self.ep.serves("goroutine")
            and self._usable("goroutine", t)
        ):
            try:
                res.requests += 1
                r = self.client.get("/debug/pprof/goroutine?debug=1", first_line_only=True, what="goroutine count")
                self._spent("goroutine", t, r.elapsed_s)
                m = _GOROUTINE_TOTAL.search(r.body)
                if m is not None:
                    add([SeriesPoint(name("go.goroutines"), t, float(m.group(1)), "count")])
            except WorkbenchError as exc:
                self._failed(res, "goroutine", exc)
        self.polls += 1
        return res

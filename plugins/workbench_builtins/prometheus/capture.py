"""The PromQL capture: every ``interval`` one ``query_range`` per query, its answer as series.

Each poll asks for the steps since the last point it got (``start = last + step``), so a
gap after a backoff is filled from the server's history, capped at ``MAX_CATCHUP_STEPS``.
One worker, strictly sequential: the server sees one request from us at a time. A PromQL
error ends polling of that query (asking again cannot fix it) and is shown; trouble
reaching the server backs off (doubling to a minute) and is retried.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.capture import CaptureStatus, HandleBase, Job, Sink, Target
from workbench.errors import PluginError, WorkbenchError
from workbench.model import EventKind, SeriesBatch, SeriesPoint
from workbench_builtins.pprof_fetch.client import Backoff

from .client import PromClient
from .errors import PromQLError
from .queries import Query, sample_value, series_names

SOURCE = "prometheus"
MAX_CATCHUP_STEPS = 300
BACKOFF_MAX_S = 60.0


class PromQueryCapture(HandleBase):
    def __init__(self, client: PromClient, queries: list[Query], opts: dict[str, Any], sink: Sink) -> None:
        super().__init__(Target.from_url(client.base_url), sink, name=SOURCE, message="")
        self.client = client
        self.queries = queries
        self.interval = max(0.5, float(opts["interval"]))
        self.max_series = max(1, int(opts["max_series"]))
        self.timeout_s = float(opts["timeout"])
        duration = float(opts["duration"] or 0.0)
        self.deadline = time.time() + duration if duration > 0 else None
        self._last_t: dict[str, float] = {}
        self._labelled: set[str] = set()
        self._failed: dict[str, WorkbenchError] = {}  # query name -> why it is no longer polled
        self._trouble: WorkbenchError | None = None  # the latest transient problem
        self._cut: set[str] = set()  # queries that answered more than max_series series
        self._polls = 0
        self._fatal: WorkbenchError | None = None

    def launch(self) -> PromQueryCapture:
        names = ", ".join(q.name for q in self.queries)
        self.event(EventKind.CAPTURE_STARTED, f"prometheus {self.client.base_url}: polling {names}")
        self.spawn(self._loop, "queries")
        return self

    def stop(self) -> None:
        self.cancel()
        if not self.join(2.0):
            self.client.abort()  # a slow query must not keep a stop waiting
            self.join(5.0)

    def _refresh_status(self, st: CaptureStatus) -> None:
        st.running = any(not j.done for j in self._jobs)
        parts = [f"{self.client.base_url}: {self._polls} polls of {len(self.queries)} queries"]
        if self._cut:
            parts.append(f"kept the first {self.max_series} series of {', '.join(sorted(self._cut))}")
        if self._failed:
            parts.append("; ".join(f"{n}: {e}" for n, e in self._failed.items()))
        if self._trouble is not None:
            parts.append(f"problem: {self._trouble}")
        st.message = "; ".join(parts)
        for j in self._jobs:
            if j.error is not None and self._fatal is None:
                self._fatal = PluginError(
                    f"prometheus worker stopped: {type(j.error).__name__}: {j.error}", "report a bug"
                )
        st.error = self._fatal
        st.extra = {"url": self.client.base_url, "requests": self.client.requests, "bytes": self.client.bytes_read}

    # ---------------------------------------------------------------- polling
    def _loop(self, job: Job[None]) -> None:
        backoff = Backoff(base_s=self.interval, max_s=BACKOFF_MAX_S, slow_s=max(1.0, self.timeout_s / 2))
        while not job.cancelled:
            t0 = time.monotonic()
            ok = True
            for q in self.queries:
                if job.cancelled:
                    return
                if q.name in self._failed:
                    continue
                try:
                    self._poll(q)
                except PromQLError as exc:
                    with self._lock:
                        self._failed[q.name] = exc
                except WorkbenchError as exc:
                    with self._lock:
                        self._trouble = exc
                    ok = False
                    break
            with self._lock:
                self._polls += 1
                if ok:
                    self._trouble = None
                if len(self._failed) == len(self.queries):
                    self._fatal = next(iter(self._failed.values()))
                    return
            if ok:
                backoff.success(time.monotonic() - t0)
            else:
                backoff.failure()
            wait = backoff.delay()
            if self.deadline is not None:
                left = self.deadline - time.time()
                if left <= 0:
                    return
                wait = min(wait, left)
            if job.sleep(wait):
                return

    def _poll(self, q: Query) -> None:
        now = time.time()
        step = self.interval
        last = self._last_t.get(q.name)
        start = now if last is None else max(last + step, now - MAX_CATCHUP_STEPS * step)
        if start > now:
            return
        params = {"query": q.expr, "start": f"{start:.3f}", "end": f"{now:.3f}", "step": f"{step:g}"}
        data = self.client.api("query_range", params, timeout_s=self.timeout_s)
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise PromQLError(f"query {q.name}: the answer holds no result list", "check the expression")
        if len(result) > self.max_series:
            with self._lock:
                self._cut.add(q.name)
            result = result[: self.max_series]
        if len(result) > 1:
            self._labelled.add(q.name)
        metrics = [r.get("metric") or {} if isinstance(r, dict) else {} for r in result]
        names = series_names(q.name, metrics, q.name in self._labelled)
        points: list[SeriesPoint] = []
        newest = start - step
        for name, r in zip(names, result, strict=True):
            values = r.get("values") if isinstance(r, dict) else None
            for pair in values or []:
                tv = sample_value(pair)
                if tv is not None:
                    points.append(SeriesPoint(name, tv[0], tv[1], ""))
                    newest = max(newest, tv[0])
        # no answer for these steps (no data yet) is not asked again: the next poll moves on
        self._last_t[q.name] = max(newest, now - step)
        if points:
            points.sort(key=lambda p: p.t)
            self.put(SeriesBatch(points), samples=len(points))

"""LeakWatch: follows a session's batches and judges every candidate on demand.

It is a session listener, so it sees each heap/goroutine snapshot as it arrives (the
session keeps only the latest snapshot of a replaced profile). Everything it keeps is
bounded by the site trackers' caps.
"""

from __future__ import annotations

import threading

from ..model.findings import CENSUS_SOURCE, Finding
from ..model.profile import ProfileBatch, profile_from_stacks
from ..model.session import Batch, Session
from .leak_sources import SiteTracker, series_candidates
from .leaks import Candidate, LeakPolicy, judge_all

# Below these absolute growths over the window nothing is a leak, whatever the trend.
MIN_HEAP_GROWTH_BYTES = 256 * 1024
MIN_GOROUTINE_GROWTH = 5
MIN_PY_HEAP_GROWTH_BYTES = 64 * 1024
MIN_NODE_HEAP_GROWTH_BYTES = 256 * 1024  # V8 samples every ~32 KiB: less is sampling noise


class LeakWatch:
    def __init__(self, policy: LeakPolicy | None = None) -> None:
        self.policy = policy or LeakPolicy()
        self.go_heap = SiteTracker("go-heap")
        self.go_goroutines = SiteTracker("go-goroutine")
        self.py_heap = SiteTracker("python-heap")
        self.node_heap = SiteTracker("node-heap")
        self._lock = threading.Lock()

    def on_batch(self, batch: Batch) -> None:
        """Session listener: track heap and goroutine snapshots per allocation site."""
        if not isinstance(batch, ProfileBatch):
            return
        kind = batch.key.rsplit(":", 1)[-1]
        tracker: SiteTracker | None = None
        index = None
        if batch.source == "pprof" and kind == "heap":
            tracker, index = self.go_heap, "inuse_space"
        elif batch.source == "pprof" and kind == "goroutine":
            tracker = self.go_goroutines
        elif batch.source == "memray" and batch.replace:
            tracker, index = self.py_heap, "inuse_space"
        elif batch.source == "inspector" and kind == "heap":
            tracker, index = self.node_heap, "inuse_space"
        if tracker is None:
            return
        prof = profile_from_stacks(batch.stacks, batch.sample_types)
        with self._lock:
            tracker.observe(batch.t1, prof, index)

    def candidates(self, session: Session) -> list[Candidate]:
        with session.lock():
            hints = {f.name: (f.kind, f.where) for f in session.findings if f.source == CENSUS_SOURCE}
            cands = series_candidates(dict(session.series), hints)
        with self._lock:
            if self.go_goroutines.sites:
                # per-stack goroutine sites name the culprit; the overall count would repeat it
                cands = [c for c in cands if c.kind != "goroutines"]
            cands += self.go_heap.candidates("bytes", min_abs_growth=MIN_HEAP_GROWTH_BYTES)
            cands += self.go_goroutines.candidates("goroutines", min_abs_growth=MIN_GOROUTINE_GROWTH)
            cands += self.py_heap.candidates("bytes", min_abs_growth=MIN_PY_HEAP_GROWTH_BYTES)
            cands += self.node_heap.candidates("bytes", min_abs_growth=MIN_NODE_HEAP_GROWTH_BYTES)
        return cands

    def judge(self, session: Session) -> tuple[list[Finding], list[Finding]]:
        """(suspects, checked) over everything seen so far."""
        return judge_all(self.candidates(session), self.policy)

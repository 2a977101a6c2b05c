"""LeakWatch: follows a session's batches and judges every candidate on demand.

It is a session listener, so it sees each heap/goroutine snapshot as it arrives (the
session keeps only the latest snapshot of a replaced profile). Everything it keeps is
bounded by the site trackers' caps.
"""

from __future__ import annotations

import threading

from ..model.findings import CENSUS_SOURCE, RETAINER_SOURCE, Finding
from ..model.keys import GOROUTINE, GOROUTINE_LEAK, HEAP
from ..model.profile import ProfileBatch, profile_from_stacks
from ..model.session import Batch, FindingsBatch, Session
from .goroutine_leaks import LeakedSite, confirm, leaked_sites
from .leak_sources import SiteTracker, series_candidates
from .leaks import Candidate, LeakPolicy, judge_all
from .node_containers import MAX_NAMED_SITES, name_node_candidates
from .node_sizes import NODE_CONTAINER_PREFIX, gate_by_size

# Below these absolute growths over the window nothing is a leak, whatever the trend.
MIN_HEAP_GROWTH_BYTES = 256 * 1024
MIN_GOROUTINE_GROWTH = 5
MIN_PY_HEAP_GROWTH_BYTES = 64 * 1024
MIN_NODE_HEAP_GROWTH_BYTES = 256 * 1024  # V8 samples every ~32 KiB: less is sampling noise


# (runtime, profile kind) -> (site tracker mode, sample column, smallest growth that counts);
# the kind and runtime come with each ProfileBatch, so any source of that data feeds the engine
_EVIDENCE: dict[tuple[str, str], tuple[str, str | None, float]] = {
    ("go", GOROUTINE): ("go-goroutine", None, MIN_GOROUTINE_GROWTH),
    ("go", HEAP): ("go-heap", "inuse_space", MIN_HEAP_GROWTH_BYTES),
    ("python", HEAP): ("python-heap", "inuse_space", MIN_PY_HEAP_GROWTH_BYTES),
    ("node", HEAP): ("node-heap", "inuse_space", MIN_NODE_HEAP_GROWTH_BYTES),
}


class LeakWatch:
    def __init__(self, policy: LeakPolicy | None = None) -> None:
        self.policy = policy or LeakPolicy()
        self.trackers = {key: SiteTracker(mode) for key, (mode, _i, _m) in _EVIDENCE.items()}
        self._lock = threading.Lock()
        # Node site (``where``) -> the container its objects are held by (the inspector's
        # retainer hints); kept across snapshots so a site keeps its name, capped
        self.node_containers: dict[str, Finding] = {}
        # the latest /debug/pprof/goroutineleak profile's sites (Go 1.26+), by ``where``
        self.leaked_goroutines: dict[str, LeakedSite] = {}

    def on_batch(self, batch: Batch) -> None:
        """Session listener: track heap (in-use snapshots) and goroutine profiles per site."""
        if isinstance(batch, FindingsBatch):
            hints = [f for f in batch.findings if f.source == RETAINER_SOURCE]
            if hints:
                with self._lock:
                    for f in hints:
                        self.node_containers.pop(f.where, None)
                        self.node_containers[f.where] = f
                    while len(self.node_containers) > MAX_NAMED_SITES:
                        del self.node_containers[next(iter(self.node_containers))]
            return
        if not isinstance(batch, ProfileBatch) or batch.key.prefix:
            return  # a triggered capture is a one-off, not a point of the series
        key = (batch.runtime, batch.kind)
        if batch.kind == GOROUTINE_LEAK:
            sites = leaked_sites(profile_from_stacks(batch.stacks, batch.sample_types))
            with self._lock:
                self.leaked_goroutines = sites
            return
        tracker = self.trackers.get(key)
        if tracker is None or (batch.kind == HEAP and not batch.replace):
            return
        prof = profile_from_stacks(batch.stacks, batch.sample_types)
        with self._lock:
            tracker.observe(batch.t1, prof, _EVIDENCE[key][1])

    def candidates(self, session: Session) -> list[Candidate]:
        with session.lock():
            hints = {f.name: (f.kind, f.where, f.stack) for f in session.findings if f.source == CENSUS_SOURCE}
            # a Node container's count gates its heap suspect (judge), it is not one more candidate
            series = {k: v for k, v in session.series.items() if not k.startswith(NODE_CONTAINER_PREFIX)}
            cands = series_candidates(series, hints)
        with self._lock:
            goroutines = self.trackers[("go", GOROUTINE)]
            if goroutines.sites:
                # per-stack goroutine sites name the culprit; the overall count would repeat it
                cands = [c for c in cands if c.kind != "goroutines"]
            for key, tracker in self.trackers.items():
                unit = "goroutines" if key[1] == GOROUTINE else "bytes"
                found = tracker.candidates(unit, min_abs_growth=_EVIDENCE[key][2])
                if key == ("node", HEAP) and self.node_containers:
                    found = name_node_candidates(found, self.node_containers)
                cands += found
        return cands

    def judge(self, session: Session) -> tuple[list[Finding], list[Finding]]:
        """(suspects, checked) over everything seen so far."""
        suspects, checked = judge_all(self.candidates(session), self.policy)
        with session.lock():
            sizes = {k: (v.times, v.values) for k, v in session.series.items() if k.startswith(NODE_CONTAINER_PREFIX)}
        suspects, checked = gate_by_size(suspects, checked, sizes, self.policy)
        with self._lock:
            leaked = dict(self.leaked_goroutines)
        return confirm(suspects, checked, leaked)

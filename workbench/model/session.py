"""The session: every profile, series and finding of a capture, fed by batches.

Capture workers call ``put`` from their own threads; views poll ``version`` on a timer
and take snapshots. Listeners (the .wbs store) see each applied batch in order, so the
file is written as data arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from .findings import Finding
from .keys import ProfileKey
from .profile import Profile, ProfileBatch
from .series import DEFAULT_CAPACITY, RingSeries, SeriesPoint

MAX_PROFILES = 256
MAX_SERIES = 2048
MAX_FINDINGS = 1000


@dataclass(slots=True)
class SeriesBatch:
    points: list[SeriesPoint]


@dataclass(slots=True)
class FindingsBatch:
    findings: list[Finding]
    replace_target: str | None = None  # drop earlier findings of this target first


class EventKind(StrEnum):
    """What a timeline marker says. The values are the texts stored sessions hold, so a
    session written before the enum existed reads back the same (``kind`` stays ``str``
    on ``EventBatch``: an older or newer file may hold a kind this list lacks)."""

    CAPTURE = "capture"  # a capture's progress in words (attaching, attached)
    CAPTURE_STARTED = "capture_started"
    CAPTURE_STOPPED = "capture_stopped"
    CAPTURE_PAUSED = "capture.paused"
    CAPTURE_RESUMED = "capture.resumed"
    TARGET_EXITED = "target_exited"
    ACTION = "action"  # a one-off request (heap snapshot) was made
    AGENT_ATTACHED = "agent.attached"
    AGENT_DETACHED = "agent.detached"
    AGENT_CENSUS_PARTIAL = "agent.census_partial"
    TRIGGER = "trigger"
    TRIGGER_DONE = "trigger-done"
    TRIGGER_FAILED = "trigger-failed"


@dataclass(slots=True)
class EventBatch:
    """A timeline marker: capture started/stopped, target exited, trigger fired."""

    t: float
    kind: str  # an EventKind (a str); free text when read from a file
    text: str
    target: str = ""


Batch = ProfileBatch | SeriesBatch | FindingsBatch | EventBatch
Listener = Callable[[Batch], None]


@dataclass(slots=True)
class SessionInfo:
    created: float = field(default_factory=time.time)
    title: str = ""
    targets: list[str] = field(default_factory=list)


class Session:
    """Thread-safe holder of everything captured. Bounded: caps on each collection."""

    def __init__(self, series_capacity: int = DEFAULT_CAPACITY) -> None:
        self.info = SessionInfo()
        self.profiles: dict[str, Profile] = {}  # by ProfileKey.text (what is shown and stored)
        self.keys: dict[str, ProfileKey] = {}  # the key each text stands for
        self.series: dict[str, RingSeries] = {}
        self.findings: list[Finding] = []
        self.events: list[EventBatch] = []
        self.dropped: dict[str, int] = {}  # batches refused by caps, by reason
        self.series_capacity = series_capacity
        self.version = 0
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []

    # -------------------------------------------------------------- writing
    def add_listener(self, fn: Listener) -> None:
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def put(self, batch: Batch) -> None:
        """Apply one batch (any thread). This is the capture sink."""
        with self._lock:
            applied = self._apply(batch)
            if applied:
                self.version += 1
                for fn in list(self._listeners):
                    fn(batch)

    def put_many(self, batches: Iterable[Batch]) -> None:
        for b in batches:
            self.put(b)

    def _drop(self, reason: str) -> bool:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        return False

    def _apply(self, batch: Batch) -> bool:
        if isinstance(batch, ProfileBatch):
            key = batch.key.text
            prof = self.profiles.get(key)
            if prof is None or batch.replace or prof.sample_types != batch.sample_types:
                if prof is None and len(self.profiles) >= MAX_PROFILES:
                    return self._drop("too many profiles")
                prof = Profile(batch.sample_types, name=key, source=batch.source)
                self.profiles[key] = prof
                self.keys[key] = batch.key
            prof.meta.update(batch.meta)
            prof.add_stackset(batch.stacks, batch.t0, batch.t1)
            return True
        if isinstance(batch, SeriesBatch):
            for pt in batch.points:
                s = self.series.get(pt.name)
                if s is None:
                    if len(self.series) >= MAX_SERIES:
                        self._drop("too many series")
                        continue
                    s = RingSeries(pt.name, pt.unit, capacity=self.series_capacity)
                    self.series[pt.name] = s
                s.append(pt.t, pt.value)
            return True
        if isinstance(batch, FindingsBatch):
            if batch.replace_target is not None:
                self.findings = [f for f in self.findings if f.target != batch.replace_target]
            self.findings.extend(batch.findings)
            del self.findings[:-MAX_FINDINGS]
            return True
        if isinstance(batch, EventBatch):
            self.events.append(batch)
            del self.events[:-MAX_FINDINGS]
            return True
        raise TypeError(f"not a batch: {type(batch).__name__}")

    # -------------------------------------------------------------- reading
    def snapshot_profile(self, key: str) -> Profile | None:
        """A copy safe to use on another thread while capture continues."""
        with self._lock:
            p = self.profiles.get(key)
            return p.copy() if p is not None else None

    def profile_keys(self) -> list[str]:
        with self._lock:
            return list(self.profiles)

    def key_of(self, text: str) -> ProfileKey:
        """The ``ProfileKey`` a profile's text stands for (opened and loaded profiles included)."""
        with self._lock:
            key = self.keys.get(text)
        return key if key is not None else ProfileKey.parse(text)

    def add_profiles(self, profiles: Iterable[tuple[ProfileKey, Profile]]) -> list[str]:
        """Add whole profiles (opened files, a loaded session) under the profile cap; the texts
        of the keys added. All or nothing: a set that would pass the cap is refused whole."""
        items = list(profiles)
        with self._lock:
            new = [k for k, _p in items if k.text not in self.profiles]
            if len(self.profiles) + len(new) > MAX_PROFILES:
                raise OverflowError(f"the session already holds {len(self.profiles)} profiles (limit {MAX_PROFILES})")
            for key, prof in items:
                self.profiles[key.text] = prof
                self.keys[key.text] = key
            self.version += 1
            return [k.text for k, _p in items]

    def series_names(self) -> list[str]:
        with self._lock:
            return sorted(self.series)

    def lock(self) -> threading.RLock:
        return self._lock

    def time_range(self) -> tuple[float, float] | None:
        with self._lock:
            lo: list[float] = []
            hi: list[float] = []
            for p in self.profiles.values():
                if p.time_start is not None and p.time_end is not None:
                    lo.append(p.time_start)
                    hi.append(p.time_end)
            for s in self.series.values():
                if len(s):
                    t = s.times
                    lo.append(float(t[0]))
                    hi.append(float(t[-1]))
            return (min(lo), max(hi)) if lo else None

"""Trigger rules: when a live series crosses a threshold, capture a profile of the next N seconds.

A rule reads ``METRIC OP VALUE [for DURATION] -> KIND DURATION`` (KIND: a profile kind,
cpu, wall, heap, goroutine...; the capture controller picks the source that provides it):

    process.rss_bytes>200e6 for 5s -> cpu 10s
    process.cpu_percent>=80 for 3s -> cpu 5s
    python.gc.pause_s>0.05 -> cpu 5s
    go.goroutines>1000 for 10s -> heap 10s
    rate(pool.*.wait_count)>5 for 2s -> cpu 10s

``METRIC`` is any series name of the session: a capture's (``go.goroutines@billing``), a
histogram's (``hist.F{path="/r"}.p99``) or a PromQL query's (``p99`` from ``--query p99=...``,
an alert rule's condition: ``p99>1 for 5m -> cpu 30s``); ``*`` matches one dotted part or more, as in
``pool.*.wait_count``; ``rate(METRIC)`` compares the per-second increase of a
counter instead of its value. ``OP`` is one of ``> >= < <=``. Durations take ``ms``,
``s``, ``m`` or no unit (seconds). ``for`` is how long the condition must hold
before the rule fires (measured on the series' own timestamps); without it the rule
fires on the first point past the threshold.

The engine is a session listener plus one worker thread. The listener only compares
numbers (it runs inside ``Session.put``, under the session lock); a firing is handed
to the worker, which puts an ``EventBatch`` marker on the timeline, starts the capture
through a caller-supplied starter (``CaptureController.kind_starter``: the same preflight
and options as any other start), stops it after N seconds and stores its profiles
under their own keys (``trigger<N>:<original key>``). A rule fires once per
excursion: it re-arms when its condition turns false again. At most one triggered
capture runs at a time and ``max_captures`` bounds how many a session can hold.
"""

from __future__ import annotations

import contextlib
import fnmatch
import math
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import PluginError, WorkbenchError
from ..model.keys import PROFILE_KINDS
from ..model.profile import ProfileBatch
from ..model.session import Batch, EventBatch, SeriesBatch, Session
from .api import CaptureHandle, Sink
from .controller import CaptureController, Plan

KINDS = PROFILE_KINDS
SYNTAX = "METRIC OP VALUE [for DURATION] -> KIND DURATION (KIND: cpu, wall, heap, goroutine...), e.g. 'process.rss_bytes>200e6 for 5s -> cpu 10s'"
MAX_CAPTURE_S = 3600.0

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}
# a series name: dotted words, a capture label (``@billing``), and label sets in braces
# (``hist.F{path="/r"}.p99``, a PromQL series ``p99{job="api"}``) whose values may hold anything
_NAME = r"(?:[\w.*:/@-]|\{[^{}]*\})+"
_RULE = re.compile(
    rf"^\s*(?:rate\(\s*(?P<rate>{_NAME})\s*\)|(?P<metric>{_NAME}?))\s*"
    r"(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
    r"(?:for\s+(?P<for_n>\d+(?:\.\d+)?)\s*(?P<for_u>ms|s|m)?\s*)?"
    r"->\s*(?P<kind>\w+)\s+(?P<cap_n>\d+(?:\.\d+)?)\s*(?P<cap_u>ms|s|m)?\s*$"
)


class TriggerSyntaxError(PluginError):
    """A ``--trigger`` rule that does not parse."""


@dataclass(frozen=True, slots=True)
class TriggerRule:
    metric: str  # series name or glob
    op: str
    threshold: float
    for_s: float
    kind: str  # "cpu" or "heap"
    capture_s: float
    rate: bool = False
    text: str = ""

    def matches(self, series_name: str) -> bool:
        if "*" not in self.metric:
            return series_name == self.metric
        return fnmatch.fnmatchcase(series_name, self.metric)

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)


def _seconds(n: str, unit: str | None) -> float:
    v = float(n)
    return v / 1000.0 if unit == "ms" else v * 60.0 if unit == "m" else v


def parse_trigger(text: str) -> TriggerRule:
    """One rule from its text; a ``TriggerSyntaxError`` that shows the syntax otherwise."""
    m = _RULE.match(text)
    if m is None:
        raise TriggerSyntaxError(f"cannot read trigger {text[:200]!r}", f"write it as {SYNTAX}")
    kind = m["kind"].lower()
    if kind not in KINDS:
        raise TriggerSyntaxError(f"trigger {text[:200]!r} captures {kind!r}", f"capture one of {', '.join(KINDS)}")
    threshold = float(m["value"])
    capture_s = _seconds(m["cap_n"], m["cap_u"])
    for_s = _seconds(m["for_n"], m["for_u"]) if m["for_n"] else 0.0
    if not math.isfinite(threshold):
        raise TriggerSyntaxError(f"trigger {text[:200]!r} has a threshold that is not finite", "use a finite number")
    if not 0 < capture_s <= MAX_CAPTURE_S:
        raise TriggerSyntaxError(
            f"trigger {text[:200]!r} captures for {capture_s:g} s",
            f"capture for more than 0 and at most {MAX_CAPTURE_S:g} seconds",
        )
    return TriggerRule(
        metric=m["rate"] or m["metric"],
        op=m["op"],
        threshold=threshold,
        for_s=for_s,
        kind=kind,
        capture_s=capture_s,
        rate=m["rate"] is not None,
        text=" ".join(text.split()),
    )


# Starts one capture of ``kind`` that writes into ``sink``; the engine stops it after the rule's seconds.
Starter = Callable[[str, float, Sink], CaptureHandle]


@dataclass(slots=True)
class _Track:
    """Per (rule, series) state: when the condition began holding, and the previous point for rates."""

    since: float | None = None
    fired: bool = False
    prev_t: float | None = None
    prev_v: float = 0.0


@dataclass(slots=True)
class Firing:
    rule: TriggerRule
    series: str
    t: float
    value: float


@dataclass(slots=True)
class TriggerStats:
    fired: int = 0
    captured: int = 0
    skipped_busy: int = 0
    failed: int = 0
    keys: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class _KeyedSink:
    """Stores a triggered capture's profiles under their own keys; its series are the main capture's job."""

    def __init__(self, session: Session, prefix: str) -> None:
        self.session = session
        self.prefix = prefix
        self.keys: list[str] = []

    def put(self, batch: Batch) -> None:
        if isinstance(batch, ProfileBatch):
            key = batch.key.with_prefix(self.prefix)
            if key.text not in self.keys:
                self.keys.append(key.text)
            meta = dict(batch.meta) | {"trigger": self.prefix}
            self.session.put(replace(batch, key=key, meta=meta))
        elif isinstance(batch, EventBatch):
            self.session.put(batch)


class TriggerEngine:
    """Watches a session's series and runs a capture when a rule fires (see the module doc)."""

    def __init__(
        self,
        session: Session,
        rules: list[TriggerRule],
        starter: Starter,
        *,
        target: str = "",
        max_captures: int = 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.rules = list(rules)
        self.starter = starter
        self.target = target
        self.max_captures = max_captures
        self.clock = clock
        self.stats = TriggerStats()
        # bounded: one entry per (rule, series); series are capped by the session
        self._tracks: dict[tuple[int, str], _Track] = {}
        self._queue: queue.Queue[Firing | None] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._busy = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> TriggerEngine:
        self._thread = threading.Thread(target=self._work, name="workbench-triggers", daemon=True)
        self._thread.start()
        self.session.add_listener(self._on_batch)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching; a triggered capture still running is stopped and its data kept."""
        self.session.remove_listener(self._on_batch)
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------- the listener
    def _on_batch(self, batch: Batch) -> None:
        if not isinstance(batch, SeriesBatch) or self._stop.is_set():
            return
        for pt in batch.points:
            for i, rule in enumerate(self.rules):
                if rule.matches(pt.name):
                    self._feed(i, rule, pt.name, float(pt.t), float(pt.value))

    def _feed(self, i: int, rule: TriggerRule, name: str, t: float, v: float) -> None:
        key = (i, name)
        tr = self._tracks.get(key)
        if tr is None:
            tr = self._tracks[key] = _Track()
        value = v
        if rule.rate:
            prev_t, prev_v = tr.prev_t, tr.prev_v
            tr.prev_t, tr.prev_v = t, v
            if prev_t is None or t <= prev_t:
                return
            value = (v - prev_v) / (t - prev_t)
        if not math.isfinite(value) or not rule.holds(value):
            tr.since = None
            tr.fired = False  # re-armed: the next excursion fires again
            return
        if tr.since is None:
            tr.since = t
        if tr.fired or t - tr.since < rule.for_s:
            return
        tr.fired = True
        self.stats.fired += 1
        firing = Firing(rule, name, t, value)
        if self._busy.is_set() or self.stats.captured + self.stats.failed >= self.max_captures:
            self.stats.skipped_busy += 1
            return
        try:
            self._queue.put_nowait(firing)
        except queue.Full:
            self.stats.skipped_busy += 1

    # ---------------------------------------------------------------- the worker
    def _work(self) -> None:
        while not self._stop.is_set():
            firing = self._queue.get()
            if firing is None:
                return
            self._busy.set()
            try:
                self._capture(firing)
            finally:
                self._busy.clear()

    def _capture(self, f: Firing) -> None:
        n = self.stats.captured + self.stats.failed + 1
        prefix = f"trigger{n}"
        rule = f.rule
        what = f"{f.series}={f.value:.4g} ({rule.text})"
        sink = _KeyedSink(self.session, prefix)
        self.session.put(
            EventBatch(self.clock(), "trigger", f"{prefix}: {what}: {rule.kind} {rule.capture_s:g}s", self.target)
        )
        try:
            handle = self.starter(rule.kind, rule.capture_s, sink)
        except WorkbenchError as exc:
            self._failed(prefix, str(exc))
            return
        try:
            if not self._stop.wait(rule.capture_s):
                handle.join(0.0)
        finally:
            handle.stop()
        err = handle.status().error
        if not sink.keys:
            self._failed(prefix, str(err) if err else f"{rule.kind} capture got no samples")
            return
        self.stats.captured += 1
        self.stats.keys.extend(sink.keys)
        note = f" ({err.message})" if err is not None else ""
        self.session.put(
            EventBatch(self.clock(), "trigger-done", f"{prefix}: stored {', '.join(sink.keys)}{note}", self.target)
        )

    def _failed(self, prefix: str, message: str) -> None:
        self.stats.failed += 1
        self.stats.errors.append(f"{prefix}: {message}")
        del self.stats.errors[:-20]
        self.session.put(EventBatch(self.clock(), "trigger-failed", f"{prefix}: {message}", self.target))


def check_rules(controller: CaptureController, plan: Plan, rules: list[TriggerRule]) -> None:
    """Refuse rules the plan's target cannot serve before anything attaches."""
    for rule in rules:
        try:
            controller.source_for_kind(plan, rule.kind)
        except PluginError as exc:
            raise TriggerSyntaxError(f"trigger {rule.text!r}: {exc.message}", exc.fix) from exc

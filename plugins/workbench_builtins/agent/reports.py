"""Agent messages -> session batches (series names per DESIGN.md).

- ``gc``: ``python.gc.gen<N>.collections|collected|uncollectable|threshold|count`` (counts since
  the process started, from ``gc.get_stats``), ``python.gc.pause_s`` (one point per
  collection, at its end; at most the 200 longest per report, from the agent's
  ``gc.callbacks`` start/stop timing) and ``python.gc.gen<N>.pause_s``, ``python.gc.frozen``,
  and the agent's own cost: ``python.agent.cpu_s`` (its thread's CPU time),
  ``python.agent.overhead_ratio`` (that CPU over wall time), ``python.agent.census_s``.
- ``census``: ``python.container.<name>.len`` and ``.bytes`` for the largest containers,
  plus one ``Finding`` per container with ``suspect=False``: the snapshot the leak engine
  judges (length history as the sparkline, change since the last census in the
  evidence). ``where`` is the innermost frame in the user's code that allocated the
  newest entries (``stack`` holds its ``function (file:line)`` frames, root first), found
  by a short tracemalloc window the agent opens when a container grows (or tracemalloc
  the target or the user turned on), else the path the container was reached by. The census findings carry ``target="agent:<pid>"`` and are replaced at each
  census, so they stay bounded.
- ``pools``: ``pool.<name>.open|in_use|idle|max_open|wait_count|wait_s`` plus the
  library's raw numbers (SQLAlchemy ``size``, ``checkedout``, ``overflow``, ``checkedin``).
- ``tasks``: the asyncio tasks' awaiting chains, sampled in the target (``_TaskSampler``):
  one ``ProfileBatch`` per report into the wall profile ``agent:<pid>:wall`` (sample types
  samples and wall nanoseconds, a sample = one task seen once, worth the time since the
  previous sample: the sampler slows down to keep its cost under 2 % of the target's time).
  Each stack is ``task <name>`` (root), the coroutine frames outermost first, and a state
  frame (``[semaphore wait]``, ``[socket read]``, ``[running]``...) that
  ``analysis.waits`` classifies, so a task queued on a semaphore-based pool waits for a pool.

Names come from the target (attribute names are untrusted): they are reduced to a
safe alphabet and length before becoming series names.
"""

from __future__ import annotations

import collections
import re
from typing import Any

import numpy as np

from workbench.analysis.waits import state_frame
from workbench.formats.collapsed import parse_frame
from workbench.model import SAMPLES, WALL_NS, Frame, FrameTable, ProfileBatch, ProfileKey, Runtime, StackSet
from workbench.model.findings import CENSUS_SOURCE, Finding
from workbench.model.series import SeriesPoint
from workbench.model.session import Batch, EventBatch, EventKind, FindingsBatch, SeriesBatch

MAX_CONTAINER_SERIES = 100  # per census; the session caps series overall
HISTORY = 32  # census lengths kept per container for the sparkline
MAX_TRACKED = 400  # containers with history; the least recently seen are forgotten
MAX_TASK_STACKS = 2000  # per report (the agent caps it too)
MAX_TASK_FRAMES = 66  # root, 64 awaitables, state
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_POOL_FIELDS = {
    "open": "connections",
    "in_use": "connections",
    "idle": "connections",
    "max_open": "connections",
    "wait_count": "waits",
    "wait_s": "s",
    "size": "connections",
    "checkedout": "connections",
    "overflow": "connections",
    "checkedin": "connections",
}


def safe_name(name: str, limit: int = 120) -> str:
    """A series-name part: letters, digits, ``_ . -`` only, bounded."""
    out = _UNSAFE.sub("_", str(name))[:limit].strip(".")
    return out or "_"


def safe_text(text: str, limit: int = 200) -> str:
    """Free text from the target (a reachability path): one line, bounded; exporters escape."""
    return _CONTROL.sub(" ", str(text))[:limit]


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


class ReportConverter:
    """Stateful: remembers container lengths across censuses (bounded)."""

    def __init__(self, target: str, label: str = "", tasks_key: ProfileKey | None = None) -> None:
        self.target = target  # the findings' target ("agent:PID"): a new census replaces the last
        self.label = label or target  # the capture target's Target.label(), on timeline markers
        self.tasks_key = tasks_key  # where asyncio task stacks go (None: dropped)
        self.task_reports = 0
        self.tasks_max = 0
        self._history: collections.OrderedDict[str, collections.deque[tuple[float, int]]] = collections.OrderedDict()
        self._last_cpu: tuple[float, float] | None = None
        self.censuses = 0
        self.partial_censuses = 0
        self.last_census: dict[str, Any] = {}

    def convert(self, msg: dict[str, Any]) -> list[Batch]:
        kind = msg.get("type")
        if kind == "gc":
            return self._gc(msg)
        if kind == "census":
            return self._census(msg)
        if kind == "pools":
            return self._pools(msg)
        if kind == "tasks":
            return self._tasks(msg)
        return []

    def _tasks(self, msg: dict[str, Any]) -> list[Batch]:
        t0, t1, period = _num(msg.get("t0")), _num(msg.get("t1")), _num(msg.get("period_s"))
        raw = msg.get("stacks")
        if self.tasks_key is None or t0 is None or t1 is None or period is None or not isinstance(raw, list):
            return []
        table = FrameTable()
        ids: dict[tuple[str, str, int], int] = {}
        flat: list[int] = []
        offsets = [0]
        counts: list[float] = []
        seconds: list[float] = []
        for entry in raw[:MAX_TASK_STACKS]:
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], list)):
                continue
            n, w = _num(entry[0]), _num(entry[1])
            frames = [f for f in entry[2][:MAX_TASK_FRAMES] if isinstance(f, list) and len(f) == 3]
            if n is None or n <= 0 or w is None or w < 0 or not frames:
                continue
            for f in frames:
                key = (safe_text(str(f[0])), safe_text(str(f[1]), 500), int(_num(f[2]) or 0))
                fid = ids.get(key)
                if fid is None:
                    fid = ids[key] = table.intern(_task_frame(*key))
                flat.append(fid)
            offsets.append(len(flat))
            counts.append(n)
            seconds.append(w)
        if not counts:
            return []
        self.task_reports += 1
        self.tasks_max = max(self.tasks_max, int(_num(msg.get("tasks_max")) or 0))
        values = np.stack([np.asarray(counts, dtype=np.float64), np.asarray(seconds, dtype=np.float64) * 1e9], axis=1)
        stacks = StackSet(table, np.asarray(flat, dtype=np.int64), np.asarray(offsets, dtype=np.int64), values)
        meta = {
            "profile": "asyncio tasks' awaiting coroutine chains (runtime agent)",
            "tasks_max": str(self.tasks_max),
            "sampling_period_s": f"{period:g}",
            "sampler_cost": f"{(_num(msg.get('cost_s')) or 0.0) / max(t1 - t0, 1e-9):.2%} of the target's time",
        }
        if _num(msg.get("truncated")):
            meta["tasks_truncated"] = "some samples walked only the first 2000 tasks"
        return [ProfileBatch(self.tasks_key, (SAMPLES, WALL_NS), stacks, t0, t1, meta=meta, runtime="python")]

    def _gc(self, msg: dict[str, Any]) -> list[Batch]:
        t = float(msg.get("t", 0.0))
        pts: list[SeriesPoint] = []
        for gen, st in enumerate(msg.get("stats", [])[:4]):
            if not isinstance(st, dict):
                continue
            for key, unit in (("collections", "collections"), ("collected", "objects"), ("uncollectable", "objects")):
                v = _num(st.get(key))
                if v is not None:
                    pts.append(SeriesPoint(f"python.gc.gen{gen}.{key}", t, v, unit))
        for key, unit in (("threshold", "allocations"), ("count", "allocations")):
            for gen, v in enumerate(msg.get(key, [])[:4]):
                if (fv := _num(v)) is not None:
                    pts.append(SeriesPoint(f"python.gc.gen{gen}.{key}", t, fv, unit))
        if (frozen := _num(msg.get("frozen"))) is not None:
            pts.append(SeriesPoint("python.gc.frozen", t, frozen, "objects"))
        for p in msg.get("pauses", []):
            if not (isinstance(p, list) and len(p) >= 3):
                continue
            pt, pgen, dur = _num(p[0]), _num(p[1]), _num(p[2])
            if pt is None or pgen is None or dur is None:
                continue
            pts.append(SeriesPoint("python.gc.pause_s", pt, dur, "s"))
            pts.append(SeriesPoint(f"python.gc.gen{int(pgen)}.pause_s", pt, dur, "s"))
        agent = msg.get("agent", {})
        if isinstance(agent, dict) and (cpu := _num(agent.get("cpu_s"))) is not None:
            pts.append(SeriesPoint("python.agent.cpu_s", t, cpu, "s"))
            if self._last_cpu is not None and t > self._last_cpu[0]:
                ratio = max(0.0, cpu - self._last_cpu[1]) / (t - self._last_cpu[0])
                pts.append(SeriesPoint("python.agent.overhead_ratio", t, ratio, "ratio"))
            self._last_cpu = (t, cpu)
        return [SeriesBatch(pts)] if pts else []

    def _census(self, msg: dict[str, Any]) -> list[Batch]:
        t = float(msg.get("t", 0.0))
        self.censuses += 1
        self.last_census = {k: v for k, v in msg.items() if k != "containers"}
        pts = [SeriesPoint("python.agent.census_s", t, float(msg.get("dur_s", 0.0)), "s")]
        out: list[Batch] = []
        if msg.get("partial"):
            self.partial_censuses += 1
            if self.partial_censuses in (1, 10, 100):  # say so, without flooding the timeline
                out.append(
                    EventBatch(
                        t,
                        EventKind.AGENT_CENSUS_PARTIAL,
                        f"container census cut at its {float(msg.get('budget_s', 0)) * 1000:.0f} ms budget "
                        f"(phase {msg.get('phase')}); the heap scan resumes next time",
                        self.label,
                    )
                )
        findings: list[Finding] = []
        for c in msg.get("containers", [])[:MAX_CONTAINER_SERIES]:
            if not isinstance(c, dict):
                continue
            n, size = _num(c.get("len")), _num(c.get("bytes"))
            if n is None or size is None:
                continue
            name = safe_name(str(c.get("name", "")))
            pts.append(SeriesPoint(f"python.container.{name}.len", t, n, "items"))
            pts.append(SeriesPoint(f"python.container.{name}.bytes", t, size, "bytes"))
            hist = self._history.pop(name, None) or collections.deque(maxlen=HISTORY)
            prev = hist[-1] if hist else None
            hist.append((t, int(n)))
            self._history[name] = hist
            findings.append(self._finding(c, name=name, hist=hist, prev=prev, t=t, n=int(n), size=size))
        while len(self._history) > MAX_TRACKED:
            self._history.popitem(last=False)
        out.insert(0, SeriesBatch(pts))
        out.append(FindingsBatch(findings, replace_target=self.target))
        return out

    def _finding(
        self,
        c: dict[str, Any],
        *,
        name: str,
        hist: collections.deque[tuple[float, int]],
        prev: tuple[float, int] | None,
        t: float,
        n: int,
        size: float,
    ) -> Finding:
        t0, n0 = hist[0]
        rate = (n - n0) / (t - t0) * 60.0 if t > t0 else 0.0
        delta = "first census" if prev is None else f"{n - prev[1]:+d} since the last census"
        kind = str(c.get("kind", "map"))
        path = safe_text(str(c.get("path", "")))
        # root first, "function (file:line)"; the innermost 32 frames are the filling code and its callers
        site = [safe_text(str(f)) for f in c.get("site", [])[-32:]] if isinstance(c.get("site"), list) else []
        where = safe_text(str(c.get("where") or (site[-1] if site else path)))
        return Finding(
            kind=kind if kind in ("map", "list", "set", "buffer") else "objects",
            name=name,
            where=where,
            growth_per_min=rate,
            unit="items",
            confidence=0.0,  # a census entry, not a verdict: the leak engine judges the series
            evidence=f"census: {safe_name(str(c.get('type', '')), 40)} len {n} ({delta}), ~{int(size)} bytes, "
            f"{int(_num(c.get('instances')) or 1)} instance(s), reachable as {path}",
            target=self.target,
            suspect=False,
            t=t,
            sparkline=[float(v) for _, v in hist],
            stack=site,
            source=CENSUS_SOURCE,
        )

    def _pools(self, msg: dict[str, Any]) -> list[Batch]:
        t = float(msg.get("t", 0.0))
        pts = []
        for p in msg.get("pools", []):
            if not isinstance(p, dict):
                continue
            name = safe_name(str(p.get("name", "pool")), 60).replace(".", "_")
            for key, unit in _POOL_FIELDS.items():
                if (v := _num(p.get(key))) is not None:
                    pts.append(SeriesPoint(f"pool.{name}.{key}", t, v, unit))
        return [SeriesBatch(pts)] if pts else []


def _task_frame(function: str, file: str, line: int) -> Frame:
    """A task stack's frame: the root (``task NAME``), a state (``[sleep]``), or a coroutine
    frame made as py-spy's are (so the same code is the same frame in both profiles)."""
    if not file:
        if function.startswith("[") and function.endswith("]"):
            return state_frame(function[1:-1])
        return Frame(function, runtime=Runtime.PYTHON)
    return parse_frame(f"{function} ({file}:{line})" if line > 0 else f"{function} ({file})")

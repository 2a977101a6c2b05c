"""A wall-clock profile of every goroutine, from goroutine dumps sampled over time.

Go's CPU profile sees only goroutines on a CPU; a handler queued for a pool connection,
a lock or a channel is invisible there. ``/debug/pprof/goroutine?debug=2`` lists every
goroutine with its stack and its state (``[select]``, ``[chan receive, 3 minutes]``,
``[IO wait]``, ``[running]``). Sampling it N times a second and weighting each goroutine
by the time since the previous dump gives wall time per stack; the state becomes the
leaf frame (``[select]``) so the "Waiting on" view and the flame graph group waits by it.
A goroutine Go says has waited a minute or more gets ``[state, parked]``: leaked or
background, hidden with one click.

Cost and bounds: a debug=2 dump stops the world while it walks every stack, so its cost
grows with the goroutine count. The interval is ``max(1/hz, elapsed / budget)``, the
least elapsed time of the last five dumps over the share of the service's time we may
spend in dumps (2 % by default): 50 goroutines dump in ~1.5 ms (13 Hz), 10,000 in ~40 ms
(one dump every 2 s). Responses are capped (``max_mb``), stacks are
cut at MAX_FRAMES, and one batch holds only distinct stacks.

Where the service serves ``/debug/fgprof`` (github.com/felixge/fgprof), its wall profile is
fetched instead: it samples in-process, at 99 Hz, without a dump per sample.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from workbench.analysis.waits import PARKED_MARK, share_series_name, wait_shares
from workbench.capture import Job
from workbench.errors import WorkbenchError
from workbench.model import SAMPLES, WALL_NS, Frame, FrameTable, ProfileBatch, SeriesBatch, SeriesPoint, StackSet
from workbench.model.frames import TRUNCATED_STACK, Runtime
from workbench.model.keys import WALL

from .client import CPU_TIMEOUT_SLACK_S, Backoff
from .errors import ProfileNotServed
from .profiles import column_indices, decode_profile

if TYPE_CHECKING:
    from .capture import PprofCapture

MAX_FRAMES = 256
MAX_STACKS_PER_BATCH = 50_000
BATCH_S = 1.0
_HEADER = re.compile(r"^goroutine (\d+)(?: [^\[]*)?\[([^\]]*)\]:\s*$")
_MINUTES = re.compile(r"^\d+ minutes?$")
_FILE_LINE = re.compile(r"^\s+(.*?):(\d+)(?: \+0x[0-9a-f]+)?\s*$")


@dataclass(slots=True)
class Goroutine:
    state: str
    parked: bool  # Go reports a wait of a minute or more
    frames: list[Frame]  # leaf first, without the state


def _state(text: str) -> tuple[str, bool]:
    """``select, 2 minutes`` -> (``select``, True); ``running`` -> (``running``, False)."""
    parts = [p.strip() for p in text.split(",")]
    parked = any(_MINUTES.match(p) for p in parts[1:])
    return parts[0] or "unknown", parked


def _function(line: str) -> str:
    """``net/http.(*conn).serve(0xc000, {0x1, 0x2})`` -> ``net/http.(*conn).serve``."""
    s = line.strip()
    if s.endswith(")"):
        cut = s.rfind("(")
        if cut > 0:
            return s[:cut]
    return s


def parse_dump(text: str) -> Iterator[Goroutine]:
    """Goroutines of a ``goroutine?debug=2`` dump; lines that fit no shape are skipped."""
    cur: Goroutine | None = None
    pending: str | None = None  # a function line waiting for its file:line
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _HEADER.match(line)
        if m is not None:
            if cur is not None:
                yield cur
            state, parked = _state(m.group(2))
            cur, pending = Goroutine(state, parked, []), None
            continue
        if cur is None:
            continue
        if line.startswith(("\t", " ")):
            fl = _FILE_LINE.match(line)
            if pending is not None and fl is not None and len(cur.frames) < MAX_FRAMES:
                cur.frames.append(Frame(pending, fl.group(1), int(fl.group(2)), runtime=Runtime.GO))
            pending = None
            continue
        # "created by X in goroutine N" names the parent, not a frame of this stack
        if line.startswith("created by ") or line.startswith("...additional frames elided"):
            pending = None
            continue
        pending = _function(line)
    if cur is not None:
        yield cur


class WallAggregator:
    """Goroutine dumps -> distinct stacks with (samples, wall ns), one batch at a time."""

    def __init__(self) -> None:
        self.table = FrameTable()
        self._agg: dict[tuple[int, ...], list[float]] = {}
        self._state_ids: dict[tuple[str, bool], int] = {}
        self._trunc = -1
        self.dumps = 0
        self.goroutines = 0  # in the last dump

    def _state_id(self, state: str, parked: bool) -> int:
        key = (state, parked)
        fid = self._state_ids.get(key)
        if fid is None:
            name = f"[{state}, {PARKED_MARK}]" if parked else f"[{state}]"
            fid = self._state_ids[key] = self.table.intern(Frame(name, runtime=Runtime.GO))
        return fid

    def add(self, goroutines: Iterable[Goroutine], weight_ns: float) -> None:
        n = 0
        intern = self.table.intern
        for g in goroutines:
            n += 1
            ids = [intern(f) for f in reversed(g.frames)]
            if len(g.frames) >= MAX_FRAMES:
                if self._trunc < 0:
                    self._trunc = intern(TRUNCATED_STACK)
                ids.insert(0, self._trunc)
            ids.append(self._state_id(g.state, g.parked))
            key = tuple(ids)
            v = self._agg.get(key)
            if v is None:
                if len(self._agg) >= MAX_STACKS_PER_BATCH:
                    continue  # bounded: a pathological service loses distinct stacks, not memory
                v = self._agg[key] = [0.0, 0.0]
            v[0] += 1
            v[1] += weight_ns
        self.dumps += 1
        self.goroutines = n

    def take(self) -> StackSet:
        """The stacks added since the last take (the frame table is kept: ids stay stable)."""
        agg, self._agg = self._agg, {}
        n = len(agg)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter((len(k) for k in agg), dtype=np.int64, count=n), out=offsets[1:])
        flat = np.fromiter((f for k in agg for f in k), dtype=np.int64, count=int(offsets[-1]))
        vals = np.array(list(agg.values()), dtype=np.float64).reshape(n, 2)
        return StackSet(self.table, flat, offsets, vals)


def _emit(cap: PprofCapture, ss: StackSet, t0: float, t1: float, meta: dict[str, str]) -> None:
    if len(ss) == 0:
        return
    cap._put(
        ProfileBatch(cap.key(WALL), (SAMPLES, WALL_NS), ss, t0, t1, source="pprof", meta=meta, runtime=cap.runtime),
        samples=int(ss.values[:, 0].sum()),
    )
    shares = wait_shares(ss, 1)  # parked goroutines left out: what live work waits on
    cap._put(SeriesBatch([SeriesPoint(cap.series_name(share_series_name(k)), t1, v, "") for k, v in shares.items()]))


def wall_loop(cap: PprofCapture, job: Job[None]) -> None:
    """The wall worker: fgprof windows if served, else sampled goroutine dumps."""
    if _fgprof_loop(cap, job):
        return
    hz = max(0.1, float(cap.opts.get("wall_hz") or 20.0))
    budget = min(0.5, max(0.001, float(cap.opts.get("wall_budget") or 2.0) / 100.0))
    backoff = Backoff(base_s=0.0, max_s=30.0, slow_s=float(cap.opts["timeout"]) / 2)
    agg = WallAggregator()
    recent: deque[float] = deque(maxlen=5)
    last_t: float | None = None
    batch_t0 = time.time()
    interval = 1.0 / hz
    meta = {"url": cap.url, "kind": WALL, "sampler": "goroutine?debug=2 dumps", "values": "wall time per goroutine"}
    while not job.cancelled:
        left = cap._time_left()
        if left is not None and left <= 0:
            break
        t_req = time.time()
        try:
            resp = cap.client.get("/debug/pprof/goroutine?debug=2", max_bytes=cap.max_bytes, what="goroutine dump")
        except ProfileNotServed as exc:
            cap._fail(exc, "wall")
            return
        except WorkbenchError as exc:
            if job.cancelled:
                break
            cap._problem(exc, "wall")
            backoff.failure()
            if cap._wait(job, backoff.delay()):
                break
            continue
        cap._ok()
        backoff.success(resp.elapsed_s)
        t = t_req + resp.elapsed_s / 2  # the dump's moment: the middle of the exchange
        # each goroutine stands for the time since the previous dump (the first, one interval)
        weight_s = interval if last_t is None else t - last_t
        last_t = t
        agg.add(parse_dump(resp.text()), weight_s * 1e9)
        with cap._lock:
            cap._snapshots[WALL] = agg.dumps
        # the cap on the service's time in dumps: slow dumps (many goroutines) space out. The
        # least of the recent exchanges is the dump's own cost; the rest is our side's scheduling
        recent.append(resp.elapsed_s)
        interval = max(1.0 / hz, min(recent) / budget)
        meta["interval_s"] = f"{interval:.3f}"
        now = time.time()
        if now - batch_t0 >= BATCH_S:
            _emit(cap, agg.take(), batch_t0, now, dict(meta))
            batch_t0 = now
        if cap._wait(job, max(0.0, interval - (time.time() - t_req))):
            break
    _emit(cap, agg.take(), batch_t0, time.time(), dict(meta))


def _fgprof_loop(cap: PprofCapture, job: Job[None]) -> bool:
    """Fetch /debug/fgprof windows; False (at once) when the service does not serve it."""
    secs = 1
    fetched = 0
    while not job.cancelled:
        left = cap._time_left()
        if left is not None:
            if left < 0.5:
                return fetched > 0
            secs = max(1, min(secs, round(left)))
        t0 = time.time()
        try:
            resp = cap.client.get(
                f"/debug/fgprof?seconds={secs}&format=pprof",
                timeout_s=secs + CPU_TIMEOUT_SLACK_S,
                max_bytes=cap.max_bytes,
                what="fgprof profile",
            )
            prof = decode_profile(resp, "fgprof")
        except WorkbenchError as exc:
            if fetched == 0:
                return False  # not served (404) or not fgprof: sample goroutine dumps instead
            if job.cancelled:
                return True
            cap._problem(exc, "wall")
            if cap._wait(job, 1.0):
                return True
            continue
        cols = column_indices(prof, ("samples", "time"))
        if cols is None:
            return fetched > 0
        ss = prof.to_stackset()
        ss = StackSet(ss.table, ss.frames, ss.offsets, ss.values[:, cols])
        meta = {"url": cap.url, "kind": WALL, "sampler": "fgprof", "seconds": str(secs)}
        _emit(cap, ss, t0, time.time(), meta)
        fetched += 1
        with cap._lock:
            cap._snapshots[WALL] = fetched
        secs = max(1, int(cap.opts["cpu_seconds"]))
    return True

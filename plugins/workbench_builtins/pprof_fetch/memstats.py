"""Go ``runtime.MemStats`` from two places, and GC pauses without double counting.

``/debug/vars`` publishes ``memstats`` as JSON; ``heap?debug=1`` ends with a
``# runtime.MemStats`` block of ``# Name = value`` lines. Both carry ``PauseNs`` and
``PauseEnd``: rings of the last 256 GC pauses, where GC number n (1-based) sits at
index ``(n + 255) % 256``. ``GcPauseTracker`` remembers the last NumGC it reported, so
each GC becomes exactly one point however often we poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.model import SeriesPoint

RING = 256
_BLOCK_MARKER = "# runtime.MemStats"
# the block is ~30 lines of which two hold 256 numbers each; anything longer is not it
_MAX_BLOCK_CHARS = 64 * 1024


@dataclass(slots=True)
class MemStats:
    heap_inuse: float | None = None
    heap_objects: float | None = None
    heap_alloc: float | None = None
    num_gc: int | None = None
    gc_cpu_fraction: float | None = None
    pause_total_ns: float | None = None
    pause_ns: list[int] = field(default_factory=list)
    pause_end: list[int] = field(default_factory=list)


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    return None


def _ring(v: Any) -> list[int]:
    if isinstance(v, list) and len(v) == RING and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        return [int(x) for x in v]
    return []


def memstats_from_expvar(obj: Mapping[str, Any]) -> MemStats | None:
    """The ``memstats`` object of ``/debug/vars`` (already JSON-decoded)."""
    if not isinstance(obj, Mapping) or "HeapInuse" not in obj:
        return None
    num_gc = _num(obj.get("NumGC"))
    return MemStats(
        heap_inuse=_num(obj.get("HeapInuse")),
        heap_objects=_num(obj.get("HeapObjects")),
        heap_alloc=_num(obj.get("HeapAlloc")),
        num_gc=int(num_gc) if num_gc is not None else None,
        gc_cpu_fraction=_num(obj.get("GCCPUFraction")),
        pause_total_ns=_num(obj.get("PauseTotalNs")),
        pause_ns=_ring(obj.get("PauseNs")),
        pause_end=_ring(obj.get("PauseEnd")),
    )


def _parse_ring_text(text: str) -> list[int]:
    inner = text.strip()
    if not (inner.startswith("[") and inner.endswith("]")):
        return []
    parts = inner[1:-1].split()
    if len(parts) != RING:
        return []
    try:
        return [int(p) for p in parts]
    except ValueError:
        return []


def memstats_from_heap_debug(text: str) -> MemStats | None:
    """The trailing ``# runtime.MemStats`` block of ``/debug/pprof/heap?debug=1``."""
    idx = text.rfind(_BLOCK_MARKER)
    if idx < 0:
        return None
    block = text[idx : idx + _MAX_BLOCK_CHARS]
    values: dict[str, str] = {}
    for line in block.splitlines()[1:]:
        if not line.startswith("# "):
            break
        key, sep, val = line[2:].partition(" = ")
        if sep:
            values[key.strip()] = val.strip()

    def f(key: str) -> float | None:
        try:
            return float(values[key])
        except (KeyError, ValueError):
            return None

    num_gc = f("NumGC")
    if f("HeapInuse") is None:
        return None
    return MemStats(
        heap_inuse=f("HeapInuse"),
        heap_objects=f("HeapObjects"),
        heap_alloc=f("HeapAlloc"),
        num_gc=int(num_gc) if num_gc is not None else None,
        gc_cpu_fraction=f("GCCPUFraction"),
        pause_total_ns=None,  # not printed in the text block
        pause_ns=_parse_ring_text(values.get("PauseNs", "")),
        pause_end=_parse_ring_text(values.get("PauseEnd", "")),
    )


class GcPauseTracker:
    """Turns successive MemStats into one pause point per new GC.

    The first observation is a baseline (GCs before the capture are not replayed). If
    more than 256 GCs happened between polls the oldest are gone from the ring: they are
    counted in ``missed``. NumGC going down means the service restarted: new baseline.
    """

    def __init__(self) -> None:
        self.last_num_gc: int | None = None
        self.missed = 0
        self.reported = 0

    def update(self, ms: MemStats, now: float | None = None) -> list[tuple[float, float]]:
        """(time in epoch seconds, pause in ns) for every GC since the previous call."""
        now = time.time() if now is None else now
        n = ms.num_gc
        if n is None or len(ms.pause_ns) != RING:
            return []
        prev = self.last_num_gc
        self.last_num_gc = n
        if prev is None or n < prev:
            return []
        first = prev + 1
        if n - prev > RING:
            self.missed += n - prev - RING
            first = n - RING + 1
        out: list[tuple[float, float]] = []
        for gc in range(first, n + 1):
            i = (gc + RING - 1) % RING
            end_ns = ms.pause_end[i] if len(ms.pause_end) == RING else 0
            t = end_ns / 1e9
            # the service's clock may differ from ours (remote host): trust it only when close
            if not (now - 3600.0 < t <= now + 60.0):
                t = now
            out.append((t, float(ms.pause_ns[i])))
        out.sort()
        self.reported += len(out)
        return out


def memstats_points(ms: MemStats, t: float, tracker: GcPauseTracker, name: Callable[[str], str]) -> list[SeriesPoint]:
    """Series points of one MemStats observation; ``name`` maps a DESIGN.md name to the target's."""
    pts: list[SeriesPoint] = []
    if ms.heap_inuse is not None:
        pts.append(SeriesPoint(name("go.heap_inuse_bytes"), t, ms.heap_inuse, "bytes"))
    if ms.heap_objects is not None:
        pts.append(SeriesPoint(name("go.heap_objects"), t, ms.heap_objects, "count"))
    if ms.num_gc is not None:
        pts.append(SeriesPoint(name("go.gc.count"), t, float(ms.num_gc), "count"))
    if ms.gc_cpu_fraction is not None:
        pts.append(SeriesPoint(name("go.gc.cpu_fraction"), t, ms.gc_cpu_fraction, "ratio"))
    for tp, pause in tracker.update(ms, t):
        pts.append(SeriesPoint(name("go.gc.pause_ns"), tp, pause, "ns"))
    return pts

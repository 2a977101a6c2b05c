"""What a person reads for a series: its name in words, its unit, whether it is a counter.

Capture sources name series with dotted identifiers (``pool.db.wait_count``,
``go.gc.pause_ns``); charts, hover text and the CLI show ``db waits/s`` and ``GC pause 1.2 ms``.
One declared table decides, per name pattern, the words, the display unit, a scale into that
unit (nanoseconds become seconds, so Go and Python GC pauses share an axis) and whether the
series is a counter that only ever grows (a GC count, a pool's wait count): counters are
shown as rates, since their slope is what moves when the service gets worse.

A series from a labelled capture (``go.goroutines@billing``) is read as its base name plus
the label, so one table serves every service in a session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from ..model.units import format_quantity

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SeriesKind:
    """One row of the table: ``pattern`` is the dotted name with ``*`` for one name part
    (a pool's or generation's name); ``label`` may use ``{0}``, ``{1}`` for those parts."""

    pattern: str
    label: str
    unit: str  # the unit after ``scale`` (and after the rate for counters): bytes, s, %, /s, s/s, count
    counter: bool = False
    scale: float = 1.0
    stored_unit: bool = False  # the unit the series was stored with (a histogram's is its family's)


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    name: str  # the dotted name, as stored (shown in tooltips)
    label: str  # words, with the capture label appended as " @label"
    unit: str
    counter: bool
    scale: float


SERIES_KINDS: tuple[SeriesKind, ...] = (
    # any process (psutil)
    SeriesKind("process.cpu_percent", "CPU", "%"),
    SeriesKind("process.rss_bytes", "RSS", "bytes"),
    SeriesKind("process.uss_bytes", "USS", "bytes"),
    SeriesKind("process.threads", "threads", "count"),
    SeriesKind("process.fds", "open files", "count"),
    SeriesKind("process.connections.*", "connections to {0}", "count"),
    SeriesKind("process.tcp_states.*", "TCP {0}", "count"),
    # Go runtime (expvar memstats, Prometheus)
    SeriesKind("go.heap_inuse_bytes", "heap in use", "bytes"),
    SeriesKind("go.heap_objects", "heap objects", "count"),
    SeriesKind("go.goroutines", "goroutines", "count"),
    SeriesKind("go.threads", "OS threads", "count"),
    SeriesKind("go.gc.count", "Go GCs/s", "/s", counter=True),
    SeriesKind("go.gc.pause_ns", "Go GC pause", "s", scale=1e-9),
    SeriesKind("go.gc.cpu_fraction", "GC share of CPU", "%", scale=100.0),
    # Python runtime agent
    SeriesKind("python.gc.pause_s", "Python GC pause", "s"),
    SeriesKind("python.gc.gen*.pause_s", "gen {0} GC pause", "s"),
    SeriesKind("python.gc.gen*.collections", "gen {0} collections/s", "/s", counter=True),
    SeriesKind("python.gc.gen*.collected", "gen {0} objects freed/s", "/s", counter=True),
    SeriesKind("python.gc.gen*.uncollectable", "gen {0} uncollectable/s", "/s", counter=True),
    SeriesKind("python.gc.gen*.threshold", "gen {0} threshold", "count"),
    SeriesKind("python.gc.gen*.count", "gen {0} allocations pending", "count"),
    SeriesKind("python.gc.frozen", "frozen objects", "count"),
    SeriesKind("python.container.*.len", "{0} items", "count"),
    SeriesKind("node.container.*.len", "{0} items", "count"),
    SeriesKind("python.container.*.bytes", "{0} size", "bytes"),
    SeriesKind("python.agent.cpu_s", "agent CPU", "%", counter=True, scale=100.0),
    SeriesKind("python.agent.overhead_ratio", "agent overhead", "%", scale=100.0),
    SeriesKind("python.agent.census_s", "census time", "s"),
    # connection pools (database/sql, pgxpool, go-redis, SQLAlchemy, psycopg_pool, redis-py)
    SeriesKind("pool.*.open", "{0} open", "connections"),
    SeriesKind("pool.*.in_use", "{0} in use", "connections"),
    SeriesKind("pool.*.idle", "{0} idle", "connections"),
    SeriesKind("pool.*.max_open", "{0} max", "connections"),
    SeriesKind("pool.*.size", "{0} size", "connections"),
    SeriesKind("pool.*.checkedout", "{0} checked out", "connections"),
    SeriesKind("pool.*.checkedin", "{0} checked in", "connections"),
    SeriesKind("pool.*.overflow", "{0} overflow", "connections"),
    SeriesKind("pool.*.wait_count", "{0} waits/s", "/s", counter=True),
    # seconds waited per second: how many callers were waiting for a connection, on average
    SeriesKind("pool.*.wait_s", "{0} wait time/s", "s/s", counter=True),
    # a service's own Prometheus histograms (pprof-fetch reads /metrics): quantiles in the
    # family's unit, seconds for nearly all of them; the observation count as the request rate
    SeriesKind("hist.*.p50", "{0} p50", "s", stored_unit=True),
    SeriesKind("hist.*.p90", "{0} p90", "s", stored_unit=True),
    SeriesKind("hist.*.p99", "{0} p99", "s", stored_unit=True),
    SeriesKind("hist.*.count", "{0} requests/s", "/s", counter=True),
    # PromQL series under the names the Services view's ready queries give them
    SeriesKind("p50", "p50", "s"),
    SeriesKind("p50{*}", "p50 {{{0}}}", "s"),
    SeriesKind("p99", "p99", "s"),
    SeriesKind("p99{*}", "p99 {{{0}}}", "s"),
    SeriesKind("error_ratio", "error ratio", "ratio"),
    SeriesKind("error_ratio{*}", "error ratio {{{0}}}", "ratio"),
    SeriesKind("pool_waits", "pool waits", "/s"),
    SeriesKind("pool_waits{*}", "pool waits {{{0}}}", "/s"),
    SeriesKind("gc_pause", "GC pause", "s"),
    SeriesKind("gc_pause{*}", "GC pause {{{0}}}", "s"),
    # Node (inspector)
    SeriesKind("node.rss_bytes", "RSS", "bytes"),
    SeriesKind("node.heap_used_bytes", "JS heap used", "bytes"),
    SeriesKind("node.heap_total_bytes", "JS heap total", "bytes"),
    SeriesKind("node.external_bytes", "external memory", "bytes"),
    SeriesKind("node.array_buffers_bytes", "array buffers", "bytes"),
)


@dataclass(frozen=True, slots=True)
class ChartDecl:
    """One chart: a title and the series patterns it plots, all in one ``unit``."""

    title: str
    patterns: tuple[str, ...]
    unit: str = ""


# one unit per chart: a wait count never shares an axis with a number of connections
DEFAULT_CHART_DECLS: tuple[ChartDecl, ...] = (
    ChartDecl("CPU", ("process.cpu_percent",), "%"),
    # latency in its own chart, next to CPU, so a p99 spike lines up with GC pauses and pool
    # waits below; PromQL series named p50/p99 (``--query 'p99=...'``) join it
    ChartDecl("latency", ("hist.*.p50", "hist.*.p99", "p50", "p50{*}", "p99", "p99{*}"), "s"),
    ChartDecl("requests", ("hist.*.count",), "/s"),
    ChartDecl("memory", ("process.rss_bytes", "process.uss_bytes", "go.heap_inuse_bytes", "node.heap_used_bytes"), "B"),
    ChartDecl("threads / goroutines", ("process.threads", "go.goroutines"), ""),
    ChartDecl("GC pauses", ("go.gc.pause_ns", "python.gc.pause_s", "gc_pause", "gc_pause{*}"), "s"),
    ChartDecl("GC runs", ("go.gc.count", "python.gc.gen*.collections"), "/s"),
    ChartDecl("pool connections", ("pool.*.open", "pool.*.in_use", "pool.*.idle", "pool.*.max_open"), ""),
    ChartDecl("pool waits", ("pool.*.wait_count", "pool_waits", "pool_waits{*}"), "/s"),
    ChartDecl("pool wait time", ("pool.*.wait_s",), "s/s"),
)

# wall profiles: the share of live (not parked) wall time waiting, by kind (analysis/waits.py)
SERIES_KINDS = (*SERIES_KINDS, SeriesKind("wait.*.share", "waiting: {0}", "%", scale=100.0))
DEFAULT_CHART_DECLS = (*DEFAULT_CHART_DECLS, ChartDecl("waiting by kind", ("wait.*.share",), "%"))


def base_name(name: str) -> tuple[str, str]:
    """``go.goroutines@billing`` -> (``go.goroutines``, ``billing``)."""
    base, _, label = name.partition("@")
    return base, label


def _regex(pattern: str) -> re.Pattern[str]:
    # ``*`` is one name part; a pool's name may itself hold dots, so it matches lazily across them
    return re.compile("^" + "(.+?)".join(re.escape(p) for p in pattern.split("*")) + "$")


_COMPILED = tuple((_regex(k.pattern), k) for k in SERIES_KINDS)


@lru_cache(maxsize=4096)
def describe(name: str, stored_unit: str = "") -> SeriesInfo:
    """Words and unit for a series; an undeclared one keeps its name and the unit it was stored with."""
    base, label = base_name(name)
    suffix = f" @{label}" if label else ""
    for rx, kind in _COMPILED:
        m = rx.match(base)
        if m is not None:
            unit = (stored_unit or kind.unit) if kind.stored_unit else kind.unit
            return SeriesInfo(name, kind.label.format(*m.groups()) + suffix, unit, kind.counter, kind.scale)
    unit = stored_unit or _unit_from_suffix(base)
    scale = 1e-9 if unit in ("ns", "nanoseconds") else 1.0
    return SeriesInfo(name, base + suffix, "s" if scale != 1.0 else unit, False, scale)


def _unit_from_suffix(name: str) -> str:
    for suffix, unit in (("_bytes", "bytes"), ("_ns", "ns"), ("_s", "s"), ("_percent", "%")):
        if name.endswith(suffix):
            return unit
    return ""


def display_values(info: SeriesInfo, times: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The points a chart plots: scaled into the display unit; a counter as its rate per second
    between consecutive points (a counter that went down was reset, e.g. a restart: no rate there)."""
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64) * info.scale
    if not info.counter:
        return t, v
    if len(t) < 2:
        return t[:0], v[:0]
    dt = np.diff(t)
    dv = np.diff(v)
    ok = (dt > 0) & (dv >= 0)
    return t[1:][ok], dv[ok] / dt[ok]


def value_at(info: SeriesInfo, times: FloatArray, values: FloatArray, t: float) -> float | None:
    """What the chart shows at ``t``: the last displayed point at or before it."""
    ts, vs = display_values(info, times, values)
    i = int(np.searchsorted(ts, t, side="right")) - 1
    return float(vs[i]) if i >= 0 else None


def format_series_value(info: SeriesInfo, value: float) -> str:
    """``RSS 120 MiB``, ``db waits/s 3.2``: the label and the value in its unit (a label that
    already says "/s" is not followed by another)."""
    unit = "" if info.unit == "/s" and info.label.split(" @")[0].endswith("/s") else info.unit
    return f"{info.label} {format_quantity(value, unit)}"

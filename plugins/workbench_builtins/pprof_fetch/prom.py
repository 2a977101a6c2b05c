"""Prometheus ``/metrics`` text: Go runtime, process and connection-pool families.

Parsed with prometheus_client's own parser. ``go_*`` and ``process_*`` feed the same
series names as expvar does; pool gauges from the common exporters (client_golang's
DBStats collector ``go_sql_*``, dlmiddlecote/sqlstats ``go_sql_stats_connections_*``,
pgxpool collectors ``*_acquired_conns``/``*_max_conns``, go-redis ``*_total_conns`` /
``*pool_conn_*_current``) become ``PoolSample``s named after their db label or prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from prometheus_client.parser import text_string_to_metric_families

from .errors import NotAProfile
from .histograms import FamilyCollector, HistFamily
from .pools import PoolSample, safe_pool_name

MAX_SAMPLES = 200_000

# sample name -> (series name, unit); only unlabelled samples are taken
RUNTIME_SERIES: dict[str, tuple[str, str]] = {
    "go_goroutines": ("go.goroutines", "count"),
    "go_memstats_heap_inuse_bytes": ("go.heap_inuse_bytes", "bytes"),
    "go_memstats_heap_objects": ("go.heap_objects", "count"),
    "go_gc_duration_seconds_count": ("go.gc.count", "count"),
    "go_memstats_gc_cpu_fraction": ("go.gc.cpu_fraction", "ratio"),
    "go_threads": ("go.threads", "count"),
    "process_resident_memory_bytes": ("process.rss_bytes", "bytes"),
    "process_open_fds": ("process.fds", "count"),
}
_POOL_LABELS = ("db_name", "db", "database", "pool", "name", "datname")
_CONNS = re.compile(r"^(?P<prefix>[A-Za-z_:][\w:]*?)_(?P<field>acquired|idle|total|max)_conns$")
_REDIS = re.compile(r"^(?P<prefix>[\w:]*?)_?pool_conn_(?P<field>total|idle)_current$")
_EMPTY_ACQUIRE = re.compile(r"^(?P<prefix>[A-Za-z_:][\w:]*?)_empty_acquire(?:_count)?(?:_total)?$")
_CONN_FIELDS = {"acquired": "in_use", "idle": "idle", "total": "open", "max": "max_open"}


@dataclass(slots=True)
class PromSnapshot:
    runtime: dict[str, tuple[float, str]] = field(default_factory=dict)  # series name -> (value, unit)
    cpu_seconds: float | None = None  # process_cpu_seconds_total, for a rate
    gc_pause_sum_s: float | None = None  # go_gc_duration_seconds_sum
    gc_count: float | None = None
    pools: list[PoolSample] = field(default_factory=list)
    histograms: dict[str, HistFamily] = field(default_factory=dict)  # family name -> its label sets
    samples: int = 0
    truncated: bool = False


def _sql_field(name: str) -> str | None:
    """Field of a ``go_sql_*`` sample, by keyword: exporters name them differently."""
    if "max_open" in name:
        return "max_open"
    if "in_use" in name:
        return "in_use"
    if "wait_count" in name or "waited_for" in name:
        return "wait_count"
    if "wait_duration" in name or "blocked_seconds" in name:
        return "wait_s"
    if "closed" in name or "max_idle" in name or "lifetime" in name:
        return None
    if "idle" in name:
        return "idle"
    if "open" in name:
        return "open"
    return None


def _pool_label(labels: dict[str, str]) -> str:
    for k in _POOL_LABELS:
        v = labels.get(k)
        if v:
            return v
    return ""


def parse_metrics(text: str) -> PromSnapshot:
    """Runtime series values and pool samples of one scrape."""
    snap = PromSnapshot()
    pools: dict[tuple[str, str], dict[str, float]] = {}
    where: dict[tuple[str, str], str] = {}
    hists = FamilyCollector()
    try:
        for fam in text_string_to_metric_families(text):
            # go_gc_duration_seconds is a summary; request latency families are histograms
            histogram = fam.type == "histogram"
            for s in fam.samples:
                snap.samples += 1
                if snap.samples > MAX_SAMPLES:
                    snap.truncated = True
                    break
                name, labels, value = s.name, s.labels, float(s.value)
                if histogram:
                    hists.add(fam.name, fam.unit, name, labels, value)
                    continue
                if not labels and name in RUNTIME_SERIES:
                    series, unit = RUNTIME_SERIES[name]
                    snap.runtime.setdefault(series, (value, unit))
                    if name == "go_gc_duration_seconds_count":
                        snap.gc_count = value
                    continue
                if not labels and name == "process_cpu_seconds_total":
                    snap.cpu_seconds = value
                    continue
                if not labels and name == "go_gc_duration_seconds_sum":
                    snap.gc_pause_sum_s = value
                    continue
                key: tuple[str, str] | None = None
                fld: str | None = None
                if name.startswith("go_sql_"):
                    fld = _sql_field(name)
                    if fld is not None:
                        key = ("go_sql", _pool_label(labels) or "sql")
                else:
                    m = _CONNS.match(name) or _REDIS.match(name)
                    if m is not None:
                        fld = _CONN_FIELDS[m.group("field")]
                        key = (m.group("prefix"), _pool_label(labels))
                    else:
                        m = _EMPTY_ACQUIRE.match(name)
                        if m is not None:
                            fld = "wait_count"
                            key = (m.group("prefix"), _pool_label(labels))
                if key is not None and fld is not None:
                    if key not in pools and len(pools) >= 64:
                        continue
                    pools.setdefault(key, {}).setdefault(fld, value)
                    where.setdefault(key, f"/metrics {key[0]}_*" + (f" {{{key[1]}}}" if key[1] else ""))
            if snap.truncated:
                break
    except (ValueError, TypeError, IndexError) as exc:
        raise NotAProfile(
            f"/metrics is not valid Prometheus text ({exc})",
            "check that the URL serves Prometheus' text exposition format",
        ) from None
    snap.histograms = hists.finish()
    for (prefix, label), vals in pools.items():
        if not ({"open", "in_use", "idle"} & vals.keys()):
            continue  # a lone counter (e.g. empty_acquire) is not a pool
        pname = label if prefix == "go_sql" else (f"{prefix}.{label}" if label else prefix)
        sample = PoolSample(
            name=safe_pool_name(pname),
            open=vals.get("open"),
            in_use=vals.get("in_use"),
            idle=vals.get("idle"),
            wait_count=vals.get("wait_count"),
            wait_s=vals.get("wait_s"),
            max_open=vals.get("max_open"),
            where=where[(prefix, label)],
        )
        if sample.in_use is None and sample.open is not None and sample.idle is not None:
            # go-redis reports total and idle only; in use is the difference
            sample = replace(sample, in_use=max(0.0, sample.open - sample.idle))
        snap.pools.append(sample)
    return snap

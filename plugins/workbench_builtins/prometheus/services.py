"""The services a Prometheus server scrapes: its active targets, and what it knows of each.

One ``/api/v1/targets`` call lists them (job, instance, health, last scrape); four instant
queries add what the server holds for all of them at once: the runtime (``go_info``,
``python_info``, ``nodejs_version_info``), p99 of request-latency histograms over the last
minute, CPU cores in use (rate of ``process_cpu_seconds_total``) and RSS. Each service's base
URL is probed once per ``PROBE_TTL_S`` for ``/debug/pprof/`` (one short GET, a small answer
cap, at most ``PROBE_WORKERS`` at a time): whether the workbench can profile it.
"""

from __future__ import annotations

import math
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from workbench.capture import ServiceInfo
from workbench.errors import WorkbenchError
from workbench_builtins.pprof_fetch.client import HttpClient
from workbench_builtins.pprof_fetch.discovery import parse_pprof_index
from workbench_builtins.pprof_fetch.errors import ProfileNotServed

from .client import PromClient

MAX_SERVICES = 500
PROBE_WORKERS = 8
PROBE_TIMEOUT_S = 2.0
PROBE_MAX_BYTES = 256 * 1024
PROBE_TTL_S = 300.0
_METRICS_PATHS = ("/metrics", "/debug/metrics", "/actuator/prometheus")
_KEY = tuple[str, str]  # (job, instance)

RUNTIME_QUERY = 'count by (job, instance, __name__) ({__name__=~"go_info|python_info|nodejs_version_info|jvm_info"})'
RUNTIME_OF = {"go_info": "go", "python_info": "python", "nodejs_version_info": "node", "jvm_info": "java"}
P99_QUERY = (
    "histogram_quantile(0.99, sum by (job, instance, le) "
    '(rate({__name__=~".+_request_duration_seconds_bucket|.+_request_latency_seconds_bucket"}[1m])))'
)
CPU_QUERY = "rate(process_cpu_seconds_total[1m])"
RSS_QUERY = "process_resident_memory_bytes"

# base URL -> (when probed, serves pprof); bounded, shared by every listing in this process
_probe_cache: dict[str, tuple[float, bool | None]] = {}
_probe_lock = threading.Lock()


def base_url(scrape_url: str) -> str:
    """``http://h:8080/metrics`` -> ``http://h:8080``: where its debug endpoints live."""
    parts = urllib.parse.urlsplit(scrape_url)
    path = parts.path.rstrip("/")
    for suffix in _METRICS_PATHS:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def probe_pprof(url: str) -> bool | None:
    """Whether ``url`` serves a /debug/pprof/ index; None when it could not be asked."""
    now = time.monotonic()
    with _probe_lock:
        hit = _probe_cache.get(url)
        if hit is not None and now - hit[0] < PROBE_TTL_S:
            return hit[1]
    answer: bool | None
    try:
        r = HttpClient(url, timeout_s=PROBE_TIMEOUT_S).get(
            "/debug/pprof/", max_bytes=PROBE_MAX_BYTES, what="pprof index"
        )
        answer = bool(parse_pprof_index(r.text()))
    except ProfileNotServed:
        answer = False
    except WorkbenchError:
        answer = None
    with _probe_lock:
        if len(_probe_cache) >= 4 * MAX_SERVICES:
            _probe_cache.clear()
        _probe_cache[url] = (now, answer)
    return answer


def _by_target(client: PromClient, query: str) -> dict[_KEY, tuple[dict[str, str], float]]:
    """An instant query's answer by (job, instance); an error leaves those fields unknown."""
    try:
        data = client.api("query", {"query": query})
    except WorkbenchError:
        return {}
    out: dict[_KEY, tuple[dict[str, str], float]] = {}
    for r in (data or {}).get("result", []) if isinstance(data, dict) else []:
        if not isinstance(r, dict):
            continue
        metric = r.get("metric") or {}
        try:
            v = float(r.get("value", [0, "nan"])[1])
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(v):
            out[(str(metric.get("job", "")), str(metric.get("instance", "")))] = (metric, v)
    return out


def list_services(client: PromClient, *, probe: bool = True) -> list[ServiceInfo]:
    data = client.api("targets", {"state": "active"})
    active: list[Any] = (data or {}).get("activeTargets", []) if isinstance(data, dict) else []
    runtime: dict[_KEY, str] = {}
    try:
        rt = client.api("query", {"query": RUNTIME_QUERY})
        for r in rt.get("result", []) if isinstance(rt, dict) else []:
            m = r.get("metric") or {}
            runtime[(str(m.get("job", "")), str(m.get("instance", "")))] = RUNTIME_OF.get(str(m.get("__name__")), "")
    except WorkbenchError:
        pass
    p99, cpu, rss = (_by_target(client, q) for q in (P99_QUERY, CPU_QUERY, RSS_QUERY))
    services: list[ServiceInfo] = []
    for t in active[:MAX_SERVICES]:
        if not isinstance(t, dict):
            continue
        labels = t.get("labels") or {}
        key = (str(labels.get("job", "")), str(labels.get("instance", "")))
        services.append(
            ServiceInfo(
                job=key[0],
                instance=key[1],
                url=base_url(str(t.get("scrapeUrl", ""))),
                health=str(t.get("health") or "unknown"),
                last_scrape=str(t.get("lastScrape") or ""),
                runtime=runtime.get(key, ""),
                p99_s=p99[key][1] if key in p99 else None,
                cpu=cpu[key][1] if key in cpu else None,
                rss_bytes=rss[key][1] if key in rss else None,
                error=str(t.get("lastError") or "")[:300],
            )
        )
    if probe and services:
        with ThreadPoolExecutor(max_workers=PROBE_WORKERS, thread_name_prefix="wb-pprof-probe") as pool:
            answers = list(pool.map(probe_pprof, [s.url for s in services]))
        services = [_with_probe(s, a) for s, a in zip(services, answers, strict=True)]
    services.sort(key=lambda s: (s.job, s.instance))
    return services


def _with_probe(s: ServiceInfo, serves: bool | None) -> ServiceInfo:
    from dataclasses import replace

    # a pprof index with goroutine profiles is Go's net/http/pprof when the metrics did not say
    runtime = s.runtime or ("go" if serves else "")
    return replace(s, serves_pprof=serves, runtime=runtime)

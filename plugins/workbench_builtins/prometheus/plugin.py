"""The ``prometheus`` source: a Prometheus server's HTTP API, by its URL.

It declares ``PROMQL`` (PromQL queries become session series) and ``FLEET`` (it lists the
services the server scrapes), so ``record --prometheus``, ``workbench services`` and the
GUI find it by what it does. It is nobody's default source: it is added to a plan beside
the target's own sources (``Plan.add``), with the server as its target.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from workbench.capture import (
    FLEET,
    PROMQL,
    QUERIES_OPTION,
    SERIES,
    Check,
    Option,
    PluginBase,
    ServiceInfo,
    Sink,
    Target,
    TargetKind,
    resolve_options,
)
from workbench.errors import PluginError, WorkbenchError

from .capture import SOURCE, PromQueryCapture
from .client import PromClient
from .errors import PromQLError
from .queries import SYNTAX, parse_queries
from .services import list_services


class PrometheusPlugin(PluginBase):
    name: str = SOURCE
    title: str = "Prometheus (PromQL series and scraped services of a Prometheus server, by URL)"
    targets = frozenset({TargetKind.URL})
    provides = frozenset({SERIES, PROMQL, FLEET})
    options: tuple[Option, ...] = (
        Option(QUERIES_OPTION, str, "", f"one {SYNTAX} per line", label="queries"),
        Option("interval", float, 2.0, "seconds between polls of every query", unit="s", label="interval"),
        Option("duration", float, 0.0, "seconds to poll; 0 polls until stopped", unit="s", label="duration"),
        Option("timeout", float, 10.0, "seconds before one query is given up", unit="s", advanced=True),
        Option("max_series", int, 20, "series kept per query (label sets past it are dropped)", advanced=True),
    )

    def applies_to(self, target: Target, runtime: str) -> bool:
        if target.kind is not TargetKind.URL:
            return False
        parts = urllib.parse.urlsplit(target.value if "://" in target.value else f"http://{target.value}")
        return parts.scheme in ("http", "https")

    def client(self, target: Target, timeout_s: float = 10.0) -> PromClient:
        if target.kind is not TargetKind.URL:
            raise PluginError(
                "the prometheus source reads a Prometheus server by URL", "pass --prometheus http://HOST:9090"
            )
        return PromClient(target.value, timeout_s=timeout_s)

    def preflight(self, target: Target) -> list[Check]:
        try:
            info = self.client(target, 5.0).api("status/buildinfo")
        except WorkbenchError as exc:
            return [Check("prometheus API", False, exc.message, exc.fix)]
        version = info.get("version", "?") if isinstance(info, dict) else "?"
        return [Check("prometheus API", True, f"{target.value} is Prometheus {version}")]

    def start(self, target: Target, options: dict[str, Any], sink: Sink) -> PromQueryCapture:
        opts = resolve_options(self, options)
        queries = parse_queries(str(opts[QUERIES_OPTION]))
        if not queries:
            raise PluginError("prometheus: no query to poll", f"give one or more queries: {SYNTAX}")
        client = self.client(target, float(opts["timeout"]))
        for q in queries:  # a typo is reported now, in one line, not after a minute of polling
            try:
                client.api("query", {"query": q.expr}, timeout_s=float(opts["timeout"]))
            except PromQLError as exc:
                raise PromQLError(f"query {q.name}: {exc.message}", exc.fix) from None
        return PromQueryCapture(client, queries, opts, sink).launch()

    def list_services(self, target: Target, *, probe: bool = True) -> list[ServiceInfo]:
        return list_services(self.client(target), probe=probe)

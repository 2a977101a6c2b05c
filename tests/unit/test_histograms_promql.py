"""Latency quantiles from /metrics histograms, PromQL query lines and names, trigger names,
and the prometheus client's typed errors (against loopback stubs: the real server is in
tests/integration/test_prometheus_fleet.py)."""

from __future__ import annotations

import math

import pytest
from workbench_builtins.pprof_fetch.histograms import HistogramWindow, bucket_quantile
from workbench_builtins.pprof_fetch.prom import parse_metrics
from workbench_builtins.prometheus.client import PromClient
from workbench_builtins.prometheus.errors import (
    NotPrometheus,
    PrometheusAuth,
    PrometheusUnreachable,
    PromQLError,
    QuerySyntaxError,
)
from workbench_builtins.prometheus.queries import parse_queries, series_names

from tests.helpers.http_stubs import LOGIN, reply, serve
from workbench.analysis.series_display import DEFAULT_CHART_DECLS, describe
from workbench.capture.triggers import parse_trigger

INF = math.inf


def _text(counts: dict[str, list[int]]) -> str:
    """Prometheus text of family req_seconds with buckets .1 .5 1 +Inf per path (cumulative)."""
    les = ("0.1", "0.5", "1", "+Inf")
    lines = ["# TYPE req_seconds histogram"]
    for path, cum in counts.items():
        for le, c in zip(les, cum, strict=True):
            lines.append(f'req_seconds_bucket{{path="{path}",le="{le}"}} {c}')
        lines.append(f'req_seconds_count{{path="{path}"}} {cum[-1]}')
        lines.append(f'req_seconds_sum{{path="{path}"}} 1.0')
    return "\n".join(lines) + "\n"


def test_bucket_quantile_matches_prometheus_rules() -> None:
    b = [(0.1, 50.0), (0.5, 90.0), (1.0, 99.0), (INF, 100.0)]
    assert bucket_quantile(0.5, b) == pytest.approx(0.1)  # rank 50 ends the first bucket
    assert bucket_quantile(0.9, b) == pytest.approx(0.5)
    assert bucket_quantile(0.95, b) == pytest.approx(0.5 + 0.5 * (5 / 9))
    assert bucket_quantile(0.999, b) == 1.0  # in +Inf: the highest finite bound
    assert bucket_quantile(0.25, b) == pytest.approx(0.05)  # first bucket starts at 0
    assert bucket_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None  # no observations: NaN
    assert bucket_quantile(0.5, [(0.1, 3.0)]) is None  # no +Inf bucket


def test_window_uses_bucket_deltas_and_labels_several_sets() -> None:
    w = HistogramWindow(window_s=10.0)
    first = parse_metrics(_text({"/a": [100, 100, 100, 100], "/b": [0, 0, 0, 0]}))
    assert w.update(0.0, first.histograms, str) and not any(
        p.name.endswith(".p99") for p in w.update(0.0, first.histograms, str)
    )
    # since then /a got 10 slow requests (0.5..1 s), /b 10 fast ones: the old 100 fast ones don't count
    later = parse_metrics(_text({"/a": [100, 100, 110, 110], "/b": [10, 10, 10, 10]}))
    pts = {p.name: p for p in w.update(5.0, later.histograms, str)}
    assert pts["hist.req_seconds.p99"].unit == "s"
    assert 0.5 < pts["hist.req_seconds.p99"].value <= 1.0
    assert pts['hist.req_seconds{path="/a"}.p50'].value == pytest.approx(0.75)
    assert pts['hist.req_seconds{path="/b"}.p99'].value <= 0.1
    assert pts["hist.req_seconds.count"].value == 120


def test_window_forgets_scrapes_older_than_the_window_and_survives_a_restart() -> None:
    w = HistogramWindow(window_s=2.0)
    for t, fast in ((0.0, 0), (1.0, 100), (2.0, 200), (3.0, 300)):
        w.update(t, parse_metrics(_text({"/": [fast, fast, fast, fast]})).histograms, str)
    # a slow burst, then the service restarts (counts drop): no negative deltas, a new baseline
    pts = {p.name: p.value for p in w.update(4.0, parse_metrics(_text({"/": [300, 300, 600, 600]})).histograms, str)}
    assert (
        pts["hist.req_seconds.p50"] > 0.5
    )  # only the last 2 s (100 fast, 300 slow); since t=0 it would be half and half
    pts = {p.name: p.value for p in w.update(5.0, parse_metrics(_text({"/": [1, 1, 1, 1]})).histograms, str)}
    assert "hist.req_seconds.p50" not in pts


def test_hist_series_are_described_and_charted_as_latency() -> None:
    info = describe("hist.req_seconds.p99", "s")
    assert info.unit == "s" and info.label == "req_seconds p99"
    assert describe('hist.req_seconds{path="/a"}.count@api').counter
    latency = next(d for d in DEFAULT_CHART_DECLS if d.title == "latency")
    import fnmatch

    for name in ("hist.req_seconds.p99", 'hist.req_seconds{path="/a"}.p50', "p99", 'p99{job="api"}'):
        assert any(fnmatch.fnmatchcase(name, p) for p in latency.patterns), name


def test_query_lines_and_series_names() -> None:
    qs = parse_queries('p99=histogram_quantile(0.99, x{job="a"})\n# a comment\n\nerrors = rate(e[1m])')
    assert [(q.name, q.expr) for q in qs] == [
        ("p99", 'histogram_quantile(0.99, x{job="a"})'),
        ("errors", "rate(e[1m])"),
    ]
    for bad in ('up{job="a"}', "=up", "p99=", "a=1\na=2"):
        with pytest.raises(QuerySyntaxError):
            parse_queries(bad)
    assert series_names("p99", [{}], False) == ["p99"]
    assert series_names("p99", [{"job": "a"}, {"job": 'b"@{x}'}], False) == ['p99{job="a"}', 'p99{job="b_x_"}']


def test_triggers_watch_promql_and_labelled_names() -> None:
    r = parse_trigger("p99>1 for 5m -> cpu 30s")
    assert (r.metric, r.threshold, r.for_s, r.kind, r.capture_s) == ("p99", 1.0, 300.0, "cpu", 30.0)
    assert r.matches("p99") and not r.matches('p99{job="a"}')
    r = parse_trigger('hist.req_seconds{path="/a>b"}.p99 >= 0.25 -> wall 5s')
    assert r.metric == 'hist.req_seconds{path="/a>b"}.p99' and r.op == ">="
    assert parse_trigger("p99*>1 -> cpu 1s").matches('p99{job="a"}')
    assert parse_trigger("go.goroutines@api>10 -> heap 1s").metric == "go.goroutines@api"


def test_client_errors_are_typed() -> None:
    ok_json = '{"status":"success","data":{"version":"3"}}'
    bad_q = '{"status":"error","errorType":"bad_data","error":"parse error at char 5: unexpected"}'
    routes = {
        "/api/v1/status/buildinfo": reply(200, ok_json, "application/json"),
        "/api/v1/query": reply(400, bad_q, "application/json"),
    }
    with serve(routes) as s:
        assert PromClient(s.url).api("status/buildinfo") == {"version": "3"}
        with pytest.raises(PromQLError, match="parse error at char 5"):
            PromClient(s.url).api("query", {"query": "up{"})
    with serve({}) as s, pytest.raises(NotPrometheus, match="no Prometheus HTTP API"):
        PromClient(s.url).api("status/buildinfo")
    with serve({"/api/v1/status/buildinfo": reply(401, "no")}) as s, pytest.raises(PrometheusAuth):
        PromClient(s.url).api("status/buildinfo")
    login = {"/api/v1/status/buildinfo": reply(200, LOGIN, "text/html")}
    with serve(login) as s, pytest.raises(PrometheusAuth, match="login page"):
        PromClient(s.url).api("status/buildinfo")
    with serve({}) as s:
        url = s.url
    with pytest.raises(PrometheusUnreachable):
        PromClient(url, timeout_s=2).api("status/buildinfo")

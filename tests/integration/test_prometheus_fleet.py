"""Latency histograms, PromQL series, alert-rule triggers and the services list, against
Debian's real prometheus scraping two real Go services (tests/helpers/fleet.py). No mocks."""

from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import pytest
from workbench_builtins.pprof_fetch import plugin as pprof_plugin
from workbench_builtins.prometheus import plugin as prom_plugin
from workbench_builtins.prometheus.errors import NotPrometheus, PromQLError

from tests.helpers.fleet import FAMILY, Fleet, fleet, get  # noqa: F401 (fixture)
from tests.helpers.gosvc import pprofsvc_exe  # noqa: F401 (fixture)
from workbench.capture.api import Target
from workbench.cli.main import main
from workbench.model import Session

pytestmark = [pytest.mark.go, pytest.mark.slow]

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
P99 = f'histogram_quantile(0.99, sum by (le) (rate({FAMILY}_bucket{{job="api"}}[10s])))'


def _instant(fleet: Fleet, query: str) -> list[dict[str, object]]:  # noqa: F811
    doc = json.loads(get(f"{fleet.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": query})))
    assert doc["status"] == "success", doc
    return list(doc["data"]["result"])


def _bucket_width(v: float) -> float:
    lower = 0.0
    for ub in BUCKETS:
        if v <= ub:
            return ub - lower
        lower = ub
    return BUCKETS[-1]


def test_hist_p99_agrees_with_prometheus_histogram_quantile(fleet: Fleet) -> None:  # noqa: F811
    session = Session()
    h = pprof_plugin.start(Target.from_url(fleet.api.url), {"profile": "none", "interval": 0.5}, session)
    try:
        fleet.wait_scraped(P99)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a full 10 s window of our own scrapes
            s = session.series.get(f"hist.{FAMILY}.p99")
            if s is not None and len(s.times) and s.times[-1] - s.times[0] >= 11:
                break
            time.sleep(0.5)
        ours = session.series[f"hist.{FAMILY}.p99"].last()
        theirs = float(_instant(fleet, P99)[0]["value"][1])  # type: ignore[index]
    finally:
        h.stop()
    assert session.series[f"hist.{FAMILY}.p99"].unit == "s"
    assert 0.1 < theirs <= 0.25  # 120 ms of work per request, no queueing at 10 rps on 4 connections
    assert abs(ours - theirs) <= _bucket_width(theirs), (ours, theirs)
    assert session.series[f"hist.{FAMILY}.count"].last() > 0
    # two label sets (/work never served here, /load does): the per-path series only once several exist
    assert f'hist.{FAMILY}{{path="/load"}}.p99' not in session.series


def test_services_lists_the_fleet(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    fleet.wait_scraped('rate(process_cpu_seconds_total{job="plain"}[1m])')
    fleet.wait_scraped(f'histogram_quantile(0.99, sum by (le) (rate({FAMILY}_bucket{{job="api"}}[1m])))')
    assert main(["services", "--prometheus", fleet.prometheus, "--json"]) == 0
    services = {s["job"]: s for s in json.loads(capsys.readouterr().out)["services"]}
    assert set(services) == {"api", "plain", "prometheus"}
    api, plain, prom = services["api"], services["plain"], services["prometheus"]
    assert set(api) >= {"job", "instance", "url", "health", "serves_pprof", "runtime", "p99_s", "cpu", "rss_bytes"}
    assert api["url"] == fleet.api.url and api["health"] == "up" and api["serves_pprof"] is True
    assert api["runtime"] == "go" and 0.1 < api["p99_s"] <= 0.25 and api["rss_bytes"] > 1e6
    assert plain["serves_pprof"] is False and plain["cpu"] is not None
    assert prom["serves_pprof"] is True and prom["url"] == fleet.prometheus
    assert main(["services", "--prometheus", fleet.prometheus]) == 0
    table = capsys.readouterr().out
    assert fleet.api.url in table and "JOB" in table.splitlines()[0]


def test_record_with_promql_trigger_stores_a_cpu_profile(
    fleet: Fleet,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from workbench.formats.wbs import load_session

    fleet.wait_scraped(P99)
    fleet.api.get("/burn?ms=15000")  # CPU for the triggered profile to see
    out = tmp_path / "fleet.wbs"
    rc = main(
        [
            "record",
            "--url",
            fleet.api.url,
            "--prometheus",
            fleet.prometheus,
            "--query",
            f"p99={P99}",
            "--query",
            f"by_job=histogram_quantile(0.99, sum by (job, le) (rate({FAMILY}_bucket[10s])))",
            "--trigger",
            "p99>0.05 for 2s -> cpu 3s",
            "-d",
            "10",
            "-o",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    s = load_session(str(out))
    assert len(s.series["p99"].times) >= 3 and s.series["p99"].last() > 0.05
    assert {'by_job{job="api"}', 'by_job{job="plain"}'} <= set(s.series)
    assert f"hist.{FAMILY}.p99" in s.series  # the service's own histogram beside the server's answer
    triggered = [k for k in s.profiles if k.startswith("trigger1:") and k.endswith(":cpu")]
    assert triggered, (list(s.profiles), err)
    assert s.profiles[triggered[0]].totals()[0] > 0
    assert "1 captured" in err


def test_typed_errors_from_a_real_server(fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    with pytest.raises(PromQLError, match="query bad: PromQL error"):
        prom_plugin.start(Target.from_url(fleet.prometheus), {"queries": "bad=sum(rate(up[1m]"}, Session())
    checks = prom_plugin.preflight(Target.from_url(fleet.api.url))  # a pprof service, not Prometheus
    assert not checks[0].ok and "no Prometheus HTTP API" in checks[0].message
    with pytest.raises(NotPrometheus):
        prom_plugin.list_services(Target.from_url(fleet.plain.url))
    rc = main(
        [
            "record",
            "--url",
            fleet.api.url,
            "--prometheus",
            fleet.prometheus,
            "--query",
            "x=rate(up[",
            "-d",
            "2",
            "-o",
            str(tmp_path / "x.wbs"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "PromQL error" in err and "Traceback" not in err

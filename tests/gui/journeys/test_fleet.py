"""Journey: a fleet through Prometheus. List the services a real Prometheus scrapes in the
Services tab, attach to one with a double-click, chart a PromQL p99 beside the service's own
latency histogram, and see a latency spike line up with pool waits on the timeline.

Debian's prometheus scrapes two pprofsvc services (tests/helpers/fleet.py): ``api`` serves
pprof and a latency histogram whose requests wait for a pool of four connections; ``plain``
serves only /metrics. Midway the work time rises so requests queue for the pool.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.gui.journeys import drive
from tests.helpers.fleet import FAMILY, Fleet, start_fleet, stop_fleet
from workbench.ui.main_window import MainWindow

pytestmark = [
    pytest.mark.slow,
    pytest.mark.go,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="apt-get install prometheus"),
]

P99 = f'p99=histogram_quantile(0.99, sum by (le) (rate({FAMILY}_bucket{{job="api"}}[10s])))'


@dataclass
class Live:
    win: MainWindow
    fleet: Fleet
    art: Path


def _row_of(win: MainWindow, job: str) -> int:
    t = win.services.table
    return next(r for r in range(t.rowCount()) if t.item(r, 0).text() == job)


@pytest.fixture(scope="module")
def live(qapp, pprofsvc_exe, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fleet")
    fleet = start_fleet(pprofsvc_exe, tmp, latency_ms=60, rps=20)
    win = drive.new_window(tmp / "settings.ini")
    try:
        fleet.wait_scraped(f'rate({FAMILY}_count{{job="api"}}[1m])')
        win.tabs.setCurrentWidget(win.services)
        QTest.keyClicks(win.services.url, fleet.prometheus)
        QTest.mouseClick(win.services.list_btn, Qt.MouseButton.LeftButton)
        drive.wait_until(lambda: win.services.table.rowCount() == 3, 30, "three services listed", win=win)
        yield Live(win, fleet, drive.artefact_dir(tmp))
    finally:
        drive.close_window(win)
        stop_fleet(fleet)


def test_services_listed_with_pprof(live: Live) -> None:
    win, t = live.win, live.win.services.table
    api, plain = _row_of(win, "api"), _row_of(win, "plain")
    assert t.item(api, 3).text() == "yes" and t.item(plain, 3).text() == "no"
    assert t.item(api, 2).text() == "up" and t.item(api, 4).text() == "go"
    assert t.item(api, 8).text() == live.fleet.api.url
    drive.screenshot(win, live.art, "fleet-services")


def test_attach_latency_and_pool_waits(live: Live) -> None:
    win, fleet = live.win, live.fleet
    t = win.services.table
    row = _row_of(win, "api")
    rect = t.visualItemRect(t.item(row, 0))
    # a real double-click is a press/release pair, then the double-click event
    QTest.mouseClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    QTest.mouseDClick(t.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    drive.wait_until(lambda: win.capture.target is not None and win.capture.target.value == fleet.api.url, 10,
                     "the picker chose the double-clicked service")  # fmt: skip
    drive.wait_until(lambda: "pprof" in drive.ticked(win), 20, "the service's default sources", win=win)
    # pprof alone: the panel also ticks process stats for the local PID behind a loopback URL,
    # but its Start re-plans them against the URL and fails ("process stats need a PID")
    drive.tick(win, {"pprof"})
    drive.click_start(win)
    win.services.queries.setPlainText(P99)
    QTest.mouseClick(win.services.chart_btn, Qt.MouseButton.LeftButton)
    drive.wait_until(lambda: "prometheus" in drive.running_sources(win), 20, "the PromQL source runs", win=win)
    drive.settle(8000)  # a calm stretch, then requests queue for the pool's four connections
    fleet.api.get("/latency?ms=400")
    drive.settle(12000)
    fleet.api.get("/latency?ms=60")
    want = {f"hist.{FAMILY}.p99", f"hist.{FAMILY}.p50", "p99"}
    drive.wait_until(lambda: drive.curve_names(win, "latency") >= want, 30, f"latency curves {want}", win=win)
    drive.wait_until(lambda: {"latency", "pool waits"} <= drive.charts_with_curves(win), 30,
                     "latency and pool waits charted", win=win)  # fmt: skip
    drive.settle(6000)
    session = win.session
    assert max(session.series[f"hist.{FAMILY}.p99"].values) > 0.25  # the spike reached the chart's data
    assert max(session.series["pool.db.wait_count"].values) > 0
    win.tabs.setCurrentWidget(win.flame)
    drive.screenshot(win, live.art, "fleet-latency-pool-waits")
    drive.timeline_covers_data(win)

"""Journey b: a Go service attached by URL, as a user types it into the picker.

The service (tests/go/pprofsvc -leak) burns CPU in main.hotspotBurn, leaks a clients map
(Hub.register), an audit buffer (AuditLog.write) and goroutines (leakBlocked), and its
database pool (max 4 connections) is driven past its max.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gui.journeys import drive
from tests.helpers.gosvc import GoService, start_pprofsvc
from workbench.ui.main_window import MainWindow

pytestmark = [
    pytest.mark.slow,
    pytest.mark.go,
    pytest.mark.skipif(shutil.which("go") is None, reason="apt-get install golang-go"),
]

CAPTURE_S = 45.0  # the leak engine's first verdicts come after 20-40 s (README budgets)
EXPECTED_CHARTS = {"memory", "GC pauses", "threads / goroutines", "pool connections"}
LEAKS = {"clients map": "Hub).register", "audit buffer": "AuditLog).write", "goroutines": "leakBlocked"}


@dataclass
class Live:
    win: MainWindow
    svc: GoService
    tmp: Path
    art: Path
    started: float


@pytest.fixture(scope="module")
def live(qapp, pprofsvc_exe, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("go_url")
    art = drive.artefact_dir(tmp)
    svc = start_pprofsvc(pprofsvc_exe, "-leak")
    win = drive.new_window(tmp / "settings.ini")
    try:
        svc.get(f"/burn?ms={int(CAPTURE_S * 1000 + 20_000)}")
        svc.get(f"/dbload?rps=40&hold_ms=250&seconds={int(CAPTURE_S + 30)}")
        drive.pick_url(win, svc.url)
        # a loopback URL served by a local PID also gets that PID's process stats (DESIGN.md)
        assert drive.ticked(win) == {"pprof", "procstats"}, "a loopback URL's default sources"
        drive.click_start(win)
        yield Live(win, svc, tmp, art, time.monotonic())
    finally:
        drive.close_window(win)
        svc.stop()


def test_cpu_flame_graph(live: Live) -> None:
    win = live.win
    drive.show_profile(win, lambda k: k.startswith("pprof:") and k.endswith(":cpu"), timeout=30)
    drive.wait_until(lambda: drive.flame_has_boxes(win), 30, "CPU flame graph boxes")
    assert drive.top_function(win.flame.canvas.profile) == "main.hotspotBurn"
    drive.screenshot(win, live.art, "go-url-flame")


def test_charts_have_curves(live: Live) -> None:
    win = live.win
    drive.wait_until(lambda: drive.charts_with_curves(win) >= EXPECTED_CHARTS, 30,
                     f"charts {sorted(EXPECTED_CHARTS)} with curves")  # fmt: skip
    # the loopback URL is served by a local PID: its process stats are drawn too (DESIGN.md)
    assert "CPU" in drive.charts_with_curves(win), "process stats of the PID behind the URL"


def test_timeline_covers_data(live: Live) -> None:
    win = live.win
    drive.wait_until(lambda: drive.charts_with_curves(win) >= EXPECTED_CHARTS, 30, "charts with curves")
    drive.settle(1000)
    drive.screenshot(win, live.art, "go-url-timeline")
    drive.timeline_covers_data(win)


def test_pool_saturation_finding(live: Live) -> None:
    win = live.win
    drive.wait_until(lambda: any(k == "pool" for k, _n, _w in drive.leak_rows(win)), 40,
                     "a pool saturation finding in the Leaks tab")  # fmt: skip
    win.tabs.setCurrentWidget(win.leaks)
    pool = [r for r in drive.leak_rows(win) if r[0] == "pool"]
    assert any(n == "db" or n.startswith("db") for _k, n, _w in pool), pool


def test_leak_verdicts_name_the_leaks(live: Live) -> None:
    win = live.win
    remaining = max(5.0, CAPTURE_S - (time.monotonic() - live.started))

    def named() -> set[str]:
        text = drive.leak_text(win)
        return {label for label, needle in LEAKS.items() if needle in text}

    try:
        drive.wait_until(lambda: named() == set(LEAKS), remaining, f"leak verdicts naming {sorted(LEAKS)}")
    finally:
        win.tabs.setCurrentWidget(win.leaks)
        drive.screenshot(win, live.art, "go-url-leaks")
    assert named() == set(LEAKS), drive.leak_text(win)
    # the audit buffer is written through fmt.Fprintf: the row names the user's function, and
    # the details pane shows the stack that fills it, that function first among the user's
    rows = [r for r in drive.leak_rows(win) if "AuditLog).write" in r[1]]
    assert rows and rows[0][2].startswith("main.(*AuditLog).write ("), rows
    assert "fmt." not in rows[0][1] and not rows[0][2].startswith("fmt."), rows
    details = drive.leak_details(win, "AuditLog).write")
    drive.screenshot(win, live.art, "go-url-leak-stack")
    frames = [ln.split(None, 1)[1] for ln in details.splitlines() if ln.startswith(("  at ", "  from "))]
    assert frames, details
    user = [f for f in frames if f.startswith("main.")]
    assert user and user[0].startswith("main.(*AuditLog).write ("), details
    assert any(f.startswith("fmt.Fprintf (") for f in frames), details  # the stack goes through fmt


def test_saved_and_reopened_offline(live: Live) -> None:
    """Journey f for b: the saved session draws the same charts and flame graph offline."""
    win = live.win
    live_charts = drive.charts_with_curves(win)
    drive.click_stop(win)
    fresh = drive.save_and_reopen(win, live.tmp / "go-url.wbs", live.tmp / "fresh.ini")
    try:
        assert drive.charts_with_curves(fresh) >= live_charts & EXPECTED_CHARTS
        drive.show_profile(fresh, lambda k: k.endswith(":cpu"))
        drive.flame_has_boxes(fresh)
        drive.screenshot(fresh, live.art, "go-url-reopened")
    finally:
        drive.close_window(fresh)

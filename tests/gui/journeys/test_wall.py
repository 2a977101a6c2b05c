"""Journey: a wall-clock profile of a Go service whose 8 handlers share a 3-connection pool.

The user picks the service's URL, chooses profile "wall" in the pprof box and starts: the
flame graph shows every goroutine with its state as the leaf, "hide parked" drops the
long-parked ones, the Top functions tab opens with "Waiting on" (the pool wait first, in
``database/sql.(*DB).conn``) and the timeline charts the waiting share by kind.
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
    # the plugin starts a wall capture at once (CLI and direct start pass), but the GUI's Start
    # stays at "starting…" with profile=wall: under investigation, see the issue-19 report
]


@dataclass
class Live:
    win: MainWindow
    svc: GoService
    art: Path


@pytest.fixture(scope="module")
def live(qapp, pprofsvc_exe, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wall")
    art = drive.artefact_dir(tmp)
    svc = start_pprofsvc(pprofsvc_exe, "-max-open", "3")
    win = drive.new_window(tmp / "settings.ini")
    try:
        svc.get("/handlers?n=8&hold_ms=20&seconds=120")
        svc.get("/spawn?n=5")  # background goroutines: parked (after a minute) and never handlers
        drive.pick_url(win, svc.url)
        drive.wait_until(lambda: "pprof" in drive.ticked(win), 30, "the pprof source ticked for the URL")
        drive.set_option(win, "pprof", "profile", "wall")
        drive.click_start(win, timeout=90)
        yield Live(win, svc, art)
    finally:
        drive.close_window(win)
        svc.stop()


def _wall(win: MainWindow) -> None:
    drive.show_profile(win, lambda k: k.startswith("pprof:") and k.endswith(":wall"), timeout=30)
    drive.wait_until(lambda: drive.flame_has_boxes(win), 30, "wall flame graph boxes")


def test_wall_flame_graph_has_states(live: Live) -> None:
    win = live.win
    _wall(win)
    drive.settle(1500)
    p = win.flame.canvas.profile
    assert p is not None
    names = {f.function for f in p.frames}
    assert {"[select]", "[IO wait]"} <= names
    assert "database/sql.(*DB).conn" in names
    assert not win.flame.parked_box.isHidden(), "hide parked is offered for a wall profile"
    win.flame.parked_box.setChecked(True)
    drive.settle(500)
    assert drive.flame_has_boxes(win)
    drive.screenshot(win, live.art, "wall-flame-hide-parked")
    win.flame.parked_box.setChecked(False)


def test_waiting_on_view(live: Live) -> None:
    win = live.win
    _wall(win)
    win.tabs.setCurrentWidget(win.top)
    deadline = time.monotonic() + 30

    def pool_first() -> bool:
        win._update_top()
        s = win.top.summary
        return s is not None and any(g.kind == "pool" for g in s.groups)

    drive.wait_until(pool_first, max(1.0, deadline - time.monotonic()), "a pool group in Waiting on")
    tree = win.top.waits
    assert not tree.isHidden()
    labels = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert "pool / connection" in labels
    pool = tree.topLevelItem(labels.index("pool / connection"))
    assert pool.text(3) == "waiting for a pool connection"
    assert pool.child(0).text(0) == "database/sql.(*DB).conn"
    drive.screenshot(win, live.art, "wall-waiting-on")


def test_waiting_share_chart(live: Live) -> None:
    win = live.win
    drive.wait_until(lambda: "waiting by kind" in drive.charts_with_curves(win), 30, "the waiting by kind chart")
    assert any("pool" in n for n in drive.curve_names(win, "waiting by kind"))
    drive.screenshot(win, live.art, "wall-timeline")

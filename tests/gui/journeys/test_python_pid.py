"""Journey a: a Python service picked by PID. py-spy + process stats, then the runtime agent
(with consent), then memray; then File > Save and the session reopened offline (journey f).

The service (tests/helpers/agent_targets.SERVICE + POOL_EXTRA) grows ``SessionStore._sessions``
without bound, keeps an LRU at its max, makes GC churn and holds SQLAlchemy pool connections.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.gui.journeys import drive
from tests.helpers.agent_targets import POOL_EXTRA, RunningTarget, run_target
from workbench.ui.capture_panel import CapturePanel
from workbench.ui.main_window import MainWindow

pytestmark = pytest.mark.slow


@dataclass
class Live:
    win: MainWindow
    target: RunningTarget
    tmp: Path
    art: Path
    consent_asked: list[str]


@pytest.fixture(scope="module")
def live(qapp, tmp_path_factory):
    pytest.importorskip("sqlalchemy")
    tmp = tmp_path_factory.mktemp("py_pid")
    art = drive.artefact_dir(tmp)
    asked: list[str] = []
    mp = pytest.MonkeyPatch()
    # the one stand-in: the modal consent dialog answers Yes (and records that it was asked)
    mp.setattr(CapturePanel, "ask_consent", lambda self, plugin, target, text="": asked.append(plugin.name) or True)
    with run_target(extra=POOL_EXTRA, tmp=tmp) as target:
        win = drive.new_window(tmp / "settings.ini")
        try:
            drive.pick_pid(win, target.pid)
            yield Live(win, target, tmp, art, asked)
        finally:
            drive.close_window(win)
            mp.undo()


def test_pyspy_and_process_stats(live: Live) -> None:
    win = live.win
    assert drive.runtime_shown(win, live.target.pid).startswith("python")
    assert drive.ticked(win) == {"pyspy", "procstats"}, "a Python PID's default sources"
    drive.click_start(win)
    drive.show_profile(win, lambda k: k.startswith("pyspy:") and k.endswith(":cpu"))
    drive.wait_until(lambda: drive.flame_has_boxes(win), 30, "py-spy flame graph boxes")
    drive.wait_until(lambda: {"CPU", "memory"} <= drive.charts_with_curves(win), 20, "CPU and memory curves")
    drive.wait_for_span(win, 4)
    drive.timeline_covers_data(win)
    drive.screenshot(win, live.art, "python-pid-pyspy")
    drive.click_stop(win)


def test_runtime_agent_with_consent(live: Live) -> None:
    win = live.win
    drive.tick(win, ["agent", "procstats"])
    drive.set_option(win, "agent", "census_interval", 2.0)
    drive.click_start(win, timeout=60)
    assert live.consent_asked == ["agent"], "the agent starts only after the consent question"
    drive.wait_until(lambda: "GC pauses" in drive.charts_with_curves(win) or drive.GDB_BROKEN in drive.banner_text(win),
                     30, "python GC pause curves", win=win)  # fmt: skip
    drive.skip_if_injection_impossible(win)
    assert any(n.startswith("python.gc") for n in drive.curve_names(win, "GC pauses"))
    drive.wait_until(lambda: "pool connections" in drive.charts_with_curves(win), 30, "SQLAlchemy pool curves", win=win)
    drive.wait_until(lambda: "SessionStore._sessions" in drive.leak_text(win), 40,
                     "the growing SessionStore._sessions in the Leaks tab", win=win)  # fmt: skip
    drive.timeline_covers_data(win)
    assert "LRUCache._data" not in drive.leak_text(win), "the bounded LRU is not a suspect"
    win.tabs.setCurrentWidget(win.leaks)
    drive.screenshot(win, live.art, "python-pid-agent-leaks")
    win.tabs.setCurrentWidget(win.flame)
    drive.click_stop(win)


def test_memray_heap_profile(live: Live) -> None:
    win = live.win
    drive.tick(win, ["memray"])
    drive.click_start(win, timeout=60)
    drive.wait_until(lambda: any(k.startswith("memray:") for k in drive.profile_keys(win))
                     or drive.GDB_BROKEN in drive.banner_text(win), 60, "a memray profile", win=win)  # fmt: skip
    drive.skip_if_injection_impossible(win)
    key = drive.show_profile(win, lambda k: k.startswith("memray:"), timeout=60)
    drive.wait_until(lambda: drive.flame_has_boxes(win), 30, f"memray flame graph boxes ({key})")
    assert any("login" in f.function or "serve" in f.function for f in win.flame.canvas.profile.frames), (
        "the heap profile names the allocating code"
    )
    drive.screenshot(win, live.art, "python-pid-memray")
    drive.click_stop(win, timeout=60)


def test_saved_and_reopened_offline(live: Live) -> None:
    """Journey f for a: every chart and the flame graphs come back from the file."""
    win = live.win
    live_charts = drive.charts_with_curves(win)
    assert {"CPU", "memory"} <= live_charts
    fresh = drive.save_and_reopen(win, live.tmp / "python.wbs", live.tmp / "fresh.ini")
    try:
        assert drive.charts_with_curves(fresh) == live_charts
        drive.timeline_covers_data(fresh)
        for prefix in ("pyspy:", "memray:"):
            if any(k.startswith(prefix) for k in drive.profile_keys(win)):
                drive.show_profile(fresh, lambda k, p=prefix: k.startswith(p))
                drive.flame_has_boxes(fresh)
        if "SessionStore._sessions" in drive.leak_text(win):
            assert "SessionStore._sessions" in drive.leak_text(fresh)
        drive.screenshot(fresh, live.art, "python-pid-reopened")
    finally:
        drive.close_window(fresh)

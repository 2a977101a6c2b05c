"""Live capture through the window: real py-spy on a child Python process, views refresh."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.capture.api import Target

BUSY = "import time\ndef spin():\n    while True:\n        sum(range(2000))\nspin()\n"


@pytest.fixture
def busy_child():
    proc = subprocess.Popen([sys.executable, "-c", BUSY], stdin=subprocess.DEVNULL)
    yield proc
    proc.kill()
    proc.wait()


def test_pyspy_capture_shows_live_flame_graph(qtbot, window, busy_child) -> None:
    entry = window.capture.controls.get("pyspy")
    if entry is None or not entry.entry.ok:
        pytest.skip("pyspy plugin not installed")
    window.capture.set_target(Target.from_pid(busy_child.pid))
    window.capture.select(["pyspy"])
    window.capture.start()
    qtbot.waitUntil(lambda: bool(window.capture.running), timeout=20_000)
    qtbot.waitUntil(
        lambda: window.flame.canvas.profile is not None and window.flame.canvas.profile.n_nodes > 1, timeout=20_000
    )
    window.flame.set_search_text("spin")
    qtbot.waitUntil(lambda: window.flame.canvas.match_fraction > 0.5, timeout=20_000)
    assert "samples/s" in window.capture.status.text()
    window.capture.stop()
    qtbot.waitUntil(lambda: not window.capture.running and window.capture.start_btn.isEnabled(), timeout=20_000)
    assert not window.banner.isVisible(), window.banner.text()


def test_pause_detaches_and_resume_reattaches_into_the_same_session(qtbot, window, busy_child) -> None:
    entry = window.capture.controls.get("pyspy")
    if entry is None or not entry.entry.ok:
        pytest.skip("pyspy plugin not installed")
    window.capture.set_target(Target.from_pid(busy_child.pid))
    window.capture.select(["pyspy"])
    window.capture.start()
    qtbot.waitUntil(lambda: bool(window.session.profiles), timeout=20_000)
    key = next(iter(window.session.profiles))
    window.capture.pause_btn.click()  # pause
    qtbot.waitUntil(lambda: not window.capture.running and window.capture.pause_btn.isEnabled(), timeout=20_000)
    assert window.capture.pause_btn.text() == "Resume" and not window.capture.start_btn.isEnabled()
    kinds = [e.kind for e in window.session.events]
    assert "capture.paused" in kinds
    paused_total = window.session.profiles[key].totals()[0]
    window.capture.pause_btn.click()  # resume
    qtbot.waitUntil(lambda: window.session.profiles[key].totals()[0] > paused_total, timeout=20_000)
    assert "capture.resumed" in [e.kind for e in window.session.events]
    window.capture.stop()
    qtbot.waitUntil(lambda: not window.capture.running and window.capture.start_btn.isEnabled(), timeout=20_000)
    assert window.capture.pause_btn.text() == "Pause" and not window.capture.pause_btn.isEnabled()


def test_trigger_rule_in_the_gui_captures_and_marks_the_timeline(qtbot, window, busy_child) -> None:
    for name in ("pyspy", "procstats"):
        entry = window.capture.controls.get(name)
        if entry is None or not entry.entry.ok:
            pytest.skip(f"{name} plugin not installed")
    window.capture.set_target(Target.from_pid(busy_child.pid))
    window.capture.select(["procstats"])
    window.capture.trigger_edit.setText("process.cpu_percent>20 -> cpu 2s")
    window.capture.start()
    qtbot.waitUntil(lambda: any(k.startswith("trigger1:") for k in window.session.profile_keys()), timeout=40_000)
    qtbot.waitUntil(lambda: any("trigger" in e.kind for e in window.session.events), timeout=20_000)
    window.refresh()
    chart = next(c for c in window.timeline.charts if c.curves)
    assert chart.markers, "the firing is marked on the timeline"
    window.capture.stop()
    qtbot.waitUntil(lambda: not window.capture.running and window.capture.start_btn.isEnabled(), timeout=30_000)


def test_bad_trigger_rule_is_a_banner_and_starts_nothing(qtbot, window, busy_child) -> None:
    window.capture.set_target(Target.from_pid(busy_child.pid))
    window.capture.select(["procstats"])
    window.capture.trigger_edit.setText("rss is big -> cpu")
    window.capture.start()
    assert window.banner.isVisible() and "trigger" in window.banner.text().lower()
    assert not window.capture.running and window.capture.triggers is None


def test_stop_while_the_start_is_in_flight_stops_what_it_started(qtbot, window, busy_child) -> None:
    """Stop pressed before the attach finished: the capture that attaches afterwards is stopped
    at once (it used to join the running list after the stop and run on)."""
    import time

    import psutil

    panel = window.capture
    checks = panel.controller.preflight

    def slow_checks(src):  # widens the attach window so Stop surely lands inside it
        time.sleep(1.0)
        return checks(src)

    panel.controller.preflight = slow_checks
    panel.set_target(Target.from_pid(busy_child.pid))
    panel.select(["pyspy"])
    panel.start()
    qtbot.waitUntil(lambda: panel.controller.starting, timeout=20_000)  # planned; py-spy is attaching
    panel.stop()
    qtbot.waitUntil(lambda: not panel.busy() and not panel.controller.starting, timeout=20_000)
    assert not panel.running  # what the start attached after the stop was stopped at once
    me = psutil.Process()
    qtbot.waitUntil(
        lambda: not [p for p in me.children(recursive=True) if "py-spy" in " ".join(p.cmdline())], timeout=10_000
    )


def test_stop_while_the_start_is_still_planning_starts_nothing(qtbot, window, busy_child) -> None:
    panel = window.capture
    panel.set_target(Target.from_pid(busy_child.pid))
    panel.select(["pyspy"])
    panel.start()
    panel.stop()  # before the plan came back: the start is dropped
    qtbot.waitUntil(lambda: not panel.busy(), timeout=20_000)
    assert not panel.running and not panel.controller.starting

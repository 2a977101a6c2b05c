"""A running source's actions as buttons: the inspector's heap snapshot, on a real Node service."""

from __future__ import annotations

import pytest

from tests.node.nodesvc import start_service
from workbench.capture.api import Target

pytestmark = [pytest.mark.slow]


def test_heap_snapshot_button_while_the_inspector_runs(qtbot, window) -> None:
    svc = start_service("--inspect=127.0.0.1:0", extra_env={"CACHE_MAX": "1000"})
    try:
        panel = window.capture
        assert not panel.action_btns  # nothing runs: no action buttons
        panel.set_target(Target.from_pid(svc.pid))
        panel.select(["inspector"])
        panel.controls["inspector"].editors["profile"].setCurrentText("none")
        panel.start()
        qtbot.waitUntil(lambda: ("inspector", "heap-snapshot") in panel.action_btns, timeout=30_000)
        btn = panel.action_btns[("inspector", "heap-snapshot")]
        assert btn.text() == "Heap snapshot (inspector)"
        btn.click()
        key = f"inspector:{svc.pid}:snapshot"
        qtbot.waitUntil(lambda: key in window.session.profile_keys(), timeout=60_000)
        assert "heap snapshot requested" in " ".join(e.text for e in window.session.events)
        panel.stop()
        qtbot.waitUntil(lambda: not panel.running and panel.start_btn.isEnabled(), timeout=30_000)
        assert not panel.action_btns  # gone with the capture
        assert svc.proc.poll() is None  # the target keeps running
    finally:
        svc.stop()
    assert not window.banner.isVisible(), window.banner.text()

"""Journey: an asyncio service's task stacks through the runtime agent, in the flame graph.

The user picks the asyncio service (tests/py/asyncsvc.py: 8 clients, handlers sharing a
3-connection ``asyncio.Semaphore`` pool) by PID, ticks the runtime agent, answers the
consent question and starts. The profile ``agent:PID:wall`` appears: its flame graph draws
boxes named by the coroutines (``task handle_request`` > ``handle_request`` >
``serve_report`` > ... > ``ConnectionPool.connection`` > ``Semaphore.acquire`` >
``[semaphore wait]``), and the Top functions tab's "Waiting on" puts the pool first.
"""

from __future__ import annotations

import pytest

from tests.gui.journeys import drive
from tests.helpers.asyncsvc import run_asyncsvc
from workbench.ui.capture_panel import CapturePanel

pytestmark = pytest.mark.slow

CHAIN = ("task handle_request", "handle_request", "serve_report", "ConnectionPool.connection", "Semaphore.acquire",
         "[semaphore wait]")  # fmt: skip


def _drawn_names(win) -> set[str]:
    canvas = win.flame.canvas
    p, view = canvas.profile, canvas.boxes()
    if p is None or view is None:
        return set()
    return {p.frames[int(p.frame[n])].function for n in view.node.tolist() if n > 0}


def test_async_task_stacks_in_the_flame_graph(qapp, tmp_path, monkeypatch) -> None:
    asked: list[str] = []
    # the one stand-in: the modal consent dialog answers Yes (and records that it was asked)
    monkeypatch.setattr(
        CapturePanel, "ask_consent", lambda self, plugin, target, text="": asked.append(plugin.name) or True
    )
    art = drive.artefact_dir(tmp_path)
    with run_asyncsvc("--hold-ms", "50") as proc:
        win = drive.new_window(tmp_path / "settings.ini")
        try:
            drive.pick_pid(win, proc.pid)
            drive.tick(win, ["agent"])
            drive.click_start(win, timeout=60)
            assert asked == ["agent"], "the agent starts only after the consent question"
            drive.wait_until(lambda: any(k.startswith("agent:") for k in drive.profile_keys(win))
                             or drive.GDB_BROKEN in drive.banner_text(win), 60, "the agent's task stacks", win=win)  # fmt: skip
            drive.skip_if_injection_impossible(win)
            key = drive.show_profile(win, lambda k: k.startswith("agent:") and k.endswith(":wall"), timeout=60)
            drive.wait_until(lambda: drive.flame_has_boxes(win), 30, f"flame graph boxes of {key}", win=win)
            drive.wait_until(lambda: set(CHAIN) <= _drawn_names(win), 30,
                             f"the handler's coroutine chain drawn (drawn: {sorted(_drawn_names(win))})", win=win)  # fmt: skip
            drive.screenshot(win, art, "async-task-stacks")
            win.tabs.setCurrentWidget(win.top)

            def pool_first() -> bool:
                win._update_top()
                s = win.top.summary
                return s is not None and bool(s.groups) and s.groups[0].kind == "pool"

            drive.wait_until(pool_first, 20, "the pool first in Waiting on", win=win)
            tree = win.top.waits
            labels = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
            assert labels[0] == "pool / connection", labels
            assert tree.topLevelItem(0).child(0).text(0) == "ConnectionPool.connection"
            drive.screenshot(win, art, "async-waiting-on")
            drive.click_stop(win, timeout=30)
        finally:
            drive.close_window(win)

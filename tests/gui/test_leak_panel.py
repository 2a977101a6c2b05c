"""The leak panel shows the engine's verdicts: suspects (with projection), the candidates
judged bounded and why; double-clicking a suspect shows its filling stack in the flame graph."""

import numpy as np

from workbench.model import INUSE_SPACE, Frame, FrameTable, ProfileBatch, Runtime, stackset_from_lists
from workbench.model.findings import Finding


def _go(fn: str, line: int = 1) -> Frame:
    return Frame(fn, "main.go", line, runtime=Runtime.GO)


def test_engine_verdicts_from_live_heap_snapshots_and_stack_link(window, qtbot) -> None:
    # a live Go heap: Hub.register grows every snapshot, loadConfig stays put
    for i, t in enumerate(np.arange(0.0, 60.0, 3.0)):
        p = window.session
        table = FrameTable()
        stacks = [
            [table.intern(_go("main.main")), table.intern(_go("main.(*Hub).register", 42))],
            [table.intern(_go("main.main")), table.intern(_go("main.loadConfig", 7))],
        ]
        ss = stackset_from_lists(table, stacks, [[2e5 * (i + 1)], [5e5]])
        p.put(ProfileBatch("pprof:http://x:heap", (INUSE_SPACE,), ss, 1e9 + t, 1e9 + t, source="pprof", replace=True))
    window._leak_judged = 0.0
    window.refresh()
    qtbot.waitUntil(lambda: window.leaks.table.rowCount() == 1, timeout=10_000)
    assert window.leaks.table.item(0, 1).text() == "main.(*Hub).register"
    assert window.leaks.table.item(0, 6).text()  # projected size in 1 h
    assert window.leaks.checked.rowCount() == 1
    assert window.leaks.checked.item(0, 1).text() == "main.loadConfig"
    assert (
        "plateau" in window.leaks.checked.item(0, 3).text() or "no sustained" in window.leaks.checked.item(0, 3).text()
    )
    window.tabs.setCurrentWidget(window.leaks)
    window.leaks.table.cellDoubleClicked.emit(0, 1)
    assert window.tabs.currentWidget() is window.flame
    assert window.profile_combo.currentText() == "pprof:http://x:heap"
    assert window.flame.focus_edit.text() == r"main\.\(\*Hub\)\.register"


def test_suspect_without_stack_explains_in_banner(window) -> None:
    f = Finding("map", "SessionStore._sessions", "app.STORE._sessions", 60.0, "items", 0.9, "grows")
    window.leaks.set_verdicts([f], [])
    window.leaks.table.cellDoubleClicked.emit(0, 1)
    assert window.banner.isVisible()
    assert "tracemalloc" in window.banner.text()

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
        p.put(
            ProfileBatch(
                "pprof:http://x:heap", (INUSE_SPACE,), ss, 1e9 + t, 1e9 + t, source="pprof", replace=True, runtime="go"
            )
        )
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


def test_numbers_rounded_and_the_stack_shown(qtbot, tmp_path) -> None:
    import os
    from pathlib import Path

    from workbench.ui.leak_panel import LeakPanel

    panel = LeakPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    waits = Finding(
        "pool", "pool db", "database/sql", 19932.02518138193, "waits", 0.8734, "in use pinned at max 3",
        projected_1h=1195921.5, sparkline=[1, 5, 9, 14],
    )  # fmt: skip
    grows = Finding(
        "map", "Hub.clients", "hub.go:40", 1.2 * 2**20 + 17.5, "bytes", 0.95, "grows linearly",
        projected_1h=72.3 * 2**20, stack=["main.main", "main.serve", "main.(*Hub).register"],
    )  # fmt: skip
    panel.set_verdicts([waits, grows], [])
    panel.show()
    qtbot.waitExposed(panel)
    row = [panel.table.item(0, c).text() for c in range(panel.table.columnCount())]
    assert row[3] == "+19,932 waits/min" and row[4] == "87%" and row[6] == "1,195,922 waits"
    assert panel.table.item(1, 3).text() == "+1.2 MiB/min"
    assert panel.table.item(1, 6).text() == "72 MiB"
    assert "no filling stack" in panel.details.toPlainText()  # the first suspect is selected
    panel.table.selectRow(1)
    text = panel.details.toPlainText()
    assert "Hub.clients (map) grows +1.2 MiB/min, 95% sure" in text
    lines = text.splitlines()
    at = lines.index("  at main.(*Hub).register")
    assert lines[at + 1 : at + 3] == ["  from main.serve", "  from main.main"]
    out = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    assert panel.grab().save(str(out / "leak-panel.png"))

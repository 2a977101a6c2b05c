"""Cyclic garbage collection happens on the GUI thread only (workbench.ui.gui_gc)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject


class _Cycle:
    def __init__(self) -> None:
        self.me = self
        self.qt = QObject()  # a Qt wrapper freed with the cycle: the deadlock's ingredient


def test_worker_threads_never_run_the_cyclic_collector(window, qtbot) -> None:
    assert not gc.isenabled(), "the window turns automatic collection off"
    refs: list[weakref.ref[_Cycle]] = []

    def worker() -> None:
        for _ in range(2000):  # enough allocations to have filled generation 0 many times
            refs.append(weakref.ref(_Cycle()))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert any(r() is not None for r in refs), "no collection ran in the worker thread"
    qtbot.waitUntil(lambda: all(r() is None for r in refs), timeout=10_000)  # the GUI timer's

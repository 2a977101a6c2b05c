"""Cyclic garbage collection on the GUI thread only.

Python's cyclic collector runs in whichever thread happens to allocate when a generation
fills up: often a capture worker. If it frees a Qt wrapper there, PySide disconnects its
signals under Qt's connection mutex and then waits for the GIL, while the GUI thread holds
the GIL and waits for that mutex (seen live: a window attached to a fleet hung in
``setVisible`` -> ``QObject::connectImpl``, a pprof worker in ``gc_collect_main`` ->
``QObject::disconnect``). pyqtgraph's GarbageCollector turns automatic collection off and
collects on a GUI-thread timer instead; reference counting still frees everything acyclic
at once, so memory stays bounded.
"""

from __future__ import annotations

from pyqtgraph.util.garbage_collector import GarbageCollector

_collector: GarbageCollector | None = None


def collect_on_gui_thread(interval_s: float = 1.0) -> GarbageCollector:
    """Start (once per process, from the GUI thread) the timer that does all cyclic collection."""
    global _collector
    if _collector is None:
        _collector = GarbageCollector(interval=interval_s)
    return _collector

"""Jobs for the GUI: run work off the GUI thread and get its result back on it.

``JobRunner.submit(purpose, fn, on_done)`` is the one way widgets run work in the
background (file I/O, cuts of big profiles, capture start/stop, transforms). A purpose
listed as latest-only drops the results of older jobs of that purpose (hotspot's
JobTracker); ``inline=True`` runs small work at once, on the caller's thread, through the
same result path, so callers do not write the two paths twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..capture.worker import Job, LatestOnly
from ..errors import WorkbenchError


class JobRelay(QObject):
    """``deliver`` runs on the worker thread; ``done`` fires on the GUI thread (queued)."""

    done = Signal(object)

    def deliver(self, job: Job[Any]) -> None:
        # the receiving widget may have been closed meanwhile: the result has nowhere to go
        with contextlib.suppress(RuntimeError):
            self.done.emit(job)


class JobRunner(QObject):
    """Runs jobs and calls ``on_done(result)`` on the GUI thread; errors go to ``error``.

    ``busyChanged(names)`` tells a status bar which purposes are in flight.
    """

    error = Signal(object)
    busyChanged = Signal(object)  # sorted list of the purposes in flight

    def __init__(self, latest_only: Iterable[str] = (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.latest_only = frozenset(latest_only)
        self._latest = LatestOnly()
        self._relay = JobRelay()
        self._relay.done.connect(self._on_job)
        self._pending: dict[int, tuple[Job[Any], str, Callable[[Any], object]]] = {}

    def submit(
        self, purpose: str, fn: Callable[[Job[Any]], Any], on_done: Callable[[Any], object], *, inline: bool = False
    ) -> Job[Any]:
        job: Job[Any] = Job(fn, name=purpose)
        if inline:
            # small work: at once, but a newer inline result still supersedes an older job's
            self._latest.submit_inline(purpose, job)
            try:
                result = fn(job)
            except WorkbenchError as exc:
                self.error.emit(exc)
                return job
            self._deliver(on_done, result)
            return job
        self._pending[job.id] = (job, purpose, on_done)
        job.on_done(self._relay.deliver)
        self._latest.submit(purpose, job)
        self.busyChanged.emit(self.busy())
        return job

    def busy(self) -> list[str]:
        return sorted({purpose for _j, purpose, _d in self._pending.values()})

    def cancel_all(self) -> None:
        """Cancel every pending job: its result, when it comes, is dropped."""
        for job, _p, _d in self._pending.values():
            job.cancel()
        self._pending.clear()
        self.busyChanged.emit(self.busy())

    def _on_job(self, job: Job[Any]) -> None:
        entry = self._pending.pop(job.id, None)
        self.busyChanged.emit(self.busy())
        if entry is None or job.cancelled:
            return  # cancelled
        _job, purpose, on_done = entry
        if purpose in self.latest_only and not self._latest.is_current(purpose, job):
            return  # superseded by a newer request of the same kind
        if job.error is not None:
            err = job.error
            self.error.emit(err if isinstance(err, WorkbenchError) else WorkbenchError(str(err), "see the log"))
            return
        self._deliver(on_done, job.result)

    def _deliver(self, on_done: Callable[[Any], object], result: Any) -> None:
        """A failing result handler is a banner, never a widget left waiting ("starting…")."""
        try:
            on_done(result)
        except WorkbenchError as exc:
            self.error.emit(exc)
        except Exception as exc:
            self.error.emit(WorkbenchError(f"internal error: {type(exc).__name__}: {exc}", "report a bug with the log"))
            raise

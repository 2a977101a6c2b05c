"""Hand finished ``workbench.capture.Job``s from worker threads to the GUI thread."""

from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..capture.worker import Job


class JobRelay(QObject):
    """``deliver`` runs on the worker thread; ``done`` fires on the GUI thread (queued)."""

    done = Signal(object)

    def deliver(self, job: Job[Any]) -> None:
        # the receiving widget may have been closed meanwhile: the result has nowhere to go
        with contextlib.suppress(RuntimeError):
            self.done.emit(job)

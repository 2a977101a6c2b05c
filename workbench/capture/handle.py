"""``HandleBase``: the one shape of a running capture (lock, status, events, worker jobs).

Every built-in handle subclasses it, so each answers ``status()``, ``join()``, ``stop()``
and ``run_action()`` the same way: the worker threads are ``Job``s (cancel flag, done
event), the status is a ``CaptureStatus`` updated under one lock and handed out as a copy,
and timeline markers are ``EventBatch``es labelled with ``Target.label()``.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import PluginError, WorkbenchError
from ..model.session import Batch, EventBatch, EventKind
from .api import CaptureStatus, Sink, Target
from .worker import Job

STOP_TIMEOUT_S = 10.0  # how long ``stop`` waits for the workers by default


class HandleBase:
    """Defaults for a ``CaptureHandle``; a subclass starts its workers with ``spawn``."""

    stop_timeout_s: float = STOP_TIMEOUT_S

    def __init__(self, target: Target, sink: Sink, *, name: str, message: str = "starting") -> None:
        self.target = target
        self.sink = sink
        self.name = name  # the source's name: worker thread names, messages
        self._lock = threading.Lock()
        self._status = CaptureStatus(running=True, started=time.time(), message=message)
        self._jobs: list[Job[None]] = []

    # ------------------------------------------------------------ workers
    def make_job(self, fn: Callable[[Job[None]], None], what: str = "") -> Job[None]:
        """A worker job of this capture, not started yet (``what`` names its thread)."""
        job: Job[None] = Job(fn, name=f"{self.name}-{what}" if what else self.name)
        with self._lock:
            self._jobs.append(job)
        return job

    def spawn(self, fn: Callable[[Job[None]], None], what: str = "") -> Job[None]:
        """Start a worker job of this capture."""
        return self.make_job(fn, what).start()

    def jobs(self) -> list[Job[None]]:
        with self._lock:
            return list(self._jobs)

    def cancel(self) -> None:
        for job in self.jobs():
            job.cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every worker has ended (True), or ``timeout`` seconds (False)."""
        end = None if timeout is None else time.monotonic() + timeout
        for job in self.jobs():
            left = None if end is None else max(0.0, end - time.monotonic())
            if not job.wait(left):
                return False
        return True

    def stop(self) -> None:
        """Cancel the workers and wait for them to flush what they captured."""
        self.cancel()
        self.join(self.stop_timeout_s)

    # ------------------------------------------------------------ status
    def status(self) -> CaptureStatus:
        with self._lock:
            self._refresh_status(self._status)
            return self._status.copy()

    def _refresh_status(self, st: CaptureStatus) -> None:
        """Fill derived fields just before a copy is handed out (called under the lock)."""

    def update_status(self, **fields: Any) -> None:
        """Set ``CaptureStatus`` fields (``message=...``, ``running=False``) under the lock."""
        with self._lock:
            for name, value in fields.items():
                setattr(self._status, name, value)

    def set_error(self, err: WorkbenchError, *, first: bool = True) -> None:
        """Record an error as the status's error and message (``first``: keep an earlier error)."""
        with self._lock:
            if self._status.error is None or not first:
                self._status.error = err
            self._status.message = str(err)

    def put(self, batch: Batch, samples: int = 0) -> None:
        """Hand a batch to the sink and count it (``samples``: samples or stacks it holds)."""
        self.sink.put(batch)
        with self._lock:
            self._status.batches += 1
            self._status.samples += samples

    def event(self, kind: EventKind, text: str, t: float | None = None) -> None:
        """A timeline marker for this capture's target; a failing sink never ends the capture."""
        with contextlib.suppress(Exception):
            self.sink.put(EventBatch(time.time() if t is None else t, kind, text, self.target.label()))

    # ------------------------------------------------------------ actions
    def run_action(self, name: str) -> None:
        raise PluginError(
            f"{self.name}: this capture takes no actions (asked for {name!r})", "pick a source that lists it"
        )

"""The one worker pattern: a job id, a cancel flag, a thread, results handed off whole.

Used for capture loops and for heavy analysis (open a file, cut a window). A consumer
keeps the id of the newest job it asked for and drops results of older ones, so a
slow stale result never overwrites a fresh one (hotspot's JobTracker).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_ids = itertools.count(1)


class Cancelled(Exception):
    """Raised by ``check()`` inside a job that was cancelled."""


class Job[T]:
    def __init__(self, fn: Callable[[Job[T]], T], name: str = "job") -> None:
        self.id = next(_ids)
        self.name = name
        self._fn = fn
        self._cancel = threading.Event()
        self._done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"wb-{name}-{self.id}", daemon=True)
        self._callbacks: list[Callable[[Job[T]], None]] = []

    def on_done(self, cb: Callable[[Job[T]], None]) -> None:
        self._callbacks.append(cb)

    def start(self) -> Job[T]:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self._fn(self)
        except Cancelled:
            pass
        except BaseException as exc:  # handed to the consumer, which shows it
            self.error = exc
        finally:
            self._done.set()
            for cb in self._callbacks:
                cb(self)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def sleep(self, seconds: float) -> bool:
        """Sleep unless cancelled; True if cancelled meanwhile."""
        return self._cancel.wait(seconds)

    @property
    def done(self) -> bool:
        return self._done.is_set()


class LatestOnly:
    """Tracks the newest job id per purpose; ``is_current`` drops stale results."""

    def __init__(self) -> None:
        self._latest: dict[str, int] = {}
        self._lock = threading.Lock()

    def submit(self, purpose: str, job: Job[T]) -> Job[T]:
        with self._lock:
            self._latest[purpose] = job.id
        return job.start()

    def submit_inline(self, purpose: str, job: Job[T]) -> None:
        """Record a job run inline by its caller as the newest of its purpose (not started)."""
        with self._lock:
            self._latest[purpose] = job.id

    def is_current(self, purpose: str, job: Job[T]) -> bool:
        with self._lock:
            return self._latest.get(purpose) == job.id

"""Go's one CPU profiler per service, shared by the CPU loops of this process: the newest wins.

A service serves one ``/debug/pprof/profile`` at a time. A live capture fetches CPU profiles
back to back, so a second CPU capture of the same URL (a trigger's ``-> cpu 5s``, a second
window on the same service) would never get a turn. Every CPU loop takes a ticket for its
URL; the newest ticket has the profiler: taking it interrupts the older loops' request in
flight (their CPU requests run on a client of their own, so nothing else is cut), and older
loops wait until it is given back. The short, time-specific capture is the one the user asked
for last; the continuous one loses a few seconds and then resumes.
"""

from __future__ import annotations

import itertools
import threading

from .client import HttpClient

_ids = itertools.count(1)
_lock = threading.Lock()
_tickets: dict[str, list[Ticket]] = {}  # URL -> its CPU loops, oldest first (bounded by live loops)


class Ticket:
    def __init__(self, url: str, client: HttpClient) -> None:
        self.url = url
        self.client = client
        self.id = next(_ids)
        self.interrupted = False  # a newer loop cut this loop's request: not the service's fault

    def newer_active(self) -> bool:
        with _lock:
            return any(t.id > self.id for t in _tickets.get(self.url, ()))

    def older_active(self) -> bool:
        with _lock:
            return any(t.id < self.id for t in _tickets.get(self.url, ()))

    def took_interrupt(self) -> bool:
        """True once after a newer loop interrupted this one's request."""
        with _lock:
            was, self.interrupted = self.interrupted, False
        return was

    def leave(self) -> None:
        with _lock:
            loops = _tickets.get(self.url, [])
            if self in loops:
                loops.remove(self)
            if not loops:
                _tickets.pop(self.url, None)


def take(url: str, client: HttpClient) -> Ticket:
    """A ticket for ``url``'s profiler; older loops' requests in flight are interrupted."""
    ticket = Ticket(url, client)
    with _lock:
        older = list(_tickets.get(url, ()))
        _tickets.setdefault(url, []).append(ticket)
        for t in older:
            t.interrupted = True
    for t in older:
        t.client.interrupt()
    return ticket

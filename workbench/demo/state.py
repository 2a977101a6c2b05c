"""The demo's stateful parts: each one a pattern the leak heuristics should judge.

``SessionStore._sessions`` and ``AuditLog._buffer`` grow without bound (real leaks,
slowly, so an hour-long demo stays small); ``PriceCache`` is a bounded LRU that
plateaus and must *not* be flagged; ``ConnectionPool`` is a fixed-size sqlite pool.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager


class SessionStore:
    """Sessions are created per login and never expired: the leak the demo is known for."""

    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, object]] = {}
        self._lock = threading.Lock()
        self._next = 0

    def create(self, user: str) -> str:
        with self._lock:
            self._next += 1
            sid = f"s{self._next:08d}"
            self._sessions[sid] = {"user": user, "created": time.time(), "cart": [user] * 8}
            return sid

    def __len__(self) -> int:
        return len(self._sessions)


class AuditLog:
    """Appends every request to an in-memory buffer that is never flushed."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lock = threading.Lock()

    def record(self, line: str) -> None:
        with self._lock:
            self._buffer += line.encode() + b"\n"

    def __len__(self) -> int:
        return len(self._buffer)


class PriceCache:
    """A bounded LRU: fills to ``capacity`` and then stays flat."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._data: OrderedDict[int, float] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: int, compute: object = None) -> float:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = price_of(key)
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._data)


def price_of(item: int) -> float:
    total = 0.0
    for i in range(1, 2000):
        total += (item * i) % 97 / i
    return round(total, 2)


class ConnectionPool:
    """A fixed pool of sqlite connections to one shared in-memory database."""

    def __init__(self, size: int = 3, name: str = "demo") -> None:
        self.size = size
        self._uri = f"file:wb-{name}-{id(self)}?mode=memory&cache=shared"
        self._keeper = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
        self._keeper.execute("create table orders (id integer primary key, item integer, qty integer)")
        self._keeper.executemany(
            "insert into orders (item, qty) values (?, ?)", [(i % 50, i % 7 + 1) for i in range(2000)]
        )
        self._keeper.commit()
        self._idle: queue.Queue[sqlite3.Connection] = queue.Queue()
        for _ in range(size):
            self._idle.put(sqlite3.connect(self._uri, uri=True, check_same_thread=False))
        self.wait_count = 0
        self.in_use = 0
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                self.wait_count += 1
            conn = self._idle.get(timeout=10)
        with self._lock:
            self.in_use += 1
        try:
            yield conn
        finally:
            with self._lock:
                self.in_use -= 1
            self._idle.put(conn)

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()
        self._keeper.close()

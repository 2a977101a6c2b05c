"""A Python service with labelled leaks and decoys, for the leak-engine scenario suite.

Leaks: ``SessionStore._sessions`` (unbounded dict cache), ``WebSocketHub.clients``
(never cleaned on disconnect), ``Broadcaster.buffer`` (bytearray that only grows),
``Executor.executions`` (keeps failed entries). Decoys: ``LRUCache._data`` (max size),
``RingLog.entries`` (deque with maxlen), ``Batcher.pending`` (flushed every N),
``WARMUP_TABLE`` (filled once at start), ``ScratchMap.items`` (grows, then cleared).

Run: ``python leaksvc.py [--rate R]``; prints ``ready <pid>`` and runs until killed.
"""

import argparse
import collections
import os
import sys
import threading
import time


class SessionStore:
    def __init__(self):
        self._sessions = {}

    def login(self, i):
        self._sessions[f"s{i}"] = {"user": i, "token": "x" * 64}


class WebSocketHub:
    def __init__(self):
        self.clients = {}

    def connect(self, i):
        self.clients[i] = object()

    def disconnect(self, i):
        pass  # the bug: the client is never removed


class Broadcaster:
    def __init__(self):
        self.buffer = bytearray()

    def publish(self, msg):
        self.buffer += msg


class Executor:
    def __init__(self):
        self.executions = {}

    def run(self, i):
        self.executions[i] = {"id": i, "state": "running"}
        if i % 3:
            del self.executions[i]  # success path cleans up; failures stay


class LRUCache:
    def __init__(self, maxsize):
        self.maxsize = maxsize
        self._data = collections.OrderedDict()

    def put(self, k, v):
        self._data[k] = v
        self._data.move_to_end(k)
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)


class RingLog:
    def __init__(self):
        self.entries = collections.deque(maxlen=200)

    def log(self, line):
        self.entries.append(line)


class Batcher:
    def __init__(self, every):
        self.every = every
        self.pending = []

    def add(self, item):
        self.pending.append(item)
        if len(self.pending) >= self.every:
            self.pending.clear()


class ScratchMap:
    def __init__(self):
        self.items = {}

    def fill(self, i):
        self.items[i] = i
        if len(self.items) >= 300:
            self.items.clear()


WARMUP_TABLE = [str(i) * 4 for i in range(5000)]

STORE = SessionStore()
HUB = WebSocketHub()
BROADCASTER = Broadcaster()
EXECUTOR = Executor()
LRU = LRUCache(250)
RING = RingLog()
BATCHER = Batcher(120)
SCRATCH = ScratchMap()


def load(rate: float, stop: threading.Event) -> None:
    i = 0
    delay = 0.02 / rate
    while not stop.is_set():
        STORE.login(i)
        HUB.connect(i)
        HUB.disconnect(i)
        BROADCASTER.publish(b"m" * 64)
        EXECUTOR.run(i)
        LRU.put(i, i)
        RING.log(f"line {i}")
        BATCHER.add(i)
        SCRATCH.fill(i)
        i += 1
        time.sleep(delay)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1.0)
    args = ap.parse_args()
    stop = threading.Event()
    t = threading.Thread(target=load, args=(args.rate, stop), name="load", daemon=True)
    t.start()
    print(f"ready {os.getpid()}", flush=True)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())

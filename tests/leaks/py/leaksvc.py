"""A Python service with labelled leaks and decoys, for the leak-engine scenario suite.

Leaks: ``SessionStore._sessions`` (unbounded dict cache), ``WebSocketHub.clients``
(never cleaned on disconnect), ``Broadcaster.buffer`` (bytearray that only grows),
``Executor.executions`` (keeps failed entries). Decoys: ``LRUCache._data`` (max size),
``RingLog.entries`` (deque with maxlen), ``Batcher.pending`` (flushed every N),
``WARMUP_TABLE`` (filled once at start), ``ScratchMap.items`` (grows, then cleared), and
decoys that fill slowly while watched: ``SlowLRU._data`` (reaches its cap ~32 s after
start), ``TTLCache._entries`` (entries expire after 20 s), ``MinuteMap.items`` (cleared
every minute, the first time 30 s after start), ``Backlog.queue`` (grows and shrinks,
a triangle wave with a 20 s period).

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

    def touch(self, i):
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


class SlowLRU(LRUCache):
    pass


class TTLCache:
    def __init__(self, ttl_s):
        self.ttl_s = ttl_s
        self._entries = collections.OrderedDict()

    def set(self, k, now):
        self._entries[k] = (now, f"value {k}")
        while self._entries and now - next(iter(self._entries.values()))[0] > self.ttl_s:
            self._entries.popitem(last=False)


class MinuteMap:
    def __init__(self):
        self.items = {}

    def record(self, i, elapsed):
        self.items[i] = f"event {i}"
        if elapsed >= 30 and int((elapsed - 30) // 60) >= len(MINUTE_CLEARS):
            MINUTE_CLEARS.append(elapsed)
            self.items.clear()


MINUTE_CLEARS = []


class Backlog:
    def __init__(self):
        self.queue = collections.deque()

    def push(self, elapsed):
        phase = elapsed % 20.0  # up for 10 s, down for 10 s
        target = int(40 * (phase if phase < 10 else 20 - phase))
        while len(self.queue) < target:
            self.queue.append(f"job {len(self.queue)}")
        while len(self.queue) > target:
            self.queue.popleft()


WARMUP_TABLE = [str(i) * 4 for i in range(5000)]

STORE = SessionStore()
HUB = WebSocketHub()
BROADCASTER = Broadcaster()
EXECUTOR = Executor()
LRU = LRUCache(250)
RING = RingLog()
BATCHER = Batcher(120)
SCRATCH = ScratchMap()
SLOW_LRU = SlowLRU(400)  # one put every 4th tick (12.5/s): full ~32 s after start
TTL = TTLCache(20.0)
MINUTE = MinuteMap()
BACKLOG = Backlog()


def load(rate: float, stop: threading.Event) -> None:
    i = 0
    delay = 0.02 / rate
    t0 = time.monotonic()
    while not stop.is_set():
        elapsed = (time.monotonic() - t0) * rate
        STORE.touch(i)
        HUB.connect(i)
        HUB.disconnect(i)
        BROADCASTER.publish(b"m" * 64)
        EXECUTOR.run(i)
        LRU.put(i, i)
        RING.log(f"line {i}")
        BATCHER.add(i)
        SCRATCH.fill(i)
        if i % 4 == 0:
            SLOW_LRU.put(i, f"v{i}")
        if i % 2 == 0:
            TTL.set(i, elapsed)
        MINUTE.record(i, elapsed)
        BACKLOG.push(elapsed)
        i += 1
        # steady traffic: iteration i starts at t0 + i * delay whatever the machine's load, so
        # a TTL cache's size (rate x TTL) stays level instead of following the load
        time.sleep(max(0.0, t0 + i * delay - time.monotonic()))


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

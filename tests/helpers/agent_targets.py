"""Child-process targets for the runtime-agent tests: real services, started and stopped by PID.

``SERVICE`` (stdlib only, runs on any CPython 3.9+): a ``SessionStore`` whose
``_sessions`` dict grows without bound, an ``LRUCache`` whose ``_data`` plateaus at its
max size, and gc churn from reference cycles. Every 0.1 s it prints one JSON status
line (``gc.callbacks`` length, tracemalloc on/off, thread names, a tick counter), which the tests
read to check that the target runs on, unchanged, after detach.

``POOL_SERVICE``: the same plus a SQLAlchemy engine on a sqlite file with a QueuePool
(pool_size 3, max_overflow 2) and 4 worker threads holding connections.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SERVICE = r"""
import gc, json, os, sys, threading, time, tracemalloc
from collections import OrderedDict

class SessionStore:
    registry = {k: k for k in range(40)}  # a class attribute

    def __init__(self):
        self._sessions = {}
    def login(self, i):
        self._sessions["s%d" % i] = i

class LRUCache:
    def __init__(self, maxsize):
        self.maxsize = maxsize
        self._data = OrderedDict()
    def put(self, k, v):
        self._data[k] = v
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)

CACHE = [0] * 50  # a module global

class Node:
    def __init__(self):
        self.me = self

def serve():
    # held only by this frame: found through the heap scan, not module globals
    store = SessionStore()
    lru = LRUCache(100)
    i = 0
    while True:
        for _ in range(20):
            store.login(i)
            lru.put(i, i)
            Node()
            i += 1
        time.sleep(0.01)

print(json.dumps({"ready": os.getpid(), "python": list(sys.version_info[:2])}), flush=True)
EXTRA = os.environ.get("WB_EXTRA", "")
if EXTRA:
    exec(compile(open(EXTRA).read(), EXTRA, "exec"))

threading.Thread(target=serve, name="serve", daemon=True).start()
tick = 0
while True:
    tick += 1
    print(json.dumps({"tick": tick, "callbacks": len(gc.callbacks), "tracing": tracemalloc.is_tracing(),
                      "threads": sorted(t.name for t in threading.enumerate())}), flush=True)
    time.sleep(0.1)
"""

POOL_EXTRA = r"""
import tempfile
from sqlalchemy import create_engine, text
DB = os.path.join(tempfile.mkdtemp(), "app.db")
engine = create_engine("sqlite:///" + DB, pool_size=3, max_overflow=2, pool_timeout=30)

def worker(n):
    while True:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
            time.sleep(0.05 * (n + 1))
        time.sleep(0.01)

for n in range(4):
    threading.Thread(target=worker, args=(n,), name="db%d" % n, daemon=True).start()
"""


REDIS_EXTRA = r"""
import redis
rpool = redis.ConnectionPool(host="127.0.0.1", port=int(os.environ["WB_REDIS_PORT"]), db=0, max_connections=6)
client = redis.Redis(connection_pool=rpool)

def rworker(n):
    while True:
        conn = rpool.get_connection()  # held for a while: in use, as a slow request would
        try:
            conn.send_command("PING")
            conn.read_response()
            time.sleep(0.05 * (n + 1))
        finally:
            rpool.release(conn)
        client.set("k%d" % n, n)
        time.sleep(0.01)

for n in range(4):
    threading.Thread(target=rworker, args=(n,), name="redis%d" % n, daemon=True).start()
"""


@contextmanager
def redis_server() -> Iterator[int]:
    """A real redis-server on a free loopback port, no persistence; stopped by PID."""
    import shutil
    import socket

    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("redis-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        proc.kill()
        proc.wait(10)


PG_EXTRA = r"""
import asyncio
import asyncpg
from psycopg_pool import ConnectionPool
DSN = os.environ["WB_PG_DSN"]
orders = ConnectionPool(DSN, min_size=2, max_size=4, name="orders", open=True)

def pgworker(n):
    while True:
        with orders.connection() as conn:
            conn.execute("select pg_sleep(%s)", (0.05 * (n + 1),))
        time.sleep(0.01)

for n in range(3):
    threading.Thread(target=pgworker, args=(n,), name="pg%d" % n, daemon=True).start()

async def amain():
    apool = await asyncpg.create_pool(DSN, min_size=2, max_size=5)

    async def task(n):
        while True:
            async with apool.acquire() as conn:
                await conn.execute("select pg_sleep(0.05)")
            await asyncio.sleep(0.01 * n)

    await asyncio.gather(*(task(n) for n in range(3)))

threading.Thread(target=lambda: asyncio.run(amain()), name="asyncpg", daemon=True).start()
"""


@contextmanager
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL (Debian's binaries) on a free loopback port; yields a DSN; stopped by PID.

    Its directory is made here, not under pytest's tmp_path: the postgres user must be able
    to reach it, and pytest's base directory is private to root.
    """
    import glob
    import shutil
    import socket
    import tempfile

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bins:
        raise FileNotFoundError("postgresql")
    bindir = Path(bins[-1])
    tmp = Path(tempfile.mkdtemp(prefix="wb-agent-pg-"))
    data = tmp / "pgdata"
    data.mkdir()
    # postgres refuses to run as root: drop to the postgres user when we are root
    drop = ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--clear-groups"] if os.geteuid() == 0 else []
    if drop:
        shutil.chown(tmp, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
    subprocess.run(
        [*drop, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "wb", "--no-sync"],
        check=True,
        capture_output=True,
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(tmp)]
    args += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
    proc = subprocess.Popen([*drop, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ok = subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True, check=False
            )
            if ok.returncode == 0:
                break
            time.sleep(0.1)
        yield f"postgresql://wb@127.0.0.1:{port}/postgres"
    finally:
        proc.kill()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def python313() -> str | None:
    """pyenv's 3.13, if installed (the tests skip 3.13 otherwise)."""
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        root = os.path.expanduser("~/.pyenv")
    exe = Path(root) / "versions" / "3.13.0" / "bin" / "python3.13"
    return str(exe) if exe.exists() else None


@dataclass
class RunningTarget:
    proc: subprocess.Popen[str]
    lines: deque[dict[str, object]] = field(default_factory=lambda: deque(maxlen=200))
    ready: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "ready" in msg:
                self.ready.set()
            self.lines.append(msg)

    def last_status(self, after_tick: int = 0, timeout: float = 5.0) -> dict[str, object]:
        """The newest status line with a tick above ``after_tick`` (proof the target runs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in reversed(self.lines):
                tick = msg.get("tick")
                if isinstance(tick, int) and tick > after_tick:
                    return msg
            time.sleep(0.05)
        raise AssertionError(f"target {self.pid} printed no status after tick {after_tick}")


@contextmanager
def run_target(
    python: str = sys.executable, extra: str = "", tmp: Path | None = None, env_extra: dict[str, str] | None = None
) -> Iterator[RunningTarget]:
    env = dict(os.environ) | (env_extra or {})
    env.pop("PYTHONPATH", None)
    if extra:
        assert tmp is not None
        path = tmp / "extra.py"
        path.write_text(extra)
        env["WB_EXTRA"] = str(path)
    proc = subprocess.Popen(
        [python, "-u", "-c", SERVICE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    target = RunningTarget(proc)
    threading.Thread(target=target._pump, daemon=True).start()
    try:
        if not target.ready.wait(30):
            raise AssertionError("target did not start")
        yield target
    finally:
        proc.kill()
        proc.wait(10)

"""An asyncio HTTP service (plain asyncio streams) whose handlers queue for a 3-connection pool.

The pool is an ``asyncio.Semaphore`` of 3 "connections" inside ``ConnectionPool``; each
request hashes a little in ``compute_report``, then takes a connection (``async with
pool.connection()``, an async context manager over an async generator) and holds it for
``--hold-ms`` (an ``asyncio.sleep`` standing in for the query). The service drives itself:
``--clients`` client tasks (default 8) send requests back to back over loopback, so at any
moment most handlers wait in ``Semaphore.acquire`` for one of the 3 connections.

    python asyncsvc.py [--clients 8] [--pool 3] [--hold-ms 50] [--work 200]

Prints ``listening on http://ADDR`` once its clients are running. Used by the runtime
agent's async-stack tests (tests/integration/test_agent_async.py, the async journey).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ConnectionPool:
    """A fixed pool: callers queue in ``Semaphore.acquire`` until a connection is free."""

    def __init__(self, size: int, hold_s: float) -> None:
        self._sem = asyncio.Semaphore(size)
        self._free = list(range(size))
        self.hold_s = hold_s

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[int]:
        async with self._sem:
            conn = self._free.pop()
            try:
                yield conn
            finally:
                self._free.append(conn)

    async def query(self, conn: int) -> int:
        await asyncio.sleep(self.hold_s)  # the database's time
        return conn


def compute_report(work: int) -> str:
    h = hashlib.sha256()
    for i in range(work):
        h.update(str(i).encode())
    return h.hexdigest()


async def serve_report(pool: ConnectionPool, work: int) -> bytes:
    digest = compute_report(work)
    async with pool.connection() as conn:
        await pool.query(conn)
    return f"report {digest[:16]} via connection {conn}\n".encode()


async def handle_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pool: ConnectionPool,
                         work: int) -> None:  # fmt: skip
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            body = await serve_report(pool, work)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def client(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while True:
        writer.write(b"GET /report HTTP/1.1\r\nHost: svc\r\n\r\n")
        await writer.drain()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--pool", type=int, default=3)
    ap.add_argument("--hold-ms", type=float, default=50.0)
    ap.add_argument("--work", type=int, default=200)
    args = ap.parse_args()
    pool = ConnectionPool(args.pool, args.hold_ms / 1000.0)
    server = await asyncio.start_server(lambda r, w: handle_request(r, w, pool, args.work), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clients = [asyncio.create_task(client(port), name=f"client-{i}") for i in range(args.clients)]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    async with server:
        await asyncio.gather(server.serve_forever(), *clients)


if __name__ == "__main__":
    asyncio.run(main())

"""A GIL-bound Python HTTP service whose handlers hash in ``compute_report`` and queue for a
3-connection pool (a ``queue.Queue`` inside ``ConnectionPool``), driven by its own 8 clients.

Used by the wall/CPU honesty tests and benchmarks/bench_python_modes.py: the handlers'
time splits between CPU (``compute_report``, holding the GIL) and waits (``Queue.get``
for a pooled connection, the connection's ``time.sleep``, socket reads and writes), so a
CPU profile that counts waits as running is visibly wrong.

    python poolsvc.py [--clients 8] [--pool 3] [--hold-ms 20] [--work 300]

Prints ``listening on http://ADDR`` once its clients are running.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ConnectionPool:
    """A fixed pool: callers queue in ``Queue.get`` until a connection is free."""

    def __init__(self, size: int, hold_s: float) -> None:
        self._free: queue.Queue[int] = queue.Queue()
        for i in range(size):
            self._free.put(i)
        self.hold_s = hold_s

    @contextmanager
    def connection(self) -> Iterator[int]:
        conn = self._free.get()
        try:
            yield conn
        finally:
            self._free.put(conn)

    def query(self) -> int:
        with self.connection() as conn:
            time.sleep(self.hold_s)  # the "database" answering
            return conn


def compute_report(rounds: int) -> str:
    """Pure-Python hashing of small blocks: it holds the GIL the whole time."""
    h = b"seed"
    for i in range(rounds):
        h = hashlib.sha256(h + i.to_bytes(4, "little")).digest()
        h = bytes(b ^ 0x5A for b in h)
    return h.hex()


def make_handler(pool: ConnectionPool, work: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            report = compute_report(work)
            conn = pool.query()
            body = f"{conn} {report}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def client_loop(host: str, port: int) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    while True:
        try:
            conn.request("GET", "/report")
            conn.getresponse().read()
        except OSError:
            conn.close()
            time.sleep(0.05)
            conn = http.client.HTTPConnection(host, port, timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--pool", type=int, default=3)
    ap.add_argument("--hold-ms", type=float, default=10.0)
    ap.add_argument("--work", type=int, default=3000)
    args = ap.parse_args()
    pool = ConnectionPool(args.pool, args.hold_ms / 1000.0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(pool, args.work))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    threading.Thread(target=server.serve_forever, name="server", daemon=True).start()
    for i in range(args.clients):
        threading.Thread(target=client_loop, args=(str(host), int(port)), name=f"client-{i}", daemon=True).start()
    print(f"listening on http://{host}:{port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

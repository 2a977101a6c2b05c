"""The demo HTTP service: stdlib ``http.server`` on 127.0.0.1, a random port.

Endpoints: ``/report?n=`` (the CPU hotspot), ``/login`` (fills the session store),
``/price?item=`` (bounded cache), ``/orders?item=`` (sqlite through the pool),
``/stats`` (JSON of the state sizes), ``/health``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from .state import AuditLog, ConnectionPool, PriceCache, SessionStore


def render_report(n: int) -> int:
    """The hotspot: a deliberately slow nested loop, found at the top of the flame graph."""
    acc = 0
    for i in range(n):
        acc += score_row(i)
    return acc


def score_row(i: int) -> int:
    s = 0
    for j in range(200):
        s += (i * j) ^ (j << 3)
    return s % 1009


class DemoApp:
    def __init__(self) -> None:
        self.sessions = SessionStore()
        self.audit = AuditLog()
        self.prices = PriceCache(capacity=256)
        self.pool = ConnectionPool(size=3)
        self.requests = 0
        self._lock = threading.Lock()

    def handle(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, object]]:
        with self._lock:
            self.requests += 1
        self.audit.record(f"GET {path} {sorted(query)}")
        if path == "/report":
            n = min(int(query.get("n", ["300"])[0]), 5000)
            return 200, {"report": render_report(n)}
        if path == "/login":
            return 200, {"session": self.sessions.create(query.get("user", ["guest"])[0])}
        if path == "/price":
            item = int(query.get("item", ["1"])[0]) % 100_000
            return 200, {"price": self.prices.get(item)}
        if path == "/orders":
            item = int(query.get("item", ["1"])[0]) % 50
            with self.pool.connection() as conn:
                rows = conn.execute("select count(*), sum(qty) from orders where item = ?", (item,)).fetchone()
            return 200, {"orders": rows[0], "qty": rows[1]}
        if path == "/stats":
            return 200, self.stats()
        if path == "/health":
            return 200, {"ok": True}
        return 404, {"error": "not found"}

    def stats(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "sessions": len(self.sessions),
            "audit_bytes": len(self.audit),
            "cache_entries": len(self.prices),
            "pool_in_use": self.pool.in_use,
            "pool_wait_count": self.pool.wait_count,
        }


def make_server(app: DemoApp, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the load generator's connections stay open

        def do_GET(self) -> None:
            u = urlparse(self.path)
            try:
                code, body = app.handle(u.path, parse_qs(u.query))
            except (ValueError, TimeoutError) as exc:
                code, body = 400, {"error": str(exc)}
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the demo's stdout carries only its URL line

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server

"""Misbehaving pprof services on 127.0.0.1 (the bad-input matrix and the pprof client tests).

Each route is a handler; the server counts the bytes it managed to send, so a test
can prove a 2 GB answer was never read to the end.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Callable, Iterator

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]

INDEX = (
    "<html><body><table>"
    "<tr><td>1</td><td><a href='goroutine?debug=1'>goroutine</a></td></tr>"
    "<tr><td>2</td><td><a href='heap?debug=1'>heap</a></td></tr>"
    "<tr><td>0</td><td><a href='profile?debug=1'>profile</a></td></tr>"
    "</table></body></html>"
)
LOGIN = "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>login</form></body></html>"


def reply(status: int, body: bytes | str, ctype: str = "text/plain", headers: dict[str, str] | None = None) -> Handler:
    data = body.encode() if isinstance(body, str) else body

    def h(req: http.server.BaseHTTPRequestHandler) -> None:
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        with contextlib.suppress(OSError):  # the client may hang up first: that is the point
            req.wfile.write(data)

    return h


def slow(seconds: float, then: Handler) -> Handler:
    def h(req: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        then(req)

    return h


class Stub:
    """A threaded HTTP server with fixed routes; unknown paths get Go's 404 text."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.hits: list[str] = []
        self.sent_bytes = 0
        stub = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                stub.hits.append(self.path)
                h = stub.routes.get(self.path) or stub.routes.get(self.path.split("?", 1)[0])
                (h or reply(404, "404 page not found\n"))(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def huge(self, total_bytes: int, *, announce: bool = True) -> Handler:
        """A 200 answer of ``total_bytes`` (announced or not), streamed until the client hangs up."""

        def h(req: http.server.BaseHTTPRequestHandler) -> None:
            req.send_response(200)
            req.send_header("Content-Type", "application/octet-stream")
            if announce:
                req.send_header("Content-Length", str(total_bytes))
            req.end_headers()
            chunk = b"\x1f\x8b\x08\x00" + bytes(65532)
            try:
                while self.sent_bytes < total_bytes:
                    req.wfile.write(chunk)
                    self.sent_bytes += len(chunk)
            except OSError:
                pass

        return h

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def serve(routes: dict[str, Handler]) -> Iterator[Stub]:
    s = Stub(routes)
    try:
        yield s
    finally:
        s.close()

"""The demo's own load generator: a few keep-alive clients hitting every endpoint.

Persistent connections on purpose, so process stats show them as a small pool of
ESTABLISHED connections to the service's port.
"""

from __future__ import annotations

import http.client
import random
import threading


class LoadGenerator:
    def __init__(self, host: str, port: int, clients: int = 3, rate_per_client: float = 10.0) -> None:
        self.host, self.port = host, port
        self.clients = clients
        self.interval = 1.0 / rate_per_client
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(i,), name=f"load-generator-{i}", daemon=True)
            for i in range(clients)
        ]
        self.sent = 0
        self.errors = 0

    def start(self) -> LoadGenerator:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2.0)

    def _client(self, idx: int) -> None:
        rng = random.Random(idx)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        paths = ["/report?n=400", "/report?n=400", "/login?user=u{}", "/price?item={}", "/orders?item={}"]
        while not self._stop.wait(self.interval * rng.uniform(0.5, 1.5)):
            path = rng.choice(paths).format(rng.randrange(2000))
            try:
                conn.request("GET", path)
                conn.getresponse().read()
                self.sent += 1
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        conn.close()

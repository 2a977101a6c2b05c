"""``python -m workbench.demo [--port N] [--no-load]``: run the demo service in the foreground.

The first stdout line is ``WORKBENCH_DEMO_URL <url>``; ``launch.start_demo`` waits for
it. The service exits on SIGTERM/SIGINT, and also when its parent goes away, so a
crashed workbench never leaves the demo running.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .load import LoadGenerator
from .service import DemoApp, make_server

URL_PREFIX = "WORKBENCH_DEMO_URL "


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m workbench.demo", description="the workbench's demo service")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    ap.add_argument("--no-load", action="store_true", help="do not start the built-in load generator")
    ap.add_argument("--clients", type=int, default=3, help="load generator keep-alive clients")
    args = ap.parse_args(argv)

    app = DemoApp()
    server = make_server(app, args.port)
    host, port = str(server.server_address[0]), int(server.server_address[1])
    url = f"http://{host}:{port}"
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http-server")
    serve.daemon = True
    serve.start()
    load = LoadGenerator(str(host), int(port), clients=args.clients).start() if not args.no_load else None
    print(f"{URL_PREFIX}{url}", flush=True)
    parent = os.getppid()
    # exit with the parent: ppid changes when the parent dies (we get re-parented)
    while not stop.wait(0.5):
        if os.getppid() != parent:
            break
    if load is not None:
        load.stop()
    server.shutdown()
    server.server_close()
    app.pool.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

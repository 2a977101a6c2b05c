"""``python -m workbench.demo [--port N] [--no-load]``: run the demo service in the foreground.

The first stdout line is ``WORKBENCH_DEMO_URL <url>``; ``launch.start_demo`` waits for
it. The service exits on SIGTERM/SIGINT, and also when its parent goes away, so a
crashed workbench never leaves the demo running.

Its load generator is a process of its own (``--load-for HOST:PORT``, started by the
service): as threads of the service it took a quarter of the samples of the first flame
graph a newcomer sees, beside the CPU hotspot the demo is there to show. It exits with
the service the same way the service exits with the workbench.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
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
    ap.add_argument("--load-for", metavar="HOST:PORT", help=argparse.SUPPRESS)  # the load process
    args = ap.parse_args(argv)
    if args.load_for:
        load_host, _, load_port = str(args.load_for).rpartition(":")
        return run_load(load_host, int(load_port), args.clients)

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
    load = start_load(host, port, args.clients) if not args.no_load else None
    print(f"{URL_PREFIX}{url}", flush=True)
    _wait_for_stop_or_orphaned(stop)
    if load is not None:
        load.terminate()
        try:
            load.wait(5.0)
        except subprocess.TimeoutExpired:
            load.kill()
            load.wait()
    server.shutdown()
    server.server_close()
    app.pool.close()
    return 0


def _wait_for_stop_or_orphaned(stop: threading.Event) -> None:
    parent = os.getppid()
    # exit with the parent: ppid changes when the parent dies (we get re-parented)
    while not stop.wait(0.5):
        if os.getppid() != parent:
            break


def start_load(host: str, port: int, clients: int) -> subprocess.Popen[bytes]:
    """The load generator as a child process of the service (same interpreter or frozen app)."""
    from .launch import demo_command

    return subprocess.Popen(
        [*demo_command(), "--load-for", f"{host}:{port}", "--clients", str(clients)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_load(host: str, port: int, clients: int) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    load = LoadGenerator(host, port, clients=clients).start()
    _wait_for_stop_or_orphaned(stop)
    load.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

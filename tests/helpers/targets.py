"""Small Python target programs for capture tests (py-spy, procstats, memray, agent, record).

Each target is a real child process running the test venv's interpreter. ``run_target``
starts one, waits until it says it is ready (a line on stdout), and always kills and
reaps it on exit, so no test leaves a process behind.

    with run_target(HOT) as proc:
        ... attach to proc.pid ...
"""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

READY = "TARGET_READY"

# One thread spending nearly all its time in ``hot_function``; ``cold_function`` is a
# small fraction, so a profile must show hot_function dominating self time.
HOT = textwrap.dedent(
    """
    import sys

    def hot_function():
        x = 0
        for i in range(50_000):
            x += i * i % 7
        return x

    def cold_function():
        return sum(range(500))

    def main():
        print("TARGET_READY", flush=True)
        while True:
            hot_function()
            cold_function()

    main()
    """
)

# Two named threads, each busy in its own function.
TWO_THREADS = textwrap.dedent(
    """
    import threading

    def alpha_work():
        x = 0
        for i in range(20_000):
            x += i % 3
        return x

    def beta_work():
        x = 0
        for i in range(20_000):
            x ^= i
        return x

    def loop(fn):
        while True:
            fn()

    a = threading.Thread(target=loop, args=(alpha_work,), name="alpha-worker", daemon=True)
    b = threading.Thread(target=loop, args=(beta_work,), name="beta-worker", daemon=True)
    a.start(); b.start()
    print("TARGET_READY", flush=True)
    a.join()
    """
)


def exits_soon(seconds: float) -> str:
    """Busy in ``busy_until_exit`` for ``seconds``, then exits with status 0."""
    return textwrap.dedent(
        f"""
        import time

        def busy_until_exit(deadline):
            x = 0
            while time.monotonic() < deadline:
                x += 1
            return x

        print("TARGET_READY", flush=True)
        busy_until_exit(time.monotonic() + {seconds!r})
        """
    )


def tcp_client(port: int, connections: int = 3) -> str:
    """Opens ``connections`` TCP connections to 127.0.0.1:``port`` and holds them, idle."""
    return textwrap.dedent(
        f"""
        import socket, time
        socks = [socket.create_connection(("127.0.0.1", {port})) for _ in range({connections})]
        print("TARGET_READY", flush=True)
        while True:
            time.sleep(1)
        """
    )


def start_target(source: str, *, ready_timeout: float = 30.0) -> subprocess.Popen[bytes]:
    """Start ``python -c source`` and wait for its READY line (raises if it dies first)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", source],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + ready_timeout
    try:
        while READY.encode() not in buf:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_target(proc)
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"target did not become ready (rc={proc.returncode}): {err[-2000:]}")
            if sel.select(0.1):
                data = os.read(proc.stdout.fileno(), 4096)
                buf += data
    finally:
        sel.close()
    return proc


def stop_target(proc: subprocess.Popen[bytes]) -> None:
    """Kill and reap; closes pipes. Safe to call twice."""
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    for f in (proc.stdout, proc.stderr, proc.stdin):
        if f is not None:
            f.close()


@contextlib.contextmanager
def run_target(source: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_target(source)
    try:
        yield proc
    finally:
        stop_target(proc)


@contextlib.contextmanager
def non_python_process() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not Python (``sleep 60``)."""
    proc = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        stop_target(proc)


def free_pid() -> int:
    """A PID that does not exist right now."""
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid

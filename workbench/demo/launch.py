"""``start_demo() -> DemoHandle``: the demo service as a child process, stopped on ``stop()``.

Used by ``workbench --demo`` (the GUI) and by tests. The child runs in its own session
so a terminal Ctrl+C reaches the workbench only, which then stops it in order; an
``atexit`` hook and the child's own parent watch cover the paths where ``stop()`` is
never called.
"""

from __future__ import annotations

import atexit
import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from ..errors import CaptureError

URL_PREFIX = "WORKBENCH_DEMO_URL "
START_TIMEOUT_S = 20.0


@dataclass
class DemoHandle:
    pid: int
    url: str
    process: subprocess.Popen[bytes] = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the demo and wait for it (SIGKILL if it does not exit in time). Idempotent."""
        with self._lock:
            p = self.process
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            if p.stdout is not None:
                p.stdout.close()
            atexit.unregister(self.stop)


def demo_command() -> list[str]:
    if getattr(sys, "frozen", False):
        # a frozen app has no ``-m``; its entry point accepts this hidden switch
        return [sys.executable, "--run-demo-service"]
    return [sys.executable, "-m", "workbench.demo"]


def start_demo(extra_args: list[str] | None = None, timeout: float = START_TIMEOUT_S) -> DemoHandle:
    """Start the demo service and return once it is serving (its URL is known)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [*demo_command(), *(extra_args or [])],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                break
            if sel.select(min(left, 0.2)):
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
    finally:
        sel.close()
    line = buf.split(b"\n", 1)[0].decode("utf-8", "replace")
    if not line.startswith(URL_PREFIX):
        handle = DemoHandle(proc.pid, "", proc)
        handle.stop()
        raise CaptureError(
            f"the demo service did not start (exit code {proc.returncode}, said {line[:200]!r})",
            "run `python -m workbench.demo` in a terminal to see why",
        )
    handle = DemoHandle(proc.pid, line[len(URL_PREFIX) :].strip(), proc)
    atexit.register(handle.stop)
    return handle

"""The asyncio pool service (tests/py/asyncsvc.py): 8 handlers queueing for 3 connections."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "py" / "asyncsvc.py"


@contextmanager
def run_asyncsvc(*args: str, python: str = sys.executable) -> Iterator[subprocess.Popen[str]]:
    """Start it, wait for its URL line (its clients are running then), always reap it."""
    proc = subprocess.Popen([python, str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"asyncsvc did not start: {line!r}")
        yield proc
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()

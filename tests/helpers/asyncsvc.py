"""The asyncio pool service (tests/py/asyncsvc.py): 8 handlers queueing for 3 connections."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.child import ready_child

SCRIPT = Path(__file__).resolve().parents[1] / "py" / "asyncsvc.py"


@contextmanager
def run_asyncsvc(*args: str, python: str = sys.executable) -> Iterator[subprocess.Popen[str]]:
    """Start it, wait for its URL line (its clients are running then), always reap it."""
    with ready_child([python, str(SCRIPT), *args], "listening on ", "asyncsvc") as proc:
        yield proc

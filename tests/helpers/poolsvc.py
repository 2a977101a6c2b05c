"""The Python pool service (tests/py/poolsvc.py): GIL-bound handlers queueing for 3 connections."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "py" / "poolsvc.py"


@contextmanager
def run_poolsvc(*args: str) -> Iterator[subprocess.Popen[str]]:
    """Start it, wait for its URL line (its 8 clients are running then), always reap it."""
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"poolsvc did not start: {line!r}")
        yield proc
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def share(profile_path: Path, needle: str, under: str = "") -> float:
    """Share of a collapsed profile's total in stacks containing ``needle`` (among those with ``under``)."""
    total = hit = 0.0
    for line in profile_path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if under and under not in stack:
            continue
        total += float(n)
        if needle in stack:
            hit += float(n)
    return hit / total if total else 0.0

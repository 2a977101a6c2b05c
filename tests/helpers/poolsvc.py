"""The Python pool service (tests/py/poolsvc.py): GIL-bound handlers queueing for 3 connections."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.child import ready_child

SCRIPT = Path(__file__).resolve().parents[1] / "py" / "poolsvc.py"


@contextmanager
def run_poolsvc(*args: str) -> Iterator[subprocess.Popen[str]]:
    """Start it, wait for its URL line (its 8 clients are running then), always reap it."""
    with ready_child([sys.executable, str(SCRIPT), *args], "listening on ", "poolsvc") as proc:
        yield proc


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
